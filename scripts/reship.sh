#!/usr/bin/env bash
# Recompute everything that depends on the Fashion-MNIST generator, after a new one has landed in
# assets/fashion (scripts/ship_generator.py). Commit the outputs by hand afterwards.
#
#   bash scripts/reship.sh            every step not yet done for this generator, in order: a stopped
#                                     run continues where it stopped (the embedder trainings and the
#                                     study also resume inside a step)
#   bash scripts/reship.sh STEP ...   only these steps, done or not
#
# Steps: unet-embedder, conv3-embedder (trained through the new generator); directions (the class
# directions, from the new UNet embedder's seeds); one step per benchmark the README shows (speed,
# sample-quality, embedding, nfe-curve, applications, demo-load, where-lost, clouds), then readme;
# study (assets/study; its cache is keyed by the generator's weights, so every image is recomputed).
# Finished steps are listed in runs/reship-<generator hash>.done.
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False STREAMLIT_BROWSER_GATHER_USAGE_STATS=false HF_HUB_OFFLINE=1
PY=.venv/bin/python
UNET_EMBEDDER=${UNET_EMBEDDER_ARGS:-"--unet-widths 48 96 192 --pairs 20000 --warm-steps 3000 --finetune-steps 3000 --finetune-lr 3e-4"}
STEPS=(unet-embedder conv3-embedder directions speed sample-quality embedding nfe-curve applications demo-load where-lost clouds readme study)

run_step() {
    case $1 in
        unet-embedder)
            # shellcheck disable=SC2086  # the settings are words
            $PY -m core.embedder_training --generator assets/fashion --architecture unet --out assets/embedders/fashion-unet \
                --pairs-cache runs/pairs-fashion.safetensors $UNET_EMBEDDER ;;
        conv3-embedder)
            $PY -m core.embedder_training --generator assets/fashion --architecture conv3 --out assets/embedders/fashion-conv3 \
                --pairs 20000 --pairs-cache runs/pairs-fashion.safetensors --warm-steps 1500 --finetune-steps 300 --finetune-lr 3e-4 ;;
        directions) $PY -m core.directions --out assets/fashion/directions.safetensors ;;
        speed) $PY -m benchmarks.speed ;;
        sample-quality) $PY -m benchmarks.sample_quality ;;
        embedding) $PY -m benchmarks.embedding ;;
        nfe-curve)
            $PY -m benchmarks.embedding --methods network ddim_inversion fixed_point fixed_point_fixed --nfe-curve \
                --curve-fixed-iterations 1 2 3 5 30 ;;
        applications) $PY -m benchmarks.applications ;;
        demo-load) $PY -m benchmarks.demo_load ;;
        where-lost) $PY -m benchmarks.inversion_where_lost --images 200 --threads 2 ;;
        clouds) $PY -m benchmarks.clouds --images 0 --seeds 32 --threads 2 ;;
        readme) $PY scripts/update_readme.py ;;
        study) make study ;;
        *) echo "scripts/reship.sh: unknown step '$1'; the steps are: ${STEPS[*]}" >&2; exit 2 ;;
    esac
}

mkdir -p runs
done_file="runs/reship-$(sha256sum assets/fashion/model.safetensors | cut -c1-16).done"
if (($#)); then
    for step in "$@"; do [[ " ${STEPS[*]} " == *" $step "* ]] || run_step "$step"; done  # unknown names stop here
    selected=("$@")
else
    selected=("${STEPS[@]}")
fi
for step in "${selected[@]}"; do
    if (($# == 0)) && grep -qxF "$step" "$done_file" 2>/dev/null; then
        echo "=== reship: $step already done for this generator ($done_file)"
        continue
    fi
    echo "=== $(date -u '+%F %T') reship: $step"
    # a failed step, or a training stopped before its end (exit status 75), stops the script unmarked
    run_step "$step" || { rc=$?; echo "=== reship: $step did not finish (exit status $rc); run scripts/reship.sh again to continue" >&2; exit "$rc"; }
    grep -qxF "$step" "$done_file" 2>/dev/null || echo "$step" >> "$done_file"
done
echo "=== $(date -u '+%F %T') reship: done"
