#!/usr/bin/env bash
# Creates ./.venv with bench and everything it needs, pinned by constraints-cpu.txt.
# Idempotent: a second call with unchanged pins only re-links the editable install.
# torch/torchvision/torchaudio are pinned here by exact version. The torch 2.14.1 that pip installs
# is the CUDA 13 build (2.14.1+cu130) with its nvidia-* CUDA libraries and triton: the venv is
# about 6.4 GB (nvidia-* 3.2 GB, torch 1.2 GB, triton 0.9 GB). It runs on the CPU without warnings
# (and uses a GPU where there is one); it is installed because torchvision 0.29.1 and torchaudio
# 2.11.0 need it: beside the CPU-only torch 2.13.0+cpu both fail to import (libc10_cuda.so missing).
# See README, "What install.sh installs". facenet-pytorch goes in with --no-deps because its
# metadata pins torch<2.3, numpy<2 and Pillow<10.3, none of which it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
VENV=${BENCH_VENV:-.venv}
stamp="$VENV/.bench-install-$(cat constraints-cpu.txt scripts/install.sh pyproject.toml | sha256sum | cut -c1-16)"
quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }

if [ ! -f "$stamp" ]; then
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  quiet "$VENV/bin/pip" install --quiet --disable-pip-version-check -c constraints-cpu.txt \
    torch==2.14.1 torchvision==0.29.1 torchaudio==2.11.0 -e ".[full,test]"
  quiet "$VENV/bin/pip" install --quiet --disable-pip-version-check -c constraints-cpu.txt --no-deps facenet-pytorch==2.6.0
  "$VENV/bin/python" -c "import torch, torchvision, torchaudio, lightning, av, soundfile, facenet_pytorch, bench"
  rm -f "$VENV"/.bench-install-*
  touch "$stamp"
else
  quiet "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-deps -e .
fi
echo "bench installed in $VENV ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
