#!/usr/bin/env bash
# Stages what bench/gpu_check.sh needs on a GPU machine that has CUDA, CMake and a compiler but
# none of our Debian packages and no network: Eigen and nlohmann-json (header-only) and the
# GoogleTest sources, downloaded as .deb files here and unpacked into third_party/deps
# (git-ignored). No shared library is taken: the GPU machine's system might not load it.
set -euo pipefail
cd "$(dirname "$0")/.."
debs=third_party/debs
deps=third_party/deps
mkdir -p "$debs" "$deps"
(cd "$debs" && apt-get download libeigen3-dev nlohmann-json3-dev googletest)
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$deps"; done
rm -rf "$deps/usr/share/doc"
du -sh "$deps"
