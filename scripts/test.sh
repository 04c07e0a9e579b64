#!/usr/bin/env bash
# The test command: configure, build everything (CUDA too when the toolkit is present), run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
# MOD_CUDA=AUTO also when a program's first use configured build/ without CUDA (no GPU visible).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMOD_CUDA=AUTO
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
