#!/usr/bin/env bash
# Retrain the bundled models on one CUDA GPU inside a single device lease: the candidates
# listed in CANDIDATES train side by side on the card; of the Tang candidates (named tang-*)
# and of the Song ci ones (songci-*), the run with the best validation perplexity given no
# title is kept and exported.
#
#   bash bench/gpu_train.sh DATA_DIR OUT_DIR CANDIDATES [REF_SECONDS]
#
# CANDIDATES is a text file, one run per line ('#' starts a comment):
#   NAME CORPUS TOKENS POETS LAYERS EMBEDDING HIDDEN DROPOUT BATCH LR
# (all title- and poet-conditioned, tied weights, bf16 autocast, cosine schedule planned
# over TOKENS, a wall-clock guard of GUARD minutes). With REF_SECONDS > 0 the PyTorch
# word-language-model recipe (bench/wordlm_reference.py) then trains alone on the card for
# that long and every model is scored on identical held-out tokens. OUT_DIR receives
# tang/ (and songci/), exported in fp16, results.json and logs.tar.gz.
# Runs stay in RUNS (default /tmp/gpu-runs): a second call on the same warm machine
# chooses among its own candidates and the earlier ones together.
set -u
DATA=$1; OUT=$2; CANDIDATES=$3; REF_SECONDS=${4:-0}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}; DEVICE=${DEVICE:-cuda}; GUARD=${GUARD:-5.2}
RUNS=${RUNS:-/tmp/gpu-runs}; mkdir -p "$RUNS"
COMMON=(--tie-weights --epochs 1000 --patience 0 --warmup-steps 300 --weight-decay 0.01
        --device "$DEVICE" --precision "${PRECISION:-bf16}" --seed 0 --log-every 100 --max-minutes "$GUARD"
        -q --force --condition 0.75)
train() {  # NAME CORPUS TOKENS POETS LAYERS EMBEDDING HIDDEN DROPOUT BATCH LR
  $PY -m lstmkit train --corpus "$DATA/$2" --out "$RUNS/$1" "${COMMON[@]}" --max-tokens "$3" \
    --poets "$4" --layers "$5" --embedding-size "$6" --hidden-size "$7" --dropout "$8" \
    --batch-size "$9" --lr "${10}" > "$RUNS/$1.log" 2>&1
  echo "$1 rc=$? $(date +%T)"
}
date +%T
while read -r line; do
  line=${line%%#*}; [ -n "${line// }" ] || continue
  # shellcheck disable=SC2086
  train $line &
done < "$CANDIDATES"
wait
# The best run of each family (tang-*, songci-*) by validation perplexity given no title.
BEST=$($PY - "$RUNS" <<'PY'
import json, sys, pathlib
runs = pathlib.Path(sys.argv[1])
for family in ("tang", "songci"):
    scores = {s.parent.name: json.loads(s.read_text()).get("best_val_ppl") or 1e9
              for s in sorted(runs.glob(f"{family}-*/summary.json"))}
    if scores:
        print(family, min(scores, key=scores.get))
PY
)
echo "best candidates: $BEST"
while read -r family run; do
  [ -n "$family" ] || continue
  mkdir -p "$OUT/$family"
  $PY -m lstmkit export --model "$RUNS/$run/best" --out "/tmp/export-$family" --dtype fp16 --force \
    && cp "/tmp/export-$family"/* "$OUT/$family/"
done <<< "$BEST"
date +%T
if [ "$REF_SECONDS" != 0 ]; then
  $PY bench/wordlm_reference.py --corpus "$DATA/tang.jsonl" --seconds "$REF_SECONDS" --device "$DEVICE" \
    --model /tmp/export-tang --model src/lstmkit/models/tang --given none --given title \
    --json "$RUNS/reference.json" > "$RUNS/reference.log" 2>&1
  echo "reference rc=$? $(date +%T)"
fi
$PY - "$RUNS" "${BEST//$'\n'/ }" > "$OUT/results.json" <<'PY'
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
ls -la "$OUT" "$OUT"/*/; tail -c 1500 "$OUT/results.json"
