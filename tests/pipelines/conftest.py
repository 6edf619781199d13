"""The tiny Wan2.1 + Wan-Alpha files that the pipeline tests load (original layout, reference file formats)."""

import pytest
import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import save_file
from transformers import UMT5Config, UMT5EncoderModel

from tests.models.reference_layouts import (
    original_vae_name,
    randomize,
    randomize_adapter,
    reference_dora_file,
    reference_vae_file,
    wan_t5_file,
    write_original_dit,
)
from tests.tiny import DIT_WAN21 as DIT
from tests.tiny import TEXT_DIM, VAE_WAN21, tiny_tokenizer
from wan_alpha.models.dit import add_dora, build_dit, merge_dora
from wan_alpha.models.rgba_vae import RGBAVAE
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.sampling import flow_scheduler


@pytest.fixture(scope="module")
def wan_files(tmp_path_factory):
    """An original-layout Wan2.1 folder, a reference VAE file and a DoRA file, and the native components."""
    root = tmp_path_factory.mktemp("wan")
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()
    t5 = UMT5EncoderModel(UMT5Config(vocab_size=len(tokenizer), d_model=TEXT_DIM, d_kv=4, d_ff=24, num_layers=1,
                                     num_heads=4, relative_attention_num_buckets=8, feed_forward_proj="gated-gelu",
                                     is_encoder_decoder=False)).eval()
    torch.save(wan_t5_file(t5), root / "models_t5_umt5-xxl-enc-bf16.pth")
    tokenizer.save_pretrained(root / "google" / "umt5-xxl")

    dit = build_dit(DIT).eval()
    randomize(dit)
    write_original_dit(dit, root)
    add_dora(dit, r=4, alpha=4)
    randomize_adapter(dit)
    save_file(reference_dora_file(dit), root / "t2v.safetensors")
    merge_dora(dit)

    base = AutoencoderKLWan(**VAE_WAN21).eval()
    torch.save({original_vae_name(k): v for k, v in base.state_dict().items()}, root / "Wan2.1_VAE.pth")
    vae = RGBAVAE.from_base(base, lora_rank=4, lora_alpha=1.0).eval()
    with torch.no_grad():  # trained-looking fusion and LoRA; the base weights stay Wan2.1_VAE.pth's
        for name, p in vae.named_parameters():
            if "lora_B" in name or name.startswith("fusion."):
                p.add_(torch.randn_like(p) * 0.02)
    save_file(reference_vae_file(vae), root / "decoder.safetensors")
    vae.merge_lora()
    native = WanAlphaPipeline(tokenizer, t5, dit, vae, flow_scheduler("unipc"), max_sequence_length=16)
    return root, native
