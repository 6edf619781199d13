"""The training estimator (meta-device trace + per-layout arithmetic) against a real step of the shipped tiny configs.

"Measured" is the bytes of live tensors at the step's peak (weights, gradients, AdamW state, activations and
temporaries), counted by :class:`PeakMemory` on real CPU tensors: the quantity a GPU's ``max_memory_allocated``
reports. The process's RSS would instead measure the allocator's cache and the libraries' own memory.
"""

import pytest
import torch

from tests.tiny import VAE_TRAIN, write_yaml
from wan_alpha.cli import main
from wan_alpha.config import load_config
from wan_alpha.errors import WanAlphaError
from wan_alpha.train.dit import DiTTrainConfig, DiTTrainer
from wan_alpha.train.estimate import ACCELERATE_CONFIG_DIR, Layout, PeakMemory, shipped_layouts
from wan_alpha.train.loop import build_datasets, make_optimizer, sample_generators
from wan_alpha.train.vae import RGBAVAETrainer, VAETrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")

ONE_GPU = Layout("single_gpu", 1, "ddp")


def _bytes(*modules: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for m in modules for p in m.parameters())


def _measure(step, model: torch.nn.Module, *frozen: torch.nn.Module) -> int:
    """Weights + the peak of everything one real step (loss, backward, AdamW step) creates."""
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], LOOP)
    with PeakMemory() as memory:
        step().backward()
        optimizer.step()
    return _bytes(model, *frozen) + memory.peak


LOOP = load_config(DiTTrainConfig, "dit_tiny", {"rgba_vae": "none"}).train


@pytest.fixture(scope="module")
def dit_tiny():
    """The shipped dit_tiny config (its RGBA VAE need not exist for an estimate) and its estimate."""
    trainer = DiTTrainer(load_config(DiTTrainConfig, "dit_tiny", {"rgba_vae": "not-trained-yet"}))
    return trainer, trainer.estimate()


@pytest.mark.parametrize("checkpointing", [False, True])
def test_dit_tiny_estimate_matches_a_measured_step(dit_tiny, checkpointing):
    trainer, estimate = dit_tiny
    predicted = estimate.per_gpu(ONE_GPU, checkpointing)["total"]
    cfg = trainer.config
    torch.manual_seed(0)
    model = trainer.build_transformer().train()
    if checkpointing:
        model.enable_gradient_checkpointing()
    batch, size = cfg.train.batch_size, cfg.data.synthetic
    latents = (batch, 16, (size.frames - 1) // 4 + 1, size.height // 8, size.width // 8)
    inputs = {"latents": torch.randn(latents), "mask": torch.rand(batch, 1, *latents[2:]),
              "text": torch.randn(batch, cfg.text_encoder.max_length, 384)}
    empty = torch.zeros(cfg.text_encoder.max_length, 384)
    generators = sample_generators(torch.Generator().manual_seed(0), range(batch))
    measured = _measure(lambda: trainer.flow_loss(model, inputs, generators, empty), model)
    print(f"predicted {predicted / 2**20:.1f} MiB, measured {measured / 2**20:.1f} MiB")  # pytest -s shows them
    assert predicted == pytest.approx(measured, rel=0.25), (predicted, measured)


@pytest.mark.slow
def test_vae_tiny_estimate_matches_a_measured_step():
    trainer = RGBAVAETrainer(load_config(VAETrainConfig, "vae_tiny"))
    predicted = trainer.estimate().per_gpu(ONE_GPU)["total"]
    torch.manual_seed(0)
    vae = trainer.build_model().train()
    trainer.tabd = trainer.build_tabd()
    item = build_datasets(trainer.config.data)[0][0]
    batch = {"rgb": item["rgb"][None], "alpha": item["alpha"][None], "index": torch.tensor([0])}
    measured = _measure(lambda: trainer.loss(vae, batch, torch.Generator().manual_seed(0))["loss"], vae, trainer.tabd[0])
    print(f"predicted {predicted / 2**20:.1f} MiB, measured {measured / 2**20:.1f} MiB")  # pytest -s shows them
    assert predicted == pytest.approx(measured, rel=0.25), (predicted, measured)


def test_a_run_that_cannot_fit_is_refused_with_the_settings_that_would_fit(dit_tiny):
    _, estimate = dit_tiny
    layouts = {layout.name: layout for layout in shipped_layouts()}
    assert set(layouts) == {"single_gpu", "zero2_8gpu", "fsdp2_8gpu"} and layouts["zero2_8gpu"].zero_stage == 2
    assert 0 < estimate.trainable < estimate.parameters
    assert 0 < estimate.activations[True].per_clip < estimate.activations[False].per_clip
    assert estimate.flops[True].per_clip > estimate.flops[False].per_clip  # checkpointing recomputes the forward
    single = layouts["single_gpu"]
    without, with_ = estimate.per_gpu(single, False)["total"], estimate.per_gpu(single, True)["total"]
    gpu = int((without + with_) / 2)  # fits only with gradient checkpointing
    with pytest.raises(WanAlphaError, match="train.gradient_checkpointing: true"):
        estimate.check_fits(single, gpu, list(layouts.values()))
    estimate.check_fits(single, int(without) + 1, list(layouts.values()))  # fits: no error
    zero2, fsdp2 = estimate.per_gpu(layouts["zero2_8gpu"]), estimate.per_gpu(layouts["fsdp2_8gpu"])
    assert fsdp2["weights"] < zero2["weights"] and zero2["optimizer"] < estimate.per_gpu(single)["optimizer"]


def test_shipped_accelerate_configs_load_in_accelerate():
    from accelerate.commands.config.config_args import load_config_from_file
    from diffusers.models.transformers import transformer_wan

    kinds = {p.stem: load_config_from_file(str(p)) for p in ACCELERATE_CONFIG_DIR.glob("*.yaml")}
    assert {k: (c.distributed_type.value, c.num_processes) for k, c in kinds.items()} == {
        "single_gpu": ("NO", 1), "zero2_8gpu": ("DEEPSPEED", 8), "fsdp2_8gpu": ("FSDP", 8)}
    assert kinds["zero2_8gpu"].deepspeed_config["zero_stage"] == 2 and kinds["fsdp2_8gpu"].fsdp_config["fsdp_version"] == 2
    assert hasattr(transformer_wan, kinds["fsdp2_8gpu"].fsdp_config["fsdp_transformer_layer_cls_to_wrap"])


@pytest.mark.slow
def test_cli_dry_run_prints_the_estimate_and_trains_nothing(tmp_path, capsys):
    config = write_yaml(tmp_path / "vae.yaml", VAE_TRAIN)
    assert main(["train", "vae", "--config", str(config), "--output", str(tmp_path / "run"), "--dry-run",
                 "--tflops", "100"]) == 0
    out = capsys.readouterr().out
    assert "activations per clip with gradient checkpointing" in out and "at 100 TFLOP/s" in out
    assert "zero2_8gpu" in out and "fsdp2_8gpu" in out and not (tmp_path / "run").exists()
