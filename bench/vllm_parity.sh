#!/usr/bin/env bash
# vLLM answers a tuned LoRA run, and the workbench checks them against its own greedy answers (eval --serve-url,
# README "Answers from a serving engine"). For a CUDA machine with vllm installed; about 5 minutes.
#   1. a dataset from the sample corpus (rules, seconds) and a short LoRA run on SmolLM2;
#   2. `vllm serve` with the run's adapter as the LoRA module "tuned";
#   3. `eval --serve-url ... --parity 30`: the score table says how many of 30 answers were the same.
# Exits 3 without vllm or without a GPU, so that a machine that cannot run it is not taken for a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
if ! "$PY" -c "import torch, vllm; assert torch.cuda.is_available()" 2>/dev/null; then
    echo "vllm_parity: needs a CUDA GPU and vllm (pip install vllm); nothing was run" >&2
    exit 3
fi
WS=$(mktemp -d)
PORT=${PORT:-8765}
trap 'kill "${SERVER:-0}" 2>/dev/null || true' EXIT
wb() { "$PY" -m workbench --workspace "$WS" "$@"; }
wb qa assets/sample_corpus --out parity-sample
wb train --data parity-sample --run-dir tuned --max-steps 60
BASE=$("$PY" -c "from workbench import models; print(models.resolve('smollm2'))")
"$PY" -m vllm.entrypoints.openai.api_server --model "$BASE" --served-model-name base --enable-lora \
    --max-lora-rank 16 --lora-modules tuned="$WS/runs/tuned/adapter" --port "$PORT" --dtype bfloat16 \
    --gpu-memory-utilization 0.3 >"$WS/vllm.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null && break
    sleep 2
done
wb eval --run tuned --serve-url "http://127.0.0.1:$PORT/v1" --serve-model tuned --serve-base-model base \
    --parity 30 --no-probe
