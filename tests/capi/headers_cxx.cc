// The dmtr headers compile as C++ and declare C linkage.
#include <dmtr/libos.h>

#include <type_traits>

static_assert(std::is_same_v<dmtr_qtoken_t, uint64_t>);
static_assert(DMTR_SGARRAY_MAXSIZE == 16);

int main() {
  int (*init)(int, char**) = &dmtr_init;
  return init == nullptr;
}
