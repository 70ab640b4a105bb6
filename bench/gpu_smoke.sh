#!/usr/bin/env bash
# A one-minute check that lstmkit trains, evaluates and exports on a CUDA machine, and how
# fast the conditioned Tang model trains alone and four at once (bench/gpu_train.sh plans from it).
# Usage (from the repository root): bash bench/gpu_smoke.sh DATA_DIR OUT_DIR [DEVICE]
set -u
DATA=$1; OUT=$2; DEVICE=${3:-cuda}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null
$PY -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.cuda.is_available(), torch.backends.cudnn.version())"
run() {  # NAME BATCH STEPS
  timeout 120 $PY -m lstmkit train --corpus "$DATA/tang.jsonl" --out "/tmp/smoke-$1" --force -q \
    --condition 0.75 --poets 64 --batch-size "$2" --max-steps "$3" --epochs 1 --warmup-steps 20 \
    --lr 3e-3 --device "$DEVICE" --precision bf16 --log-every 25 > "$OUT/smoke-$1.log" 2>&1
  echo "$1 rc=$? $(tr -d '\n ' < /tmp/smoke-$1/summary.json 2>/dev/null | cut -c1-400)"
}
run b128 128 120
run b512 512 60
for i in 1 2 3 4; do run par$i 256 80 & done; wait
timeout 90 $PY bench/wordlm_reference.py --corpus "$DATA/tang.jsonl" --seconds 15 --device "$DEVICE" \
  --model /tmp/smoke-b128/last --given none --given title --json "$OUT/smoke-reference.json" > "$OUT/smoke-reference.log" 2>&1
echo "reference rc=$?"; tail -c 600 "$OUT/smoke-reference.log"
timeout 60 $PY -m lstmkit export --model /tmp/smoke-b128/last --out /tmp/smoke-export --dtype fp16 --force
echo "export rc=$?"; ls -la /tmp/smoke-export
tail -n 3 "$OUT"/smoke-*.log
