#!/usr/bin/env bash
# Stages what bench/gpu_check.sh needs on a GPU machine that has CUDA, CMake and a compiler but
# none of our Debian packages and no network: Eigen and nlohmann-json (header-only), the
# GoogleTest sources, and the static archives of the data layer's image and text libraries
# (libpng, zlib, libjpeg, PCRE2, utf8proc), downloaded as .deb files here and unpacked into
# third_party/deps (git-ignored). No shared library is taken: the GPU machine's system might
# not load it, so the .so links are removed and the programs link the archives.
set -euo pipefail
cd "$(dirname "$0")/.."
debs=third_party/debs
deps=third_party/deps
mkdir -p "$debs" "$deps"
(cd "$debs" && apt-get download libeigen3-dev nlohmann-json3-dev googletest \
    libpng-dev zlib1g-dev libjpeg62-turbo-dev libpcre2-dev libutf8proc-dev)
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$deps"; done
rm -rf "$deps/usr/share/doc" "$deps/usr/share/man"
find "$deps" -name "*.so" -type l -delete
du -sh "$deps"
