#!/usr/bin/env bash
# The tiny recipe's GPU stages on a GPU machine that has torch and transformers but no diffusers/peft/PyAV and
# no network, for a fixed wall-clock budget. STAGE: base_vae_128 (stage 1c, configs/tiny_base_vae_128.yaml) or
# rgba_vae_128 (an RGBA VAE stage at 17x128x128: 3b, configs/tiny_rgba_vae_128_gpu.yaml, or 3c,
# configs/tiny_rgba_vae_128_shrink.yaml). Run from the repository root.
#
#   bash recipes/tiny/device_stage.sh prepare STAGE RUN [INIT]        # here: wheels + what STAGE starts from in the
#                                                              # tiny-all folder RUN -> .gpu/ (carry it); INIT:
#                                                              # the RGBA VAE to continue (default: stage 3's;
#                                                              # for 3c, RUN/rgba_vae_long/rgba_vae)
#   bash recipes/tiny/device_stage.sh train STAGE SECONDS CONFIG...   # there: one run per CONFIG, side by side, for
#                                                              # SECONDS; each finished from its newest checkpoint
#                                                              # and packed as $OUT/NAME.tar (NAME: CONFIG's stem)
#   python -m recipes.tiny.device_stage unpack rgba_vae_128 NAME.tar INIT OUT   # here: the trained RGBA VAE
#
# The RGBA VAE it starts from travels in float16 (13 MB; the repo, bundle and wheels must fit in 64 MiB): it loads as
# float32 there, and only its trained weights come back, onto the float32 original here.
# PyAV is only imported there, never used (the stages read zip clips; RGBA VAE previews are skipped), so a stub
# stands in for its 36 MB wheel. TABD reads the empty-prompt context saved here (the MiniLM weights are 88 MB).
set -euo pipefail
cd "$(dirname "$0")/../.."
case "${1:-}" in
prepare)
    stage=$2 run=$3 init=${4:-$3/rgba_vae/rgba_vae}
    rm -rf .gpu && mkdir -p .gpu/whl .gpu/data
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 -d .gpu/whl diffusers==0.42.1 peft==0.21.2 importlib_metadata
    cp -r "$run/data/emoji" .gpu/data/emoji
    if [ "$stage" = base_vae_128 ]; then
        cp -r "$run/base_vae_long/vae" .gpu/init_vae
    else
        cp -r "$run/base_dit/transformer" .gpu/base_dit
        python3 -W ignore -c "import sys, torch
from wan_alpha.models import RGBAVAE
from recipes.tiny.rgba_vae import TinyTABDConfig, write_tabd_context
RGBAVAE.from_pretrained(sys.argv[1]).to(torch.float16).save_pretrained('.gpu/init_rgba_vae')
write_tabd_context(TinyTABDConfig(dit='.gpu/base_dit', text_encoder='minilm'), '.gpu/tabd_context.safetensors')" \
            "$init"
    fi
    du -sh .gpu
    ;;
train)
    stage=$2 seconds=$3
    shift 3
    out=${OUT:-runs/device_out}
    mkdir -p "$out" runs /tmp/site/av/video
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl
    cat > /tmp/site/av/__init__.py <<'PY'
class FFmpegError(Exception):
    """stub: PyAV is not installed on this machine"""
PY
    touch /tmp/site/av/video/__init__.py
    printf 'import enum\nclass Interpolation(enum.IntFlag):\n    BILINEAR = 2\n    ACCURATE_RND = 0x40000\n    FULL_CHR_H_INT = 0x2000\n    FULL_CHR_H_INP = 0x4000\n' \
        > /tmp/site/av/video/reformatter.py
    export PYTHONPATH=/tmp/site:$PWD/src:$PWD PYTHONUNBUFFERED=1
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    python3 -c "import torch, diffusers; print('torch', torch.__version__, 'diffusers', diffusers.__version__, 'cuda', torch.cuda.is_available())"
    start=$(date +%s)
    for config in "$@"; do
        name=$(basename "$config" .yaml)
        (timeout -k 15 "$seconds" python3 -m recipes.tiny.device_stage start "$stage" "$config" "runs/$name" 2>&1 \
            | tr '\r' '\n' | grep -v '^$' > "/tmp/$name.log" || true) &
    done
    wait
    echo "trained $(( $(date +%s) - start )) s"
    for config in "$@"; do  # side by side again; a run that failed leaves the others' results intact
        name=$(basename "$config" .yaml)
        { cp "/tmp/$name.log" "runs/$name/train.log" &&
          python3 -m recipes.tiny.device_stage finish "$stage" "$config" "runs/$name" 2>&1 | tr '\r' '\n' \
              | tail -n 2 > "/tmp/$name.finish" &&
          cp "runs/$name.tar" "$out/"; } || echo "no result" >> "/tmp/$name.finish" &
    done
    wait
    for config in "$@"; do
        name=$(basename "$config" .yaml)
        echo "== $name"; awk 'NR % 250 == 1' "/tmp/$name.log"; tail -n 3 "/tmp/$name.log"; cat "/tmp/$name.finish"
    done
    ;;
*)
    sed -n 2,17p "$0"; exit 2
    ;;
esac
