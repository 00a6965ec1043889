#!/usr/bin/env bash
# install_test.sh BUILD_DIR CONSUMER_SRC WORK_DIR
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

# 1. CMake package: find_package(demi) in a user's project.
cmake -S "$src" -B "$work/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
"$work/cmake-build/consumer_cpp"
"$work/cmake-build/consumer_c"

# 2. pkg-config, one line each.
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
cc -std=c99 -Wall -Werror "$src/consumer.c" -o "$work/pc_c" $(pkg-config --cflags --libs dmtr)
"$work/pc_c"
c++ -Wall -Werror "$src/consumer.cc" -o "$work/pc_cpp" $(pkg-config --cflags --libs demi)
"$work/pc_cpp"
echo "install test: find_package and pkg-config consumers built and ran"
