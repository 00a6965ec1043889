// demi-config: checks a configuration file, and prints the documented schema.
//   demi-config --check FILE     exit 0 if FILE is valid, else 1 with the key at fault
//   demi-config --markdown       the schema as Markdown (docs/config.md is made from it)
#include <demi/config.h>

#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "--markdown") == 0) {
    std::fputs(demi::Config::schema_markdown().c_str(), stdout);
    return 0;
  }
  if (argc == 3 && std::strcmp(argv[1], "--check") == 0) {
    std::string why;
    auto c = demi::Config::from_file(argv[2], &why);
    if (!c) {
      std::fprintf(stderr, "%s\n", why.c_str());
      return 1;
    }
    std::printf("%s: valid\n", argv[2]);
    return 0;
  }
  std::fprintf(stderr, "usage: demi-config --check FILE | --markdown\n");
  return 2;
}
