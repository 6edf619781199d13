import pytest
import torch

from tests.tiny import DIT_Z4 as TINY
from wan_alpha.errors import WanAlphaError
from wan_alpha.models.adapters import merge_adapter_file
from wan_alpha.models.dit import ADAPTER_WEIGHT_NAME, add_dora, build_dit, has_adapter, merge_dora, save_dora


def inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(hidden_states=torch.randn(2, 4, 2, 8, 8, generator=g), timestep=torch.tensor([900.0, 100.0]),
                encoder_hidden_states=torch.randn(2, 5, TINY["text_dim"], generator=g), return_dict=False)


def run(model):
    with torch.no_grad():
        return model(**inputs())[0]


def perturb_adapter(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name or "lora_magnitude" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.05)


def test_only_dora_parameters_train_and_init_is_identity():
    torch.manual_seed(0)
    model = build_dit(TINY)
    base = run(model)
    add_dora(model, r=4, alpha=4)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    # 2 blocks x (8 attention projections + 2 FFN linears) x (lora_A, lora_B, magnitude)
    assert len(trainable) == 2 * 10 * 3
    assert all(any(k in n for k in ("lora_A", "lora_B", "lora_magnitude_vector")) for n in trainable)
    for module in ("attn1.to_q", "attn2.to_out.0", "ffn.net.0.proj", "ffn.net.2"):
        assert any(module in n for n in trainable), module
    assert not any("condition_embedder" in n or "proj_out" in n for n in trainable)
    assert torch.equal(run(model), base)
    loss = model(**inputs())[0].square().mean()
    loss.backward()
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)


def test_merged_equals_unmerged_and_is_the_base_graph():
    torch.manual_seed(0)
    model = build_dit(TINY)
    add_dora(model, r=4, alpha=8)
    perturb_adapter(model)
    adapted = run(model)
    merge_dora(model)
    assert not has_adapter(model)
    assert type(model.blocks[0].attn1.to_q) is torch.nn.Linear
    assert torch.allclose(run(model), adapted, atol=1e-5)


def test_saved_adapter_merges_into_a_fresh_model(tmp_path):
    torch.manual_seed(0)
    model = build_dit(TINY)
    model.save_pretrained(tmp_path / "base")
    base_out = run(model)
    add_dora(model, r=4, alpha=4)
    perturb_adapter(model)
    adapted = run(model)
    path = save_dora(model, tmp_path / "dora")
    assert path.name == ADAPTER_WEIGHT_NAME

    fresh = build_dit(path=tmp_path / "base")
    assert torch.equal(run(fresh), base_out)
    merge_adapter_file(fresh, path)  # the trainer's dora/ file: diffusers names, alpha / r in its metadata
    out = run(fresh)
    assert not torch.allclose(out, base_out, atol=1e-4)  # the adapter changed the outputs
    assert torch.allclose(out, adapted, atol=1e-5)


def test_bad_dit_sources(tmp_path):
    with pytest.raises(WanAlphaError, match="exactly one"):
        build_dit()
    with pytest.raises(WanAlphaError, match="not a diffusers transformer folder"):
        build_dit(path=tmp_path)
    with pytest.raises(WanAlphaError, match="not a WanTransformer3DModel config"):
        build_dit({"num_layerz": 2})
    model = build_dit(TINY)
    with pytest.raises(WanAlphaError, match="no adapter to save"):
        save_dora(model, tmp_path / "x")
