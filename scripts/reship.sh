#!/usr/bin/env bash
# Ship the next default Fashion-MNIST generator: recompute everything that depends on the generator
# with it. About 10 hours on 2 cores, so it spans sessions, in two phases that each leave the
# repository consistent (commit the outputs after every step):
#
#   bash scripts/reship.sh next [STEP ...]     phase 1: the new generator waits in assets/next/fashion
#       (scripts/ship_generator.py RUN next/fashion ...); its embedders, class directions and emb(x) study
#       are made under assets/next, and its rows added to the generator benchmarks. Nothing the demo or
#       the tests load changes.
#   python scripts/switch_default.py           assets/next moves into place, the old default becomes
#       assets/fashion-small (its twin assets/fashion-small-twin); results rows follow their weights
#   bash scripts/reship.sh after [STEP ...]    phase 2: the benchmark tables of the shipped models, README
#
# Without STEP names, every step of the phase not yet done for this generator runs, in order; a
# stopped run continues where it stopped (the embedder trainings and the study also resume inside a
# step, from runs/ and assets/next/study/cache). Finished steps are listed, by the generator's weights
# hash, in benchmarks/results/reship.done, which is committed with the outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False STREAMLIT_BROWSER_GATHER_USAGE_STATS=false HF_HUB_OFFLINE=1
PY=.venv/bin/python
NEXT_STEPS=(sample-quality sampler-steps unet-embedder conv3-embedder directions study)
# embedding and applications first: they hold the numbers the switch was for (inversion NFE, embedder MSE, directions)
AFTER_STEPS=(embedding applications embedding-descent quality-trend speed demo-load where-lost clouds readme)
UNET_EMBEDDER=${UNET_EMBEDDER_ARGS:-"--unet-widths 64 128 256 --pairs 20000 --warm-steps 3000 --finetune-steps 3000 --finetune-lr 3e-4"}

run_next_step() {
    local g=assets/next/fashion
    case $1 in
        sample-quality) $PY -m benchmarks.sample_quality --checkpoint $g --append ;;
        sampler-steps) $PY -m benchmarks.sampler_steps --checkpoint $g --steps 10 20 40 --samples 1000 --append ;;
        unet-embedder)
            # shellcheck disable=SC2086  # the settings are words
            $PY -m core.embedder_training --generator $g --architecture unet --out assets/next/embedders/fashion-unet \
                --pairs-cache runs/pairs-next.safetensors $UNET_EMBEDDER ;;
        conv3-embedder)
            $PY -m core.embedder_training --generator $g --architecture conv3 --out assets/next/embedders/fashion-conv3 \
                --pairs 20000 --pairs-cache runs/pairs-next.safetensors --warm-steps 1500 --finetune-steps 300 --finetune-lr 3e-4 ;;
        directions)
            $PY -m core.directions --generator $g --embedder assets/next/embedders/fashion-unet --out $g/directions.safetensors ;;
        study)
            # the twin pair is the small generators' (assets/fashion-small and assets/fashion-small-twin)
            $PY -m core.study examples --checkpoint $g --embedder assets/next/embedders/fashion-unet --out assets/next/study \
                --cloud-size 8 --ood-test-images 100 --ood-photos 100 ;;
        *) return 2 ;;
    esac
}

run_after_step() {
    case $1 in
        quality-trend) $PY -m benchmarks.quality_trend assets/fashion --append ;;
        speed) $PY -m benchmarks.speed ;;
        # the embedding table in two runs (rows of the same weights carry over): the inversion methods and
        # their NFE curve; then the descent methods, hours on 2 cores
        embedding)
            $PY -m benchmarks.embedding --methods network ddim_inversion fixed_point fixed_point_fixed \
                --nfe-curve --curve-fixed-iterations 1 2 3 5 30 ;;
        embedding-descent) $PY -m benchmarks.embedding --methods hybrid gd gd_original ;;
        applications) $PY -m benchmarks.applications ;;
        demo-load) $PY -m benchmarks.demo_load ;;
        where-lost) $PY -m benchmarks.inversion_where_lost --images 200 --threads 2 ;;
        clouds) $PY -m benchmarks.clouds --images 0 --seeds 32 --threads 2 ;;
        readme) $PY scripts/update_readme.py ;;
        *) return 2 ;;
    esac
}

usage() { echo "usage: scripts/reship.sh next|after [STEP ...]; next: ${NEXT_STEPS[*]}; after: ${AFTER_STEPS[*]}" >&2; exit 2; }
(($#)) || usage
phase=$1; shift
case $phase in
    next) generator=assets/next/fashion; all=("${NEXT_STEPS[@]}"); runner=run_next_step ;;
    after) generator=assets/fashion; all=("${AFTER_STEPS[@]}"); runner=run_after_step ;;
    *) usage ;;
esac
[[ -f $generator/model.safetensors ]] || { echo "scripts/reship.sh: no generator in $generator" >&2; exit 2; }
for step in "$@"; do [[ " ${all[*]} " == *" $step "* ]] || usage; done
if (($#)); then selected=("$@"); else selected=("${all[@]}"); fi

mkdir -p runs
done_file=benchmarks/results/reship.done
key="$(sha256sum "$generator/model.safetensors" | cut -c1-16)"
for step in "${selected[@]}"; do
    if (($# == 0)) && grep -qxF "$key $phase $step" "$done_file" 2>/dev/null; then
        echo "=== reship: $phase $step already done for this generator ($done_file)"
        continue
    fi
    echo "=== $(date -u '+%F %T') reship: $phase $step"
    # a failed step, or a training stopped before its end (exit status 75), stops the script unmarked
    $runner "$step" || { rc=$?; echo "=== reship: $step did not finish (exit status $rc); run scripts/reship.sh $phase again to continue" >&2; exit "$rc"; }
    grep -qxF "$key $phase $step" "$done_file" 2>/dev/null || echo "$key $phase $step" >> "$done_file"
done
echo "=== $(date -u '+%F %T') reship: $phase done"
