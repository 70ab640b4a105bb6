#!/usr/bin/env bash
# Retrain the bundled models on one CUDA GPU inside a single device lease, then measure the
# PyTorch word-language-model recipe (bench/wordlm_reference.py) for REF_SECONDS alone on the
# same card and score every model on identical held-out tokens.
#
#   bash bench/gpu_train.sh DATA_DIR OUT_DIR TANG_TOKENS CI_TOKENS [REF_SECONDS]
#
# Four Tang candidates (title- and poet-conditioned, 2x512 tied, differing in dropout and
# batch) and one Song ci model train side by side on the card, each to its token budget
# (the cosine schedule is planned over it) with a wall-clock guard; the Tang candidate
# with the best validation perplexity (given no title) is kept. OUT_DIR receives tang/ and
# songci/ (exported fp16 folders), results.json and logs.tar.gz.
set -u
DATA=$1; OUT=$2; TANG_TOKENS=$3; CI_TOKENS=$4; REF_SECONDS=${5:-120}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}; DEVICE=${DEVICE:-cuda}; GUARD=${GUARD:-5.2}
RUNS=/tmp/gpu-runs; mkdir -p "$RUNS"
COMMON=(--embedding-size 512 --hidden-size 512 --layers 2 --tie-weights --epochs 1000 --patience 0
        --warmup-steps 300 --weight-decay 0.01 --device "$DEVICE" --precision bf16 --seed 0
        --log-every 100 --max-minutes "$GUARD" -q --force)
train() {  # NAME CORPUS TOKENS POETS DROPOUT BATCH LR
  $PY -m lstmkit train --corpus "$DATA/$2" --out "$RUNS/$1" "${COMMON[@]}" --max-tokens "$3" \
    --condition 0.75 --poets "$4" --dropout "$5" --batch-size "$6" --lr "$7" > "$RUNS/$1.log" 2>&1
  echo "$1 rc=$? $(date +%T)"
}
date +%T
train tang-d30-b256 tang.jsonl "$TANG_TOKENS" 64 0.3 256 3e-3 &
train tang-d40-b256 tang.jsonl "$TANG_TOKENS" 64 0.4 256 3e-3 &
train tang-d50-b256 tang.jsonl "$TANG_TOKENS" 64 0.5 256 4e-3 &
train tang-d40-b128 tang.jsonl "$TANG_TOKENS" 64 0.4 128 2e-3 &
train songci-d40-b128 songci.jsonl "$CI_TOKENS" 32 0.4 128 2e-3 &
wait
BEST=$($PY - "$RUNS" <<'PY'
import json, sys, pathlib
runs = pathlib.Path(sys.argv[1])
scores = {}
for s in sorted(runs.glob("tang-*/summary.json")):
    scores[s.parent.name] = json.loads(s.read_text()).get("best_val_ppl") or 1e9
print(min(scores, key=scores.get))
PY
)
echo "best Tang candidate: $BEST"
mkdir -p "$OUT/tang" "$OUT/songci"
$PY -m lstmkit export --model "$RUNS/$BEST/best" --out /tmp/export-tang --dtype fp16 --force \
  && cp /tmp/export-tang/* "$OUT/tang/"
$PY -m lstmkit export --model "$RUNS/songci-d40-b128/best" --out /tmp/export-ci --dtype fp16 --force \
  && cp /tmp/export-ci/* "$OUT/songci/"
date +%T
$PY bench/wordlm_reference.py --corpus "$DATA/tang.jsonl" --seconds "$REF_SECONDS" --device "$DEVICE" \
  --model /tmp/export-tang --model src/lstmkit/models/tang --given none --given title \
  --json "$RUNS/reference.json" > "$RUNS/reference.log" 2>&1
echo "reference rc=$? $(date +%T)"
$PY - "$RUNS" "$BEST" > "$OUT/results.json" <<'PY'
import json, sys, pathlib
runs, best = pathlib.Path(sys.argv[1]), sys.argv[2]
out = {"best": best, "runs": {}}
for s in sorted(runs.glob("*/summary.json")):
    out["runs"][s.parent.name] = json.loads(s.read_text())
ref = runs / "reference.json"
out["reference"] = json.loads(ref.read_text()) if ref.exists() else None
print(json.dumps(out, ensure_ascii=False, indent=1))
PY
nvidia-smi --query-gpu=name --format=csv,noheader > "$RUNS/gpu.txt" 2>/dev/null
tar czf "$OUT/logs.tar.gz" -C "$RUNS" --exclude='*.safetensors' --exclude='trainer.json' .
ls -la "$OUT" "$OUT/tang" "$OUT/songci"; tail -c 1500 "$OUT/results.json"
