#!/usr/bin/env bash
# Stage 1c of the tiny recipe (configs/tiny_base_vae_128.yaml) on a GPU machine that has torch but no
# diffusers/peft/PyAV and no network, for a fixed wall-clock budget.
#
#   bash bench/device_base_vae_128.sh prepare RUN     # here: wheels + RUN's emoji clips and stage-1b VAE -> .gpu/
#   bash bench/device_base_vae_128.sh train SECONDS   # there (carry .gpu): train, then save the VAE at the last
#                                                     # checkpoint; results (vae.tar, log.jsonl) go to $OUT
#   STAGE_CONFIG=other.yaml bash bench/device_base_vae_128.sh train SECONDS   # another stage config (a smoke test)
#
# The run is stopped at SECONDS if it has not reached the config's max_steps, and finished from its newest
# checkpoint (constant learning rate, so that is the run a config with max_steps = that step would give).
# PyAV is only imported there, never used (the stage reads zip clips), so a stub stands in for its 36 MB wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
prepare)
    run=$2
    rm -rf .gpu && mkdir -p .gpu/whl .gpu/data
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 -d .gpu/whl diffusers==0.42.1 peft==0.21.2 importlib_metadata
    cp -r "$run/data/emoji" .gpu/data/emoji
    cp -r "$run/base_vae_long/vae" .gpu/init_vae
    du -sh .gpu
    ;;
train)
    seconds=$2
    out=${OUT:-runs/device_out}
    mkdir -p "$out" /tmp/site/av/video
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl
    cat > /tmp/site/av/__init__.py <<'PY'
class FFmpegError(Exception):
    """stub: PyAV is not installed on this machine"""
PY
    touch /tmp/site/av/video/__init__.py
    printf 'import enum\nclass Interpolation(enum.IntFlag):\n    BILINEAR = 2\n    ACCURATE_RND = 0x40000\n    FULL_CHR_H_INT = 0x2000\n    FULL_CHR_H_INP = 0x4000\n' \
        > /tmp/site/av/video/reformatter.py
    export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    python3 -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'cuda', torch.cuda.is_available())"
    cat > /tmp/train_base_vae_128.py <<'PY'
import sys
from wan_alpha.train.base_vae import train_base_vae
from wan_alpha.train.loop import checkpoints, checkpoint_step
run, finish = "runs/base_vae_128", sys.argv[1] == "finish"
overrides = {"init_from": ".gpu/init_vae", "data.manifest.path": ".gpu/data/emoji/manifest.jsonl"}
if finish:
    overrides["train.max_steps"] = checkpoint_step(checkpoints(run)[-1])
    print("finishing at step", overrides["train.max_steps"])
train_base_vae(sys.argv[2], run, resume=finish, overrides=overrides)
PY
    config=${STAGE_CONFIG:-configs/tiny_base_vae_128.yaml}
    start=$(date +%s)
    timeout -k 15 "$seconds" python3 /tmp/train_base_vae_128.py start "$config" 2>&1 | tr '\r' '\n' \
        | grep -v '^$' > "$out/train.log" || true
    awk 'NR % 250 == 1' "$out/train.log"; tail -n 4 "$out/train.log"
    echo "trained $(( $(date +%s) - start )) s"
    python3 /tmp/train_base_vae_128.py finish "$config" 2>&1 | tr '\r' '\n' | tail -n 3
    cp runs/base_vae_128/log.jsonl runs/base_vae_128/config.yaml "$out"/
    tar -C runs/base_vae_128 -cf "$out/vae.tar" vae
    grep val_ runs/base_vae_128/log.jsonl | tail -n 5
    ;;
*)
    sed -n 2,12p "$0"; exit 2
    ;;
esac
