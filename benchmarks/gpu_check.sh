#!/usr/bin/env bash
# The GPU checks of issue 10, in one run on a CUDA machine:
#
#     bash benchmarks/gpu_check.sh OUT_DIR MODEL [LARGE_MODEL]
#
# MODEL (a model folder or id) is timed and trained; LARGE_MODEL, if given, is timed too (the
# step-time ratio at a size closer to the paper's 1B-8B models). Writes OUT_DIR/log.txt (all output)
# and OUT_DIR/{bf16,fp32}_metrics.json (a short training with bf16 autocast, the default on a
# GPU, and the same run in float32), then runs the tests that need a GPU.
#   1. the position sampling at batch 8, 32 and 128 (target < 1 ms at 128);
#   2. the train-step time NTP+STP / NTP (target <= 1.02) at batch 8 and 32, and on LARGE_MODEL;
#   3. the step time of every method relative to NTP;
#   4. 100 steps of the main job's setting (NTP + 0.02 STP, batch 8, lr 1e-4) in bf16 autocast and
#      in float32, same seed, each scored on 100 generated test prompts on the GPU;
#   5. 20 steps under accelerate's FSDP (configs/distributed/fsdp.yaml: bf16, activation
#      checkpointing) on one process, then 32 test prompts generated through the wrapped model;
#   6. pytest on the GPU (the CUDA-only cases run there; nothing else is skipped).
set -uo pipefail
out=${1:?usage: gpu_check.sh OUT_DIR MODEL [LARGE_MODEL]}
model=${2:?usage: gpu_check.sh OUT_DIR MODEL [LARGE_MODEL]}
large=${3:-}
mkdir -p "$out"
exec > >(tee -a "$out/log.txt") 2>&1
export PYTHONUNBUFFERED=1
step() { echo; echo "=== $(date -u +%H:%M:%S) $*"; }

step environment
nvidia-smi -L
python3 -c "import torch, transformers, accelerate; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), '| transformers', transformers.__version__, '| accelerate', accelerate.__version__)"

step "sampling and NTP+STP / NTP step time, $model, batch 8"
timeout 120 python3 benchmarks/stp_overhead.py --model "$model" --batch_size 8 --steps 30
step "NTP+STP / NTP step time, $model, batch 32"
timeout 120 python3 benchmarks/stp_overhead.py --model "$model" --batch_size 32 --steps 20
if [ -n "$large" ]; then
  step "NTP+STP / NTP step time, $large, batch 4 and 16"
  timeout 150 python3 benchmarks/stp_overhead.py --model "$large" --batch_size 4 --steps 20
  timeout 150 python3 benchmarks/stp_overhead.py --model "$large" --batch_size 16 --steps 10
fi
step "every method's step time against NTP, $model, batch 8"
timeout 150 python3 benchmarks/method_cost.py --model "$model" --batch_size 8 --steps 8

for precision in bf16 fp32; do
  step "100 training steps, $precision, then 100 test prompts"
  bf16=true; [ "$precision" = fp32 ] && bf16=false
  timeout 240 python3 -m semantic_tube train --config configs/smollm2_nlrx.yaml --model_name_or_path "$model" \
    --output_dir "/tmp/gpu_check_$precision" --max_steps 100 --save_strategy no --bf16 "$bf16" --eval_task_limit 100
  cp "/tmp/gpu_check_$precision/metrics.json" "$out/${precision}_metrics.json"
done

step "accelerate FSDP, one process: 20 steps, then 32 test prompts through the wrapped model"
timeout 180 python3 -m accelerate.commands.launch --config_file configs/distributed/fsdp.yaml --num_processes 1 \
  -m semantic_tube train --config configs/smollm2_nlrx.yaml --model_name_or_path "$model" \
  --output_dir /tmp/gpu_check_fsdp --max_steps 20 --save_strategy no --eval_task_limit 32
cp /tmp/gpu_check_fsdp/metrics.json "$out/fsdp_metrics.json"

step "tests on the GPU"
# -v under xdist names each failure as it happens, so a run cut short by the timeout still says which
timeout 240 python3 -m pytest -v -m "not slow" -n 12 -p no:cacheprovider tests | grep -E "FAILED|ERROR|passed|failed"
step done
