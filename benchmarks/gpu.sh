#!/usr/bin/env bash
# The GPU figures bench owes (MMA-DFER step at 112/160/224 px in fp32/TF32/bf16, an MPUC acoustic
# epoch, ConCluGen's feature extractors, MTCNN), written to one JSON file with the GPU's name.
# About 5 minutes on one H100; see benchmarks/gpu_figures.py for what each figure is.
#   bash benchmarks/gpu.sh [OUT.json]          on a machine with one CUDA GPU
#   bash benchmarks/gpu.sh --cpu [OUT.json]    every part on the CPU with tiny sizes: a code check
set -euo pipefail
cd "$(dirname "$0")/.."
cpu=()
if [[ "${1:-}" == "--cpu" ]]; then cpu=(--cpu); shift; fi
out="${1:-${OUT:-.}/gpu_figures.json}"
python="${PYTHON:-.venv/bin/python}"
if [[ ${#cpu[@]} -eq 0 ]]; then nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; fi
exec timeout 470 "$python" benchmarks/gpu_figures.py "${cpu[@]}" --out "$out"
