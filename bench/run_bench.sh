#!/usr/bin/env bash
# demi's benchmarks in one go (called by `./run bench`).
#   bench/run_bench.sh [BUILD_DIR] [--quick | --smoke] [--repeats N] [--only REGEX] [--update-baseline]
#                      [--out-dir DIR] [--no-plots]
# Without BUILD_DIR: configures and builds a Release tree in build-release/ first.
# Default run: every row, 3 repeats, under 10 minutes; --quick: every row, smaller (~1-2 min);
# --smoke: tiny counts, one size per family (< 60 s), for the ctest that checks the harness.
# Writes bench/results/<date>-<commit>.json and .md (and PNG plots); see bench/bench.py.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
build=
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    -*) args+=("$1"); shift ;;
    *)
      if [ -z "$build" ] && [ ${#args[@]} -eq 0 ]; then build=$1; else args+=("$1"); fi
      shift ;;
  esac
done
if [ -z "$build" ]; then
  build=$root/build-release
  [ -f "$build/build.ninja" ] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
  ninja -C "$build" -j "${JOBS:-2}"
fi
for t in demi-echo demi-rawping demi-stream demi-epoll-echo demi-stallprobe; do
  [ -x "$build/bin/$t" ] || { echo "bench: $build/bin/$t is not built" >&2; exit 1; }
done
# Debian's python, where python3-matplotlib is installed (a pyenv or venv python3 on PATH has not).
py=/usr/bin/python3
[ -x "$py" ] || py=python3
exec "$py" "$here/bench.py" --build-dir "$build" "${args[@]}"
