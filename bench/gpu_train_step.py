"""Real-size training steps of both stages on one GPU (random weights): peak memory and step time beside the estimate.

    python bench/gpu_train_step.py [--stage dit|vae|both] [--steps 3] [--out docs/results/gpu_train_step.json]
    python bench/gpu_train_step.py --tiny     # the tiny configs on the CPU: checks this script, not a GPU figure

DiT: ``dit_14b`` (Wan2.1-T2V-14B architecture, DoRA r=32, frozen weights in bf16, gradient checkpointing, bf16
autocast) at 81x480x832, batch 1. VAE: ``vae_wan21`` (Wan2.1 VAE, LoRA rank 128, the 1.3B TABD DiT with a zero
context) at the reference trainer's 17x272x272. The models are the trainers' own (``build_transformer`` /
``build_model`` with the config's memory levers) and the step is the trainers' loss, backward and AdamW step.
Peak memory is ``torch.cuda.max_memory_allocated`` (on the CPU: weights + :class:`PeakMemory`'s step peak); the
step time is the median of the steps after the first. Not run yet: no GPU was available when it was written.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from wan_alpha.config import load_config
from wan_alpha.rgba import latent_frame_count
from wan_alpha.train.dit import DiTTrainConfig, DiTTrainer
from wan_alpha.train.estimate import GIB, WAN21_DIT, Layout, PeakMemory
from wan_alpha.train.loop import make_optimizer, sample_generators
from wan_alpha.train.vae import RGBAVAETrainer, VAETrainConfig

ONE_GPU = Layout("single_gpu", 1, "ddp")


def dit_case(tiny: bool, device: torch.device):
    real = {"base_dit": None, "dit_config": WAN21_DIT["14B"], "rgba_vae": "none"}
    trainer = DiTTrainer(load_config(DiTTrainConfig, "dit_tiny" if tiny else "dit_14b", {"rgba_vae": "none"} if tiny else real))
    cfg, arch = trainer.config, trainer.config.dit_config
    with torch.device(device):
        model = trainer._seeded_transformer().train()
    size, length = cfg.data.synthetic or cfg.data.manifest, cfg.text_encoder.max_length or 512
    latents = (cfg.train.batch_size, arch["in_channels"], latent_frame_count(size.frames), size.height // 8, size.width // 8)
    inputs = {"latents": torch.randn(latents, device=device), "mask": torch.rand(latents[0], 1, *latents[2:], device=device),
              "text": torch.randn(latents[0], length, arch["text_dim"], device=device)}
    empty = torch.zeros(length, arch["text_dim"], device=device)
    generators = sample_generators(torch.Generator().manual_seed(0), range(latents[0]))
    return trainer, model, [], lambda: trainer.flow_loss(model, inputs, generators, empty)


def vae_case(tiny: bool, device: torch.device):
    real = {"model.base_vae": None, "model.base_vae_config": {}, "tabd.dit": None, "tabd.dit_config": WAN21_DIT["1.3B"],
            "tabd.text_encoder": "none", "data.manifest.height": 272, "data.manifest.width": 272}
    trainer = RGBAVAETrainer(load_config(VAETrainConfig, "vae_tiny" if tiny else "vae_wan21", None if tiny else real))
    cfg = trainer.config
    with torch.device(device):
        vae = trainer._seeded_model().train()
        trainer.tabd = trainer.build_tabd()
    if cfg.train.mixed_precision == "bf16":  # the trainer runs the frozen DiT in the autocast type
        trainer.tabd = trainer.tabd[0].to(torch.bfloat16), trainer.tabd[1].to(device, torch.bfloat16)
    size = cfg.data.synthetic or cfg.data.manifest
    shape = (cfg.train.batch_size, 1, size.frames, size.height, size.width)
    batch = {"rgb": torch.rand(shape[0], 3, *shape[2:], device=device) * 2 - 1, "alpha": torch.rand(shape, device=device),
             "index": list(range(shape[0]))}
    return trainer, vae, [trainer.tabd[0]], lambda: trainer.loss(vae, batch, torch.Generator().manual_seed(0))["loss"]


def measure(case, tiny: bool, device: torch.device, steps: int) -> dict:
    trainer, model, frozen, loss_fn = case(tiny, device)
    optimizer = make_optimizer([p for p in model.parameters() if p.requires_grad], trainer.config.train)
    autocast = torch.autocast(device.type, torch.bfloat16, enabled=trainer.config.train.mixed_precision == "bf16")
    weights = sum(p.numel() * p.element_size() for m in (model, *frozen) for p in m.parameters())
    seconds, cpu_peak = [], PeakMemory()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(steps):
        start = time.perf_counter()
        with autocast, (cpu_peak if device.type == "cpu" else torch.enable_grad()):
            loss_fn().backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else weights + cpu_peak.peak
    estimate = trainer.estimate()
    step_seconds = statistics.median(seconds[1:] or seconds)
    flops = estimate.flops[estimate.checkpointing].at(estimate.batch_size)
    return {"peak_gib": peak / GIB, "estimated_gib": estimate.per_gpu(ONE_GPU)["total"] / GIB,
            "step_seconds": step_seconds, "estimated_tflop": flops / 1e12, "achieved_tflops": flops / step_seconds / 1e12,
            "steps": len(seconds), "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=("dit", "vae", "both"), default="both")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="the tiny configs on the CPU (a check of this script)")
    parser.add_argument("--out", type=Path, default=Path("docs/results/gpu_train_step.json"))
    args = parser.parse_args()
    device = torch.device("cpu" if args.tiny else "cuda")
    cases = {"dit": dit_case, "vae": vae_case}
    results = {name: measure(cases[name], args.tiny, device, args.steps)
               for name in (("dit", "vae") if args.stage == "both" else (args.stage,))}
    print(json.dumps(results, indent=1))
    if not args.tiny:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
