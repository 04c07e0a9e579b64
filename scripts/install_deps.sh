#!/usr/bin/env bash
# Installs the Debian 12 packages the build needs (compiler and CMake are on the machine).
set -euo pipefail
packages=(
    build-essential cmake pkg-config
    libeigen3-dev libomp-dev libgtest-dev libbenchmark-dev libopenblas0-openmp
    nlohmann-json3-dev libpng-dev libjpeg-dev libpcre2-dev libutf8proc-dev
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
