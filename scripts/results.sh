#!/usr/bin/env bash
# docs/RESULTS.md's table: the paper's claims on the built-in world (configs/quickstart.json),
# six models per seed, trained with the same data and steps:
#   (a) teacher     stage=teacher
#   (b) SFT         the dense student by plain SFT (stage=sft upcycle=false)
#   (c) dense KD    the dense student after imitation without upcycling (upcycle=false)
#   (c') wide KD    (c) with the MLPs widened to (d)'s activated parameters
#   (d) MoE KD      the sparse student after full imitation
#   (e) MoE KD+DPO  (d) after preference distillation
# then eval_mod per seed (every test sample; every answer kept in answers.jsonl) and seed_table
# over the seeds. A finished model is not trained again, so an interrupted run continues where
# it stopped when started again. (Edit this file only while no run of it is going: bash reads
# a script as it runs.)
#   bash scripts/results.sh                 # seeds 0 1 2 in runs/results
#   SEEDS="0" bash scripts/results.sh       # one seed
# Seeds run as parallel jobs of one thread each, as many as there are cores (at most 3;
# JOBS=1: one after the other on every core): these models are too small for 2 threads to
# pay. On 2 cores of an AVX2 machine with JOBS=3: 44 minutes in all (the three teachers in
# about 26, the five students of each seed in about 18, the evals in 1.5).
# Arguments are passed to every train_mod call; DATA names the world folder, EVAL_LIMIT caps
# the samples per eval set (0: all).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${RESULTS_DIR:-runs/results}
seeds=${SEEDS:-0 1 2}
limit=${EVAL_LIMIT:-0}
jobs=${JOBS:-$(( $(nproc) < 3 ? $(nproc) : 3 ))}
data=${DATA:-data/world}
start=$(date +%s)

train() {  # train <run folder> <train_mod arguments...>: skipped when the folder holds a final model
    if [ -f "$1/final/model.safetensors" ]; then
        echo "results: $1 is done" >&2
        return
    fi
    ./train_mod out="$1" "${@:2}"
}

run_seed() {  # run_seed <seed> <threads> <train_mod arguments...>
    local seed=$1 threads=$2 r=$root/seed$1
    local common=(seed="$seed" teacher="$r/teacher" data="$data" threads="$threads" "${@:3}")
    train "$r/teacher" stage=teacher "${common[@]}"
    train "$r/sft" stage=sft upcycle=false "${common[@]}"
    train "$r/dense" stage=imitation upcycle=false "${common[@]}"
    train "$r/wide" stage=imitation upcycle=false student_intermediate_size=moe "${common[@]}"
    # (d)'s first phase is (c)'s: the same student, seed, data and steps; it continues from a copy.
    if [ ! -f "$r/moe/final/model.safetensors" ]; then
        rm -rf "$r/moe" && mkdir -p "$r/moe" && cp -r "$r/dense/d2d" "$r/moe/d2d"
    fi
    train "$r/moe" stage=imitation phase=d2s "${common[@]}"
    train "$r/dpo" stage=preference student="$r/moe" "${common[@]}"
    if [ ! -f "$r/eval.json" ]; then
        ./eval_mod model="$r/teacher,$r/sft,$r/dense,$r/wide,$r/moe,$r/dpo" data="$data" limit="$limit" \
            out="$r/eval.json" answers="$r/answers.jsonl" threads="$threads"
    fi
}

# One step of a throwaway run first: it builds the programs and makes the world and the
# tokenizer (on first use), which parallel jobs would otherwise race to do.
scripts/run_program.sh eval_mod --help > /dev/null
scripts/run_program.sh seed_table --help > /dev/null
prepare=()
for arg in "$@"; do
    case "$arg" in steps=* | teacher_steps=* | vision_steps=*) ;; *) prepare+=("$arg") ;; esac
done
./train_mod stage=teacher out="$root/prepare" data="$data" steps=1 teacher_steps=1 vision_steps=0 "${prepare[@]}" \
    > /dev/null
rm -rf "$root/prepare"
evals=()
pids=()
for seed in $seeds; do
    if [ "$jobs" -gt 1 ]; then
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
        run_seed "$seed" 1 "$@" > "$root/seed$seed.log" 2>&1 &
        pids+=($!)
    else
        run_seed "$seed" 0 "$@"
    fi
    evals+=("$root/seed$seed/eval.json")
done
for pid in "${pids[@]}"; do
    wait "$pid" || { echo "results: a seed failed; see $root/seed*.log" >&2; exit 1; }
done
files=$(IFS=,; echo "${evals[*]}")
scripts/run_program.sh seed_table eval="$files" out="$root/table.md" \
    labels="(a) teacher,(b) SFT,(c) dense KD,(c') wide KD,(d) MoE KD,(e) MoE KD+DPO"
echo "results: $(( ($(date +%s) - start) / 60 )) min in all; table in $root/table.md" >&2
