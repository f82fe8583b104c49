#!/usr/bin/env bash
# LoRA, QLoRA and LoRA with Liger kernels: throughput, MFU and the fused kernels' loss check on a CUDA GPU in
# bf16 (bench/gpu_check.py), in under 8 minutes.
# Uses the project's .venv when there is one (scripts/setup.sh installs the CUDA lock on a GPU machine),
# else the python3 on PATH; it needs torch with CUDA, transformers, peft and bitsandbytes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec timeout 470 "$PY" bench/gpu_check.py "$@"
