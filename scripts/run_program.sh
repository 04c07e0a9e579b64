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
    # nvcc adds about 50 s to a 2-core build; the CUDA backend only pays when a GPU is visible.
    cuda=AUTO
    if ! nvidia-smi -L > /dev/null 2>&1; then
        cuda=OFF
        echo "$program: no GPU visible: building without the CUDA backend (scripts/test.sh adds it when nvcc is installed)" >&2
    fi
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMOD_CUDA="$cuda" > /dev/null
fi
if ! out=$(cmake --build "$build" --target "$program" -j"$(nproc)" 2>&1); then
    echo "$out" >&2
    exit 1
fi
exec "$build/train/$program" "$@"
