"""One run of a GPU stage of the tiny recipe, from the ``.gpu/`` bundle ``recipes/tiny/device_stage.sh`` prepares.

    python -m recipes.tiny.device_stage start  STAGE CONFIG RUN    # there: train until max_steps or killed
    python -m recipes.tiny.device_stage finish STAGE CONFIG RUN    # there: the model at RUN's newest checkpoint -> RUN.tar
    python -m recipes.tiny.device_stage unpack STAGE TAR INIT OUT  # here: RUN.tar + INIT (the RGBA VAE it started from) -> OUT

STAGE is ``base_vae_128`` (stage 1c, ``tiny_base_vae_128.yaml``) or ``rgba_vae_128`` (an RGBA VAE stage at
17x128x128: 3b, ``tiny_rgba_vae_128_gpu.yaml``, or 3c, ``tiny_rgba_vae_128_shrink.yaml``). A run stopped by the wall-clock limit is finished from its newest
checkpoint (constant learning rate: that is the run a config with max_steps = that step gives). An RGBA VAE
comes back as its trained weights only (fusion block and LoRAs, 10 MB of its 26 MB): the frozen base it was
started from is already here, and the device returns files of at most 16 MiB.
"""

from __future__ import annotations

import json
import sys
import tarfile
import tempfile
from pathlib import Path

from safetensors.torch import load_file, save_file

from wan_alpha.errors import WanAlphaError
from wan_alpha.models import RGBAVAE
from wan_alpha.train.loop import checkpoint_step, checkpoints, load_trainable_state_dict, trainable_state_dict
from wan_alpha.train.vae import MODEL_DIR as RGBA_VAE_DIR

from .base_vae import MODEL_DIR as BASE_VAE_DIR
from .base_vae import train_base_vae
from .rgba_vae import train_rgba_vae

BUNDLE = Path(".gpu")
MANIFEST = str(BUNDLE / "data" / "emoji" / "manifest.jsonl")
STAGES = {
    "base_vae_128": (train_base_vae, {"init_from": str(BUNDLE / "init_vae"), "data.manifest.path": MANIFEST}),
    # validation writes MP4 previews, which need PyAV (not on the GPU machine): validate here afterwards
    "rgba_vae_128": (train_rgba_vae, {
        "model.init_from": str(BUNDLE / "init_rgba_vae"), "tabd.dit": str(BUNDLE / "base_dit"),
        "tabd.context_file": str(BUNDLE / "tabd_context.safetensors"), "data.manifest.path": MANIFEST,
        "train.validate_every": 10**9,
    }),
}
TRAINED = "trained.safetensors"
STATS_KEYS = ("latents_mean", "latents_std")


def finish(stage: str, config: str, run: Path) -> Path:
    """Save the model at the newest checkpoint and pack what comes back into ``RUN.tar``."""
    train, overrides = STAGES[stage]
    found = checkpoints(run)
    if not found:
        raise SystemExit(f"{run} has no checkpoint: give the run more seconds or checkpoint more often")
    step = checkpoint_step(found[-1])
    print(f"{run.name}: finishing at step {step}", flush=True)
    train(config, run, resume=True, overrides={**overrides, "train.max_steps": step})
    with tarfile.open(f"{run}.tar", "w") as tar:
        for name in ("config.yaml", "log.jsonl", "train.log"):
            if (run / name).exists():
                tar.add(run / name, name)
        if stage == "base_vae_128":
            tar.add(run / BASE_VAE_DIR, BASE_VAE_DIR)
            return Path(f"{run}.tar")
        pack_rgba_vae(run / RGBA_VAE_DIR, tar)
    return Path(f"{run}.tar")


def pack_rgba_vae(folder: Path, tar: tarfile.TarFile) -> None:
    """Add the trained weights and the config (with the refitted latent statistics) of an RGBA VAE folder."""
    with tempfile.TemporaryDirectory() as tmp:
        save_file(trainable_state_dict(RGBAVAE.from_pretrained(folder)), f"{tmp}/{TRAINED}")
        tar.add(f"{tmp}/{TRAINED}", TRAINED)
    tar.add(folder / "config.json", "config.json")


def unpack_rgba_vae(packed: Path, init: Path, out: Path) -> Path:
    """``INIT`` (the float32 RGBA VAE whose float16 copy the run started from) with the run's trained weights
    and latent statistics."""
    vae = RGBAVAE.from_pretrained(init)
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(packed) as tar:
        tar.extractall(tmp, filter="data")
        trained = load_file(f"{tmp}/{TRAINED}")
        config = json.loads(Path(f"{tmp}/config.json").read_text())
    differing = [k for k, v in config.items()
                 if k not in STATS_KEYS and not k.startswith("_") and vae.config.get(k) != v]
    if differing:
        raise WanAlphaError(f"{packed} was trained from another RGBA VAE than {init} (config differs in {differing})")
    load_trainable_state_dict(vae, trained, str(packed))
    vae.register_to_config(**{k: config[k] for k in STATS_KEYS})
    vae.save_pretrained(out)
    return out


if __name__ == "__main__":
    command, stage = sys.argv[1:3]
    if stage not in STAGES:
        raise SystemExit(f"unknown stage {stage!r}: one of {', '.join(STAGES)}")
    if command == "start":
        train, overrides = STAGES[stage]
        train(sys.argv[3], sys.argv[4], overrides=overrides)
    elif command == "finish":
        print(finish(stage, sys.argv[3], Path(sys.argv[4])))
    elif command == "unpack" and stage == "rgba_vae_128":
        print(unpack_rgba_vae(*map(Path, sys.argv[3:6])))
    else:
        raise SystemExit(__doc__)
