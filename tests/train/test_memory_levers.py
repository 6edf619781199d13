"""The trainers' memory levers: each switch does what it says, and changes nothing it should not."""

import numpy as np
import pytest
import torch

from tests.tiny import DIT, dit_train_config, save_training_assets, tiny_vae, write_yaml
from wan_alpha.config import load_config
from wan_alpha.errors import WanAlphaError
from wan_alpha.models.dit import add_dora, build_dit
from wan_alpha.models.text_encoders import load_text_encoder
from wan_alpha.train.dit import DiTTrainConfig, DiTTrainer, train_dit
from wan_alpha.train.estimate import PeakMemory
from wan_alpha.train.loop import (
    LoopConfig,
    build_datasets,
    cast_frozen_weights,
    make_optimizer,
    sample_generators,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("assets")
    save_training_assets(root)
    return root


def _nonzero_lora(model: torch.nn.Module) -> None:
    """Fresh adapters start with lora_B = 0; make them non-zero so every adapter weight gets a gradient."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.1, generator=torch.Generator().manual_seed(len(name)))


def _dit_step(checkpointing: bool):
    torch.manual_seed(0)
    model = build_dit({**DIT, "num_layers": 4})
    add_dora(model, 4, 4)
    _nonzero_lora(model)
    if checkpointing:
        model.enable_gradient_checkpointing()
    model.train()
    generator = torch.Generator().manual_seed(1)
    latents = torch.randn(2, 16, 3, 8, 8, generator=generator, requires_grad=True)
    text = torch.randn(2, 8, 32, generator=generator)
    with PeakMemory() as memory:
        out = model(hidden_states=latents, timestep=torch.tensor([300, 700]), encoder_hidden_states=text, return_dict=False)[0]
        loss = out.square().mean()
        loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    return loss.detach(), {**grads, "input": latents.grad}, memory.peak


def test_dit_gradient_checkpointing_gives_the_same_loss_and_gradients_with_less_memory():
    loss, grads, peak = _dit_step(False)
    loss_ckpt, grads_ckpt, peak_ckpt = _dit_step(True)
    torch.testing.assert_close(loss_ckpt, loss)
    assert grads.keys() == grads_ckpt.keys() and len(grads) > 10
    for name, grad in grads.items():
        torch.testing.assert_close(grads_ckpt[name], grad, msg=name)
    assert peak_ckpt < 0.6 * peak, (peak_ckpt, peak)


def _vae_decode_step(checkpointing: bool):
    torch.manual_seed(0)
    vae = tiny_vae().train()
    _nonzero_lora(vae)
    if checkpointing:
        vae.enable_gradient_checkpointing()
    latent = torch.randn(1, 16, 3, 2, 2, generator=torch.Generator().manual_seed(1), requires_grad=True)  # 9 frames 16x16
    with PeakMemory() as memory:
        rgb, alpha, _ = vae.decode_straight_through(latent)
        loss = rgb.square().mean() + alpha.mean()
        loss.backward()
    grads = {n: p.grad for n, p in vae.named_parameters() if p.requires_grad and ".lora_" in n}
    return loss.detach(), {**grads, "latent": latent.grad}, memory.peak


def test_vae_decoder_checkpointing_gives_the_same_loss_and_gradients_with_less_memory():
    loss, grads, peak = _vae_decode_step(False)
    loss_ckpt, grads_ckpt, peak_ckpt = _vae_decode_step(True)
    torch.testing.assert_close(loss_ckpt, loss)
    assert len(grads) > 10
    for name, grad in grads.items():  # the latent's gradient crosses frames through the causal cache
        torch.testing.assert_close(grads_ckpt[name], grad, msg=name)
    assert peak_ckpt < 0.6 * peak, (peak_ckpt, peak)


def test_bf16_base_weights_keep_adapter_weights_and_optimizer_state_in_float32():
    torch.manual_seed(0)
    model = build_dit(DIT)
    add_dora(model, 4, 4)
    loop = LoopConfig(mixed_precision="bf16", base_dtype="bfloat16")
    cast_frozen_weights(model, loop)
    params = dict(model.named_parameters())
    assert params["blocks.0.attn1.to_q.base_layer.weight"].dtype == torch.bfloat16
    assert params["blocks.0.ffn.net.2.base_layer.weight"].dtype == torch.bfloat16
    assert params["blocks.0.scale_shift_table"].dtype == torch.float32  # diffusers keeps it in fp32
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(p.dtype == torch.float32 for p in trainable)
    optimizer = make_optimizer(trainable, loop)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(hidden_states=torch.randn(1, 16, 2, 8, 8), timestep=torch.tensor([500]),
                    encoder_hidden_states=torch.randn(1, 8, 32), return_dict=False)[0]
    out.float().square().mean().backward()
    optimizer.step()
    states = [s for s in optimizer.state.values()]
    assert states and all(s["exp_avg"].dtype == s["exp_avg_sq"].dtype == torch.float32 for s in states)
    assert all(torch.isfinite(p).all() for p in trainable)


def test_bad_memory_settings_are_user_errors():
    with pytest.raises(WanAlphaError, match="mixed_precision: bf16"):
        LoopConfig(base_dtype="bfloat16")
    with pytest.raises(WanAlphaError, match="train.base_dtype"):
        LoopConfig(base_dtype="float16")
    with pytest.raises(WanAlphaError, match="train.optimizer"):
        LoopConfig(optimizer="sgd")


def test_8bit_adamw_needs_bitsandbytes():
    params = [torch.nn.Parameter(torch.zeros(4))]
    loop = LoopConfig(optimizer="adamw8bit")
    try:
        import bitsandbytes
    except ImportError:
        with pytest.raises(WanAlphaError, match="pip install bitsandbytes"):
            make_optimizer(params, loop)
    else:
        assert isinstance(make_optimizer(params, loop), bitsandbytes.optim.AdamW8bit)


def test_latent_cache_is_memory_mapped_at_81_frames(tmp_path, assets):
    config = write_yaml(tmp_path / "dit.yaml", dit_train_config(assets),
                        data={"synthetic": {"num_clips": 2, "frames": 81, "height": 32, "width": 32}})
    trainer = DiTTrainer(load_config(DiTTrainConfig, config))
    vae = trainer.load_vae().eval()
    text = load_text_encoder("umt5", assets / "umt5", 8)
    clips, _ = build_datasets(trainer.config.data)
    cache = trainer.cache_inputs(vae, text, clips, tmp_path / "cache", seed=3)
    item = cache[1]
    assert isinstance(cache._arrays["latents"], np.memmap)  # read from disk on demand, not loaded
    assert item["latents"].shape == (16, 21, 4, 4) and item["mask"].shape == (1, 21, 4, 4) and item["index"] == 1
    expected = trainer.encode_clip(vae, text, clips[1], sample_generators(torch.Generator().manual_seed(3), [1])[0])
    for key in ("latents", "mask", "text"):
        torch.testing.assert_close(item[key], expected[key])
    written = (tmp_path / "cache" / "latents.npy").stat().st_mtime_ns
    trainer.cache_inputs(vae, text, clips, tmp_path / "cache", seed=3)  # complete: reused, not rewritten
    assert (tmp_path / "cache" / "latents.npy").stat().st_mtime_ns == written


def test_offload_encoders_moves_the_frozen_encoders_to_the_cpu_after_caching(tmp_path, assets, monkeypatch):
    moved = []
    original = torch.nn.Module.to

    def recording_to(module, *args, **kwargs):
        moved.append((type(module).__name__, args[0] if args else kwargs.get("device")))
        return original(module, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "to", recording_to)
    config = write_yaml(tmp_path / "dit.yaml", dit_train_config(assets), offload_encoders=True,
                        output_dir=str(tmp_path / "run"), samples={"prompts": []},
                        data={"synthetic": {"num_clips": 2, "frames": 5, "height": 32, "width": 32}, "validation_clips": 0},
                        train={"max_steps": 1, "batch_size": 2})
    train_dit(config)
    assert ("RGBAVAE", "cpu") in moved and ("UMT5EncoderModel", "cpu") in moved
    with pytest.raises(WanAlphaError, match="needs cache: true"):
        load_config(DiTTrainConfig, config, {"cache": False})
