#!/usr/bin/env bash
# The measured pipeline after the Fashion-MNIST generator is trained: ship it, measure sample
# quality and speed, train the embedding networks, benchmark every embedding method, and
# inline the results into the README. Each step logs to runs/after_training.log.
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False STREAMLIT_BROWSER_GATHER_USAGE_STATS=false HF_HUB_OFFLINE=1
PY=.venv/bin/python
RUN=${RUN:-runs/fashion}
TRAIN_COMMAND=${TRAIN_COMMAND:-"python -m core.train --dataset fashion --preset fashion --out runs/fashion --epochs 60 --bf16"}

step() { echo "=== $(date -u +%H:%M:%S) $*"; }
if [ -z "${SKIP_DONE:-}" ]; then
step ship; $PY scripts/ship_generator.py "$RUN" fashion "$TRAIN_COMMAND"
step sample quality; $PY -m benchmarks.sample_quality
step speed; $PY -m benchmarks.speed
step embedder unet; $PY -m core.embedder_training --architecture unet --out assets/embedders/fashion-unet \
    --pairs 8000 --pairs-cache runs/pairs.safetensors --warm-steps 1000 --warm-batch 64 --finetune-steps 300 --finetune-batch 16 --finetune-lr 3e-4 --bf16
fi
# (a first continuation, 1000 steps at a constant 3e-4, ended worse than it began: now cosine decay, best on validation)
if [ -z "${SKIP_UNET:-}" ]; then
step embedder unet, continued; $PY -m core.embedder_training --architecture unet --out assets/embedders/fashion-unet \
    --init-from assets/embedders/fashion-unet --warm-steps 0 --finetune-steps 600 --finetune-batch 16 --finetune-lr 3e-4 --bf16
fi
step embedder conv3; $PY -m core.embedder_training --architecture conv3 --out assets/embedders/fashion-conv3 \
    --pairs 8000 --pairs-cache runs/pairs.safetensors --warm-steps 1500 --warm-batch 64 --finetune-steps 150 --finetune-batch 16 --finetune-lr 3e-4 --bf16
step embedding benchmark; $PY -m benchmarks.embedding --hybrid-images 50 --hybrid-iterations 30 --gd-images 10 --gd-iterations 200 --original-images 4
$PY scripts/ship_generator.py
$PY scripts/update_readme.py
step done
