#!/usr/bin/env bash
# Recompute everything that depends on the Fashion-MNIST generator, after a new one has landed in
# assets/fashion (scripts/ship_generator.py). The steps run in order; each one's outputs are
# committed by hand afterwards. `bash scripts/reship.sh STEP` starts at STEP (to resume after a stop).
#
#   embedders   the UNet and three-convolution embedding networks, trained through the new generator
#   directions  the class directions, from the new UNet embedder's seeds of training images
#   benchmarks  every table the README shows (speed, sample quality, embedding, applications,
#               demo load, where inversion is lost, clouds)
#   study       the emb(x) study (assets/study); its cache is keyed by the generator's weights,
#               so every image is recomputed
#
# Times on the 2-core development machine with the 2.5M-parameter generator: see the closing notes.
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False STREAMLIT_BROWSER_GATHER_USAGE_STATS=false HF_HUB_OFFLINE=1
PY=.venv/bin/python
STEPS=(embedders directions benchmarks study)
START=${1:-embedders}
UNET_EMBEDDER=${UNET_EMBEDDER_ARGS:-"--unet-widths 48 96 192 --pairs 20000 --warm-steps 3000 --finetune-steps 3000 --finetune-lr 3e-4"}

if [[ ! " ${STEPS[*]} " =~ " ${START} " ]]; then
    echo "scripts/reship.sh: unknown step '${START}'; the steps are: ${STEPS[*]}" >&2
    exit 2
fi
mkdir -p runs
started=false
for step in "${STEPS[@]}"; do
    [[ $step == "$START" ]] && started=true
    $started || continue
    echo "=== $(date -u '+%F %T') reship: $step"
    case $step in
        embedders)
            # shellcheck disable=SC2086  # the settings are words
            $PY -m core.embedder_training --generator assets/fashion --architecture unet --out assets/embedders/fashion-unet \
                --pairs-cache runs/pairs-fashion.safetensors $UNET_EMBEDDER
            $PY -m core.embedder_training --generator assets/fashion --architecture conv3 --out assets/embedders/fashion-conv3 \
                --pairs 20000 --pairs-cache runs/pairs-fashion.safetensors --warm-steps 1500 --finetune-steps 300 --finetune-lr 3e-4
            ;;
        directions)
            $PY -m core.directions --out assets/fashion/directions.safetensors
            ;;
        benchmarks)
            $PY -m benchmarks.speed
            $PY -m benchmarks.sample_quality
            $PY -m benchmarks.embedding
            $PY -m benchmarks.embedding --methods network ddim_inversion fixed_point fixed_point_fixed --nfe-curve \
                --curve-fixed-iterations 1 2 3 5 30
            $PY -m benchmarks.applications
            $PY -m benchmarks.demo_load
            $PY -m benchmarks.inversion_where_lost --images 200 --threads 2
            $PY -m benchmarks.clouds --images 0 --seeds 32 --threads 2
            $PY scripts/update_readme.py
            ;;
        study)
            make study
            ;;
    esac
done
echo "=== $(date -u '+%F %T') reship: done"
