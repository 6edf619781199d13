"""DiT adapter files merge into the transformer's weights: the reference DoRA as peft merges it, LoRA files as
diffusers' own converter and ``fuse_lora`` do, full-weight differences added; bad keys, and tensors peft did not
load, are named."""

import pytest
import torch
from safetensors.torch import save_file

from tests.models.reference_layouts import dit_out, randomize_adapter, reference_dora_file
from tests.tiny import DIT_WAN21 as DIT
from wan_alpha.errors import WanAlphaError
from wan_alpha.models.adapters import merge_adapter_file
from wan_alpha.models.dit import add_dora, build_dit, has_adapter, merge_dora, save_dora
from wan_alpha.models.state_dicts import CheckpointMismatch, read_state_dict

pytestmark = pytest.mark.usefixtures("one_thread")


def dora_merge(weight, delta, magnitude):
    """The DoRA oracle: ``W' = m (W + dW) / ||W + dW||_row`` (L2 norm of each output row), in float32."""
    merged = weight + delta
    return merged * (magnitude / merged.flatten(1).norm(dim=1)).view(-1, *[1] * (merged.ndim - 1))


def peft_dora_model(seed=0):
    torch.manual_seed(seed)
    model = build_dit(DIT).eval()
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    add_dora(model, r=4, alpha=4)
    randomize_adapter(model)
    return model, base_state


def test_dora_merge_matches_peft(tmp_path):
    model, base_state = peft_dora_model()
    save_file(reference_dora_file(model), tmp_path / "t2v.safetensors")
    assert any(k.startswith("diffusion_model.blocks.0.cross_attn.o.lora_magnitude_vector") for k in read_state_dict(tmp_path / "t2v.safetensors"))
    merge_dora(model)  # peft's own merge

    fresh = build_dit(DIT).eval()
    fresh.load_state_dict(base_state)
    report = merge_adapter_file(fresh, tmp_path / "t2v.safetensors")
    assert report.used == 2 * 10 * 3
    for key, value in model.state_dict().items():
        assert torch.allclose(fresh.state_dict()[key], value, atol=1e-6), key
    assert torch.allclose(dit_out(fresh), dit_out(model), atol=1e-5)


def test_dora_formula_uses_output_row_norms():
    weight, delta, m = torch.randn(6, 4), torch.randn(6, 4), torch.rand(6) + 0.5
    merged = dora_merge(weight, delta, m)
    assert torch.allclose(merged.norm(dim=1), m, atol=1e-6)  # each output row has norm m
    assert torch.allclose(merged / merged.norm(dim=1, keepdim=True), (weight + delta) / (weight + delta).norm(dim=1, keepdim=True))


def test_distill_lora_merges_at_strength(tmp_path):
    torch.manual_seed(0)
    model = build_dit(DIT).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(7)
    down, up = torch.randn(3, 32, generator=g), torch.randn(32, 3, generator=g)
    diff_b, diff = torch.randn(32, generator=g), torch.randn(32, generator=g)
    save_file({
        "diffusion_model.blocks.1.self_attn.q.lora_down.weight": down,
        "diffusion_model.blocks.1.self_attn.q.lora_up.weight": up,
        "diffusion_model.blocks.1.self_attn.q.alpha": torch.tensor(6.0),
        "diffusion_model.blocks.1.self_attn.q.diff_b": diff_b,
        "diffusion_model.blocks.0.norm3.diff": diff,  # original norm3 is diffusers' norm2
        "blocks.0.ffn.2.lora_A.weight": torch.randn(2, 64, generator=g),
        "blocks.0.ffn.2.lora_B.weight": torch.randn(32, 2, generator=g),
    }, tmp_path / "lightx2v.safetensors")
    report = merge_adapter_file(model, tmp_path / "lightx2v.safetensors", strength=0.5)
    # one line says where the reference release's loader would differ: it ignores alpha (here 6 for rank 3)
    assert report.differs == ["1 LoRAs scaled by alpha/rank (it ignores alpha)"]
    assert "unlike the reference release: 1 LoRAs scaled by alpha/rank" in report.summary()
    after = model.state_dict()
    q = "blocks.1.attn1.to_q."
    assert torch.allclose(after[q + "weight"], before[q + "weight"] + 0.5 * (6.0 / 3) * up @ down, atol=1e-6)
    assert torch.allclose(after[q + "bias"], before[q + "bias"] + 0.5 * diff_b, atol=1e-6)
    assert torch.allclose(after["blocks.0.norm2.weight"], before["blocks.0.norm2.weight"] + 0.5 * diff)
    assert not torch.equal(after["blocks.0.ffn.net.2.weight"], before["blocks.0.ffn.net.2.weight"])
    assert torch.equal(after["blocks.1.attn1.to_k.weight"], before["blocks.1.attn1.to_k.weight"])


@pytest.mark.parametrize("sd, message", [
    ({"blocks.0.self_attn.q.lora_A.weight": torch.zeros(2, 32), "blocks.0.self_attn.q.lora_B.weight": torch.zeros(31, 2)},
     r"blocks\.0\.attn1\.to_q\.weight: lora_B \(31, 2\) @ lora_A \(2, 32\) != weight \(32, 32\)"),
    ({"blocks.0.self_attn.q.lora_A.weight": torch.zeros(2, 32)}, r"missing keys \[blocks\.0\.attn1\.to_q\.weight: the partner of lora_A"),
    ({"blocks.9.self_attn.q.diff_b": torch.zeros(32)}, r"unknown keys \[blocks\.9\.self_attn\.q\.bias \(-> blocks\.9\.attn1\.to_q\.bias\)"),
    ({"blocks.0.self_attn.q.weird": torch.zeros(32)}, r"unknown keys \[blocks\.0\.self_attn\.q\.weird\]"),
])
def test_bad_adapter_keys_are_named(tmp_path, sd, message):
    save_file(sd, tmp_path / "a.safetensors")
    with pytest.raises(CheckpointMismatch, match=message):
        merge_adapter_file(build_dit(DIT), tmp_path / "a.safetensors")


def test_distill_lora_merge_matches_diffusers(tmp_path):
    """diffusers' own converter for these files (lora_down/up, alpha, diff_b) + fuse_lora is the oracle."""
    from diffusers.loaders.lora_conversion_utils import _convert_non_diffusers_wan_lora_to_diffusers

    g = torch.Generator().manual_seed(8)
    sd = {"diffusion_model.blocks.1.cross_attn.o.lora_down.weight": torch.randn(4, 32, generator=g),
          "diffusion_model.blocks.1.cross_attn.o.lora_up.weight": torch.randn(32, 4, generator=g),
          "diffusion_model.blocks.1.cross_attn.o.alpha": torch.tensor(2.0),
          "diffusion_model.blocks.1.cross_attn.o.diff_b": torch.randn(32, generator=g),
          "diffusion_model.blocks.0.ffn.0.lora_down.weight": torch.randn(4, 32, generator=g),
          "diffusion_model.blocks.0.ffn.0.lora_up.weight": torch.randn(64, 4, generator=g),
          "diffusion_model.blocks.0.ffn.0.diff_b": torch.randn(64, generator=g)}
    save_file(sd, tmp_path / "distill.safetensors")
    torch.manual_seed(0)
    ours = build_dit(DIT).eval()
    oracle = build_dit(DIT).eval()
    oracle.load_state_dict(ours.state_dict())
    merge_adapter_file(ours, tmp_path / "distill.safetensors", strength=0.7)
    converted = _convert_non_diffusers_wan_lora_to_diffusers({k: v.clone() for k, v in sd.items()})
    oracle.load_lora_adapter({k.removeprefix("transformer."): v for k, v in converted.items()}, prefix=None)
    oracle.fuse_lora(lora_scale=0.7)
    oracle.unload_lora()
    for key, value in oracle.state_dict().items():
        assert torch.allclose(ours.state_dict()[key], value, atol=1e-5), key


def test_modulation_norm_and_conv_adapters(tmp_path):
    """diff_m (modulation), norm diffs and a 5-D conv LoRA (patch embedding), which LightX2V files also carry."""
    torch.manual_seed(0)
    model = build_dit(DIT).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(9)
    diff_m, norm_q = torch.randn(1, 6, 32, generator=g), torch.randn(32, generator=g)
    down, up = torch.randn(2, 16, 1, 2, 2, generator=g), torch.randn(32, 2, 1, 1, 1, generator=g)
    save_file({"diffusion_model.blocks.1.diff_m": diff_m, "diffusion_model.blocks.0.self_attn.norm_q.diff": norm_q,
               "diffusion_model.patch_embedding.lora_down.weight": down,
               "diffusion_model.patch_embedding.lora_up.weight": up}, tmp_path / "x.safetensors")
    assert merge_adapter_file(model, tmp_path / "x.safetensors").differs == ["1 conv LoRAs merged (it skips them)"]
    after = model.state_dict()
    assert torch.allclose(after["blocks.1.scale_shift_table"], before["blocks.1.scale_shift_table"] + diff_m)
    assert torch.allclose(after["blocks.0.attn1.norm_q.weight"], before["blocks.0.attn1.norm_q.weight"] + norm_q)
    conv_delta = torch.einsum("or,ritj->oitj", up.flatten(1), down[:, :, 0]).unsqueeze(2)
    assert torch.allclose(after["patch_embedding.weight"], before["patch_embedding.weight"] + conv_delta, atol=1e-6)


def test_dora_at_half_strength_is_the_dora_formula(tmp_path):
    """W' = m (W + s dW) / ||W + s dW||_row at s = 0.5: the strength scales dW inside the norm, not the result."""
    model, base_state = peft_dora_model()
    save_file(reference_dora_file(model), tmp_path / "t2v.safetensors")
    fresh = build_dit(DIT).eval()
    fresh.load_state_dict(base_state)
    merge_adapter_file(fresh, tmp_path / "t2v.safetensors", strength=0.5)
    adapted = {name.removesuffix(".base_layer"): m for name, m in model.named_modules() if hasattr(m, "lora_A")}
    assert len(adapted) == 2 * 10
    merged = fresh.state_dict()
    for name, layer in adapted.items():
        delta = layer.lora_B["default"].weight @ layer.lora_A["default"].weight  # scale alpha / r = 1
        expected = dora_merge(base_state[name + ".weight"], 0.5 * delta, layer.lora_magnitude_vector["default"].weight)
        assert torch.allclose(merged[name + ".weight"], expected, atol=1e-6), name
    assert torch.equal(merged["blocks.0.attn1.norm_q.weight"], base_state["blocks.0.attn1.norm_q.weight"])


def test_saved_dora_merges_with_its_metadata_scale(tmp_path):
    """``save_dora``'s file (diffusers names, peft config in the metadata, alpha / r = 2) merges as peft does."""
    torch.manual_seed(0)
    model = build_dit(DIT).eval()
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    add_dora(model, r=4, alpha=8)
    randomize_adapter(model)
    path = save_dora(model, tmp_path / "dora")
    merge_dora(model)
    fresh = build_dit(DIT).eval()
    fresh.load_state_dict(base_state)
    merge_adapter_file(fresh, path)
    for key, value in model.state_dict().items():
        assert torch.allclose(fresh.state_dict()[key], value, atol=1e-6), key


def test_keys_matching_no_module_raise(tmp_path):
    sd = {"transformer.text_encoder.q.lora_A.weight": torch.zeros(2, 32),
          "transformer.text_encoder.q.lora_B.weight": torch.zeros(32, 2)}
    save_file(sd, tmp_path / "other_model.safetensors")
    with pytest.raises(CheckpointMismatch, match=r"unknown keys \[text_encoder\.q\.weight .*not in the transformer"):
        merge_adapter_file(build_dit(DIT), tmp_path / "other_model.safetensors")


def test_adapter_peft_did_not_load_raises(tmp_path, monkeypatch):
    """diffusers only warns about keys it cannot place; tensors peft does not hold are named, nothing is merged."""
    g = torch.Generator().manual_seed(3)
    save_file({f"blocks.0.attn1.{m}.lora_{ab}.weight": torch.randn(*shape, generator=g)
               for m in ("to_q", "to_k") for ab, shape in (("A", (2, 32)), ("B", (32, 2)))}, tmp_path / "a.safetensors")
    torch.manual_seed(0)
    model = build_dit(DIT).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    load = type(model).load_lora_adapter
    monkeypatch.setattr(type(model), "load_lora_adapter", lambda self, sd, **kwargs: load(  # lora_B stays peft's zeros
        self, {k: v for k, v in sd.items() if k != "blocks.0.attn1.to_k.lora_B.weight"}, **kwargs))
    with pytest.raises(CheckpointMismatch,
                       match=r"missing keys \[blocks\.0\.attn1\.to_k\.lora_B\.weight\] \(peft did not load"):
        merge_adapter_file(model, tmp_path / "a.safetensors")
    monkeypatch.setattr(type(model), "load_lora_adapter", lambda self, *args, **kwargs: None)  # loads nothing at all
    with pytest.raises(CheckpointMismatch, match=r"missing keys \[blocks\.0\.attn1\.to_k\.lora_A\.weight, "
                       r"blocks\.0\.attn1\.to_k\.lora_B\.weight, blocks\.0\.attn1\.to_q\.lora_A\.weight.*"
                       r"\(peft did not load"):
        merge_adapter_file(model, tmp_path / "a.safetensors")
    assert not has_adapter(model)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_lora_ranks_differ_between_modules(tmp_path):
    """Ranks 2, 5 and 3 (one with alpha) in one file: each module merges with its own rank and scale."""
    torch.manual_seed(0)
    model = build_dit(DIT).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(4)
    shapes = {"blocks.0.self_attn.q": (2, 32, 32), "blocks.1.cross_attn.k": (5, 32, 32), "blocks.1.ffn.0": (3, 32, 64)}
    sd = {}
    for module, (rank, fan_in, fan_out) in shapes.items():
        sd[f"diffusion_model.{module}.lora_down.weight"] = torch.randn(rank, fan_in, generator=g)
        sd[f"diffusion_model.{module}.lora_up.weight"] = torch.randn(fan_out, rank, generator=g)
    sd["diffusion_model.blocks.1.cross_attn.k.alpha"] = torch.tensor(2.5)
    save_file(sd, tmp_path / "ranks.safetensors")
    merge_adapter_file(model, tmp_path / "ranks.safetensors", strength=0.8)
    after = model.state_dict()
    for module, ours, scale in (("blocks.0.self_attn.q", "blocks.0.attn1.to_q", 1.0),
                                ("blocks.1.cross_attn.k", "blocks.1.attn2.to_k", 2.5 / 5),
                                ("blocks.1.ffn.0", "blocks.1.ffn.net.0.proj", 1.0)):
        up, down = sd[f"diffusion_model.{module}.lora_up.weight"], sd[f"diffusion_model.{module}.lora_down.weight"]
        expected = before[ours + ".weight"] + 0.8 * scale * up @ down
        assert torch.allclose(after[ours + ".weight"], expected, atol=1e-5), ours
    assert not has_adapter(model)


def test_dora_and_lora_modules_in_one_file(tmp_path):
    """peft turns DoRA on per adapter: a file with DoRA on one module and plain LoRA on another merges each as such."""
    torch.manual_seed(0)
    model = build_dit(DIT).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(6)
    a_q, b_q, m_q = torch.randn(2, 32, generator=g), torch.randn(32, 2, generator=g), torch.rand(32, generator=g) + 0.5
    a_k, b_k = torch.randn(2, 32, generator=g), torch.randn(32, 2, generator=g)
    save_file({"blocks.0.attn1.to_q.lora_A.weight": a_q, "blocks.0.attn1.to_q.lora_B.weight": b_q,
               "blocks.0.attn1.to_q.lora_magnitude_vector.weight": m_q,
               "blocks.0.attn1.to_k.lora_A.weight": a_k, "blocks.0.attn1.to_k.lora_B.weight": b_k},
              tmp_path / "m.safetensors")
    merge_adapter_file(model, tmp_path / "m.safetensors")
    after = model.state_dict()
    q, k = "blocks.0.attn1.to_q.weight", "blocks.0.attn1.to_k.weight"
    assert torch.allclose(after[q], dora_merge(before[q], b_q @ a_q, m_q), atol=1e-6)
    assert torch.allclose(after[k], before[k] + b_k @ a_k, atol=1e-5)


def test_conv_dora_with_comfyui_dora_scale(tmp_path):
    """A DoRA on the patch embedding (Conv3d) with ComfyUI's ``dora_scale`` of shape (out, 1) goes through peft's
    Conv3d DoRA: W' = m (W + s dW) / ||W + s dW|| over each output channel."""
    torch.manual_seed(0)
    model = build_dit(DIT).eval()
    before = model.patch_embedding.weight.detach().clone()
    g = torch.Generator().manual_seed(10)
    down, up = torch.randn(2, 16, 1, 2, 2, generator=g), torch.randn(32, 2, 1, 1, 1, generator=g)
    scale = torch.rand(32, 1, generator=g) + 0.5
    save_file({"diffusion_model.patch_embedding.lora_down.weight": down,
               "diffusion_model.patch_embedding.lora_up.weight": up,
               "diffusion_model.patch_embedding.dora_scale": scale}, tmp_path / "c.safetensors")
    merge_adapter_file(model, tmp_path / "c.safetensors", strength=0.5)
    conv_delta = torch.einsum("or,ritj->oitj", up.flatten(1), down[:, :, 0]).unsqueeze(2)
    expected = dora_merge(before, 0.5 * conv_delta, scale.flatten())
    assert torch.allclose(model.patch_embedding.weight, expected, atol=1e-6)
    assert type(model.patch_embedding) is torch.nn.Conv3d


def test_transformer_with_peft_adapters_is_refused(tmp_path):
    """unload_lora() after the merge would also remove the model's own adapters: merging into it is refused."""
    save_file({"blocks.0.attn1.to_q.diff_b": torch.zeros(32)}, tmp_path / "a.safetensors")
    model = build_dit(DIT)
    add_dora(model, r=2, alpha=2)
    with pytest.raises(WanAlphaError, match="without peft adapters"):
        merge_adapter_file(model, tmp_path / "a.safetensors")
    assert has_adapter(model)


def test_a_bf16_model_merges_at_float32_precision(tmp_path):
    """A 14B DiT is loaded in bf16: its merge must equal merging the same weights in float32 then rounding, not
    peft's bf16 arithmetic (about 1 % off for DoRA); the file is float32, as trained adapters are saved."""
    model, base_state = peft_dora_model()
    save_file(reference_dora_file(model), tmp_path / "t2v.safetensors")
    reference = build_dit(DIT).eval()
    reference.load_state_dict({k: v.bfloat16().float() for k, v in base_state.items()})
    merge_adapter_file(reference, tmp_path / "t2v.safetensors", strength=0.5)
    ours = build_dit(DIT).eval()
    ours.load_state_dict(base_state)
    torch.nn.Module.to(ours, torch.bfloat16)  # every weight, as a bf16 checkpoint would be
    merge_adapter_file(ours, tmp_path / "t2v.safetensors", strength=0.5)
    merged = [k for k in base_state if not torch.equal(reference.state_dict()[k], base_state[k].bfloat16().float())]
    assert len(merged) == 2 * 10  # every DoRA-adapted weight of the two blocks changed
    for key, value in reference.state_dict().items():
        assert ours.state_dict()[key].dtype == torch.bfloat16
        assert torch.equal(ours.state_dict()[key], value.bfloat16()), key
