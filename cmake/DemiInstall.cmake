# Installation: headers, libraries, a CMake package and pkg-config files (filled in below).
