# Run through the device tool on one NVIDIA H200 (2026-11-30), from the repository root at commit
# ca2e909, carrying .whl (the gguf 0.19.0 wheel) and .gpu (config + tokenizer of the two model
# shapes, saved from the embedded SmolLM2-135M-Instruct; the llama-1b shape is Llama-3.2-1B's
# hidden 2048 / 16 layers / 32 heads / 8 KV heads / MLP 8192 with SmolLM2's 49152-token vocabulary).
# The weights are random (seed 0), made on the machine: the embedded GGUF (98 MB) is over the
# tool's 64 MiB transfer limit.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD/src || exit 1
python3 -c "import torch; from transformers import AutoConfig, AutoModelForCausalLM as M; torch.manual_seed(0); [M.from_config(AutoConfig.from_pretrained(d)).save_pretrained(d) for d in ('.gpu/smollm2-135m-shape','.gpu/llama-1b-shape')]"
bash benchmarks/gpu_check.sh $OUT .gpu/smollm2-135m-shape .gpu/llama-1b-shape
