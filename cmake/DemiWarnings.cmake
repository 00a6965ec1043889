# Warnings as errors on our own code, for g++ 12 and clang 14 alike.
set(DEMI_WARNING_FLAGS -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wcast-align -Wnull-dereference
    -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(DEMI_WERROR)
  list(APPEND DEMI_WARNING_FLAGS -Werror)
endif()
if(DEMI_SANITIZE)
  add_compile_options(-fsanitize=${DEMI_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  # -O1 keeps asserts (a Debug build) and exact reports, and runs the suite several times faster
  # than -O0, which matters for the end-to-end tests that move gigabytes through ASan.
  if(CMAKE_BUILD_TYPE STREQUAL "Debug")
    add_compile_options(-O1)
  endif()
  add_link_options(-fsanitize=${DEMI_SANITIZE})
endif()

# Applies the project's warning set to one target.
function(demi_warnings target)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    return()
  endif()
  set(cxx_only -Wnon-virtual-dtor)
  set(flags ${DEMI_WARNING_FLAGS})
  list(REMOVE_ITEM flags ${cxx_only})
  target_compile_options(${target} PRIVATE ${flags} $<$<COMPILE_LANGUAGE:CXX>:${cxx_only}>)
endfunction()
