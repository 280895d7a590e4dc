#!/usr/bin/env bash
# Create .venv and install everything the project needs; idempotent (re-running is cheap).
#  - Debian packages (as root): dataset-fashion-mnist (the data), chromium (browser tests).
#    Not root: install them yourself (sudo apt-get install dataset-fashion-mnist chromium)
#    or pass --data-path to a folder with the Fashion-MNIST IDX files.
#  - Python packages: requirements.txt into .venv. torch is the pinned CPU build: a local wheel where
#    pip's find-links has one, else from PyTorch's CPU index (PyPI's torch is the multi-GB CUDA build).
#  A failed apt-get is a warning, not an error: what needs the missing package says so when it runs.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need_apt+=(dataset-fashion-mnist)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -c 'import ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: apt-get install ${need_apt[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null; } \
      || echo "setup: WARNING: apt-get install ${need_apt[*]} failed; the tests that need them will fail" >&2
  else
    echo "setup: WARNING: missing Debian packages ${need_apt[*]}; run: sudo apt-get install ${need_apt[*]}" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv || { echo "setup: '$PYTHON -m venv' failed: install python3-venv (Debian) or set PYTHON=/path/to/python3.10+" >&2; exit 1; }
stamp=.venv/.requirements.sha
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  torch_pin=$(grep -E '^torch==' requirements.txt)
  .venv/bin/python -m pip install -q --no-deps "$torch_pin" --no-index 2>/dev/null \
    || .venv/bin/python -m pip install -q --no-deps "$torch_pin" --index-url https://download.pytorch.org/whl/cpu
  .venv/bin/python -m pip install -q -r requirements.txt
  echo "$want" > "$stamp"
fi
# core/ as an importable package (editable), so `streamlit run explorer/Home.py` can import it
if [ ! -f .venv/.editable ]; then
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e . >/tmp/setup-editable.$$.log 2>&1 \
    || { cat /tmp/setup-editable.$$.log >&2; echo "setup: the editable install of this project failed (above)" >&2; exit 1; }
  rm -f /tmp/setup-editable.$$.log; touch .venv/.editable
fi
echo "setup: .venv ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
