#!/usr/bin/env bash
# Per-token learning curves of CPU training settings, measured on one CUDA GPU in minutes
# instead of days: the variants in VARIANTS train side by side on the card, each with
# lstmkit train's defaults (the bundled 2 x 512 configuration) plus its own options, in
# fp32 like a CPU, on a cosine schedule planned over TOKENS. The curve of validation
# perplexity against training tokens does not depend on the machine; the tokens per second
# do, and are measured on the CPU (bench/cpu_training.py speed).
#
#   bash bench/gpu_curves.sh CORPUS OUT_DIR VARIANTS [TOKENS]
#
# VARIANTS is a text file, one run per line ('#' starts a comment): a name, then the
# lstmkit train options it adds. OUT_DIR receives curves.md and curves.png (from
# bench/cpu_training.py curves) and runs.tar.gz (every run's metrics, summary and config,
# no weights). Runs stay in RUNS (default /tmp/gpu-curves).
set -u
CORPUS=$1; OUT=$2; VARIANTS=$3; TOKENS=${4:-20000000}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}; DEVICE=${DEVICE:-cuda}; GUARD=${GUARD:-8}
RUNS=${RUNS:-/tmp/gpu-curves}; mkdir -p "$RUNS" "$OUT"
COMMON=(--epochs 1000 --patience 0 --device "$DEVICE" --precision fp32 --seed 0 --log-every 100
        --max-tokens "$TOKENS" --max-minutes "$GUARD" -q --force)
names=()
date +%T
while read -r line; do
  line=${line%%#*}; [ -n "${line// }" ] || continue
  read -r name options <<< "$line"
  names+=("$RUNS/$name")
  # shellcheck disable=SC2086
  ( $PY -m lstmkit train --corpus "$CORPUS" --out "$RUNS/$name" "${COMMON[@]}" $options \
      > "$RUNS/$name.log" 2>&1; echo "$name rc=$? $(date +%T)" ) &
done < "$VARIANTS"
wait
$PY bench/cpu_training.py curves "${names[@]}" --png "$OUT/curves.png" --json "$OUT/curves.json" \
  | tee "$OUT/curves.md"
nvidia-smi --query-gpu=name --format=csv,noheader > "$RUNS/gpu.txt" 2>/dev/null
tar czf "$OUT/runs.tar.gz" -C "$RUNS" --exclude='*.safetensors' --exclude='trainer.json' .
ls -la "$OUT"
