#!/usr/bin/env bash
# Sets up the environment and opens the workbench on http://127.0.0.1:7860 with the default
# model (SmolLM2-135M-Instruct) and the sample corpus. Extra arguments go to app.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
exec .venv/bin/python app.py "$@"
