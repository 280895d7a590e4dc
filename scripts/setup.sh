#!/usr/bin/env bash
# Create .venv and install everything the project needs; idempotent (re-running is cheap).
#  - Debian packages (as root): dataset-fashion-mnist (the data), chromium (browser tests).
#    Not root: install them yourself (sudo apt-get install dataset-fashion-mnist chromium)
#    or pass --data-path to a folder with the Fashion-MNIST IDX files.
#  - Python packages: requirements.txt into .venv (torch is the pinned CPU build).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || need_apt+=(dataset-fashion-mnist)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: WARNING: missing Debian packages ${need_apt[*]}; run: sudo apt-get install ${need_apt[*]}" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=.venv/.requirements.sha
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  echo "$want" > "$stamp"
fi
# core/ as an importable package (editable), so `streamlit run explorer/Home.py` can import it
[ -f .venv/.editable ] || { .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e . && touch .venv/.editable; } >/dev/null 2>&1
echo "setup: .venv ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
