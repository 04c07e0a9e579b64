#!/usr/bin/env bash
# gpu_check: the GPU machine's whole check in one run, well within 8 minutes on one H200.
#   1. builds the engine, the CUDA tests and gpu_steps for sm_90 (PTX kept for newer GPUs);
#   2. runs every CUDA test (each compares a CUDA op with the CPU op, forward and gradients);
#   3. times attention and training steps: the small config in float32 and bf16, and a
#      real-scale student (Qwen2-0.5B-shaped LM, CLIP ViT-L/14-336 vision tower) in bf16 with
#      the ViT frozen;
#   4. runs train_mod stage=all device=cuda on the built-in world (every stage, then eval);
#   5. prints the tables; the logs go to $OUT (default build-gpu/out).
#   bench/gpu_check.sh [all|build|test|steps|train]   (default all; a part reuses the build)
# The GPU machine has CUDA, CMake and a compiler but none of our Debian packages and no
# network: run bench/gpu_deps.sh first on a machine with apt, and bring third_party/deps.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-build-gpu/out}
deps=$PWD/third_party/deps
jobs=$(nproc)
mkdir -p "$out"
[ -d "$deps/usr/src/googletest" ] || { echo "gpu_check: $deps missing: run bench/gpu_deps.sh first"; exit 1; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
nvcc --version | tail -1 || true

part=${1:-all}
step() { echo "== $1"; }
if [ "$part" = all ] || [ "$part" = build ]; then
step "GoogleTest from source"
cmake -S "$deps/usr/src/googletest" -B build-gpu/gtest -DBUILD_GMOCK=OFF -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$PWD/build-gpu/gtest-install" > "$out/build.log" 2>&1 &&
    cmake --build build-gpu/gtest -j"$jobs" >> "$out/build.log" 2>&1 &&
    cmake --install build-gpu/gtest >> "$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 1; }

step "configure and build for sm_90"
start=$SECONDS
cmake -S . -B build-gpu/main -DCMAKE_BUILD_TYPE=Release -DMOD_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DMOD_BUILD_TRAIN=ON -DCMAKE_PREFIX_PATH="$deps/usr" -DCMAKE_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu" \
    -DEigen3_DIR="$deps/usr/share/eigen3/cmake" \
    -Dnlohmann_json_DIR="$deps/usr/share/cmake/nlohmann_json" \
    -DGTest_DIR="$PWD/build-gpu/gtest-install/lib/cmake/GTest" >> "$out/build.log" 2>&1 &&
    cmake --build build-gpu/main -j"$jobs" --target cuda_tests gpu_steps gpu_attention >> "$out/build.log" 2>&1 ||
    { grep -E "error|Error" "$out/build.log" | head -30; tail -5 "$out/build.log"; exit 1; }
echo "engine, tests and benchmarks built in $((SECONDS - start)) s"
# The programs also need the image and text libraries (static archives from third_party/deps):
# a failure here is reported and skips the train part only.
cmake --build build-gpu/main -j"$jobs" --target train_mod >> "$out/build.log" 2>&1 ||
    { echo "train_mod did not build:"; grep -E "error|Error" "$out/build.log" | head -20; }
fi

tests_rc=0
if [ "$part" = all ] || [ "$part" = test ]; then
step "CUDA tests"
timeout 240 build-gpu/main/tests/cuda_tests > "$out/cuda_tests.log" 2>&1
tests_rc=$?
grep -E "^\[  (FAILED|PASSED|SKIPPED) |tests ran" "$out/cuda_tests.log" | tail -40
grep -B2 -A12 "Failure" "$out/cuda_tests.log" | head -80
fi

if [ "$part" = all ] || [ "$part" = steps ]; then
step "attention"
timeout 120 build-gpu/main/bench/gpu_attention 2>&1 | tee "$out/gpu_attention.log"
step "training steps"
printf "%-14s %-5s %9s %11s %9s %10s %8s %9s\n" workload prec "step s" "tokens/s" "TFLOP" "TFLOP/s" "of bf16" "peak GiB"
run_steps() { timeout 150 build-gpu/main/bench/gpu_steps "$@" 2>&1 | tee -a "$out/gpu_steps.log"; }
run_steps config=configs/small.json precision=f32 label=small
run_steps config=configs/small.json precision=bf16 label=small
run_steps config=configs/real.json precision=bf16 batch=8 text=128 steps=3 freeze_vision=true label=real-0.5B profile=true
fi

if [ "$part" = all ] || [ "$part" = train ]; then
step "train_mod stage=all device=cuda (quickstart config, shortened)"
[ -x build-gpu/main/train/train_mod ] || { echo "no train_mod: see $out/build.log"; exit 1; }
start=$SECONDS
timeout 240 build-gpu/main/train/train_mod stage=all device=cuda config=configs/quickstart.json \
    data=build-gpu/world out=build-gpu/run steps=200 eval_limit=30 > "$out/train_mod.log" 2>&1
echo "train_mod rc=$? in $((SECONDS - start)) s"
grep -E "done" "$out/train_mod.log"
tail -32 "$out/train_mod.log"
fi
exit $tests_rc
