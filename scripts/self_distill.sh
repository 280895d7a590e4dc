#!/usr/bin/env bash
# Repeated self-distillation: each round distils the previous round's EMA weights into a 10-step
# student, the teacher taking 4 DDIM substeps per student step. Measured: three rounds from
# assets/fashion-distilled made it worse (FD 25.5 against 13.75, 5,000 samples; docs/generator.md, "step
# distillation"), so it is kept as the reproducible record of that result, not as a recipe. About
# 40 minutes a round on 2 cores. Re-running continues: finished rounds are skipped, a stopped round resumes
# from its run folder.
#
#   bash scripts/self_distill.sh assets/fashion-distilled 3 runs/self   # rounds runs/self-1 .. runs/self-3
set -euo pipefail
cd "$(dirname "$0")/.."
(($# == 3)) || { echo "usage: scripts/self_distill.sh TEACHER ROUNDS RUN_PREFIX" >&2; exit 2; }
teacher=$1; rounds=$2; prefix=$3
for round in $(seq 1 "$rounds"); do
    out=$prefix-$round
    if [[ -f $out/epochs/epoch_001/model.safetensors ]]; then
        echo "=== self_distill: $out already finished"
    else
        echo "=== self_distill: round $round, teacher $teacher -> $out ($(date -u +%H:%M) UTC)"
        .venv/bin/python -m core.train --dataset fashion --preset fashion-wide --distill-from "$teacher" \
            --distill-substeps 4 --distill-weighting state --lr 1e-4 --warmup-steps 50 --epochs 1 \
            --lr-schedule cosine --save-every-minutes 5 --out "$out"
    fi
    teacher=$out/ema
done
