#!/usr/bin/env bash
# The quickstart: from a fresh checkout to the eval table. Installs what is missing, builds,
# generates the built-in world, trains the teacher, runs imitation (dense-to-dense, upcycling,
# dense-to-sparse) and preference distillation, and prints teacher and student side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
./train_mod stage=all out=runs/quickstart "$@"
echo "quickstart: $(( ($(date +%s) - start) / 60 )) min $(( ($(date +%s) - start) % 60 )) s in all" >&2
