"""Wan2.1's own models in the original release layout load into diffusers / transformers classes and give
outputs identical to the same weights loaded natively; bad keys are named; unsafe files are refused."""

import pytest
import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import save_file
from transformers import UMT5Config, UMT5EncoderModel

from tests.models.reference_layouts import (
    dit_out,
    original_vae_name,
    randomize,
    wan_t5_file,
    write_original_dit,
)
from tests.tiny import DIT_WAN21 as DIT
from tests.tiny import VAE_WAN21 as VAE
from wan_alpha.errors import WanAlphaError
from wan_alpha.models.dit import build_dit
from wan_alpha.models.state_dicts import CheckpointMismatch, read_state_dict
from wan_alpha.models.wan_loaders import (
    load_original_umt5,
    load_wan_transformer,
    load_wan_vae,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_original_dit_layout_loads_identically(tmp_path):
    torch.manual_seed(0)
    model = build_dit(DIT).eval()
    randomize(model)
    write_original_dit(model, tmp_path / "orig")
    loaded = load_wan_transformer(tmp_path / "orig", dtype=torch.float32)
    assert torch.equal(dit_out(loaded), dit_out(model))
    model.save_pretrained(tmp_path / "diffusers" / "transformer")
    # diffusers' from_pretrained keeps tensors as views of the file buffer; their alignment picks other CPU
    # kernels (differences ~5e-7), hence allclose here and our loader's owned copies above
    loaded = load_wan_transformer(tmp_path / "diffusers", dtype=torch.float32)
    assert torch.allclose(dit_out(loaded), dit_out(model), atol=1e-5)


def test_a_bf16_dit_keeps_norms_time_embedder_and_modulation_in_float32(tmp_path):
    # as diffusers' from_pretrained(torch_dtype=bf16) keeps them, and as the reference computes them (float32)
    torch.manual_seed(0)
    model = build_dit(DIT).eval()
    randomize(model)
    write_original_dit(model, tmp_path / "orig")
    model.save_pretrained(tmp_path / "diffusers" / "transformer")
    original = load_wan_transformer(tmp_path / "orig", dtype=torch.bfloat16)
    diffusers = load_wan_transformer(tmp_path / "diffusers", dtype=torch.bfloat16)
    params = dict(model.named_parameters())
    for name, param in original.named_parameters():
        other = dict(diffusers.named_parameters())[name]
        assert param.dtype == other.dtype, name
        if param.dtype == torch.float32:  # exact, not rounded through bfloat16 on the way
            assert torch.equal(param, params[name]), name
    kept = [n for n, p in original.named_parameters() if p.dtype == torch.float32]
    assert any("scale_shift_table" in n for n in kept) and any("time_embedder" in n for n in kept)


def test_original_dit_wrong_shape_is_named(tmp_path):
    torch.manual_seed(0)
    write_original_dit(build_dit(DIT), tmp_path)
    shard = tmp_path / "diffusion_pytorch_model-00001-of-00002.safetensors"
    sd = read_state_dict(shard)
    key = next(k for k in sd if k.endswith("cross_attn.k.weight"))
    sd[key] = torch.zeros(3, 3)
    save_file(sd, shard)
    with pytest.raises(CheckpointMismatch, match=r"wrong shapes \[blocks\.\d\.attn2\.to_k\.weight \(3, 3\)"):
        load_wan_transformer(tmp_path, dtype=torch.float32)


def test_original_vae_layout_loads_identically(tmp_path):
    torch.manual_seed(0)
    vae = AutoencoderKLWan(**VAE).eval()
    torch.save({original_vae_name(k): v for k, v in vae.state_dict().items()}, tmp_path / "Wan2.1_VAE.pth")
    loaded = load_wan_vae(tmp_path)  # widths read off the weights; Wan2.1 layout otherwise
    z = torch.randn(1, 16, 2, 4, 4)
    with torch.no_grad():
        assert torch.equal(loaded.decode(z).sample, vae.decode(z).sample)


def test_original_umt5_loads_identically(tmp_path):
    torch.manual_seed(0)
    config = UMT5Config(vocab_size=64, d_model=16, d_kv=4, d_ff=24, num_layers=2, num_heads=4,
                        relative_attention_num_buckets=8, feed_forward_proj="gated-gelu", is_encoder_decoder=False)
    model = UMT5EncoderModel(config).eval()
    wan = wan_t5_file(model)
    torch.save(wan, tmp_path / "t5.pth")
    loaded = load_original_umt5(tmp_path / "t5.pth", dtype=torch.float32)
    ids, mask = torch.randint(0, 64, (2, 7)), torch.ones(2, 7, dtype=torch.long)
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids, attention_mask=mask).last_hidden_state,
                           model(input_ids=ids, attention_mask=mask).last_hidden_state)
        # Wan's FFN is fc2(fc1(x) * gelu_tanh(gate(x))): the gate must land on wi_0, fc1 on wi_1
        x = torch.randn(3, 16)
        ffn = torch.nn.functional.gelu(x @ wan["blocks.0.ffn.gate.0.weight"].T, approximate="tanh")
        wan_ffn = (x @ wan["blocks.0.ffn.fc1.weight"].T * ffn) @ wan["blocks.0.ffn.fc2.weight"].T
        assert torch.allclose(loaded.encoder.block[0].layer[1].DenseReluDense(x), wan_ffn, atol=1e-6)


def test_unsafe_or_unknown_files_are_refused(tmp_path):
    torch.save({"weights": torch.zeros(1), "note": object()}, tmp_path / "pickle.pth")
    with pytest.raises(WanAlphaError, match="cannot be read safely"):
        read_state_dict(tmp_path / "pickle.pth")
    torch.save({"w": torch.ones(2)}, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False)
    assert torch.equal(read_state_dict(tmp_path / "legacy.pth")["w"], torch.ones(2))  # not mmap-able, still read
    (tmp_path / "w.npz").write_bytes(b"")
    with pytest.raises(WanAlphaError, match="unknown checkpoint format"):
        read_state_dict(tmp_path / "w.npz")


