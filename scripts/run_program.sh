#!/usr/bin/env bash
# Runs one of the project's programs (train_mod, eval_mod, chat_mod, make_world, ...) from the
# build folder, building it first (and installing the Debian packages on a fresh machine).
# Relative paths in the arguments are taken from the current folder, so run it from the
# repository root to use the defaults (configs/, data/world, runs/).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
program="$1"
shift
build="$root/build"
if [ ! -f "$build/CMakeCache.txt" ]; then
    echo "$program: first use: installing packages and configuring the build in $build ..." >&2
    bash "$root/scripts/install_deps.sh"
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
fi
if ! out=$(cmake --build "$build" --target "$program" -j"$(nproc)" 2>&1); then
    echo "$out" >&2
    exit 1
fi
exec "$build/train/$program" "$@"
