"""``wan-alpha generate`` and ``wan-alpha mask fit | draw``: text to RGBA video, transparency masks."""

from __future__ import annotations

import argparse
import json

from .. import EMBEDDED_MODEL
from ..errors import WanAlphaError
from .args import ELLIPSE_HELP, ELLIPSE_METAVAR, add_write_flags, write_options

# wan_alpha.sampling's SAMPLERS and MASK_FITS, spelled here so that --help imports no torch (a test keeps them equal)
SAMPLER_CHOICES = ("euler", "unipc", "dpm++")
MASK_FIT_CHOICES = ("reference", "moments")
# wan_alpha.models.quantize's QUANTIZE_METHODS and pipelines.memory's PRESETS (less low-vram), likewise
QUANTIZE_CHOICES = ("none", "int8", "fp8")
PRESET_CHOICES = ("24gb",)
MASK_FIT_HELP = ("how ellipses are fitted to alpha: reference (the release's gen_gaussian_mask.py: axes span the "
                 "object, angle of its solid core) or moments (tighter axes, angle of every opaque cell) "
                 "(default: the one --model was trained with; reference for Wan2.1 files)")
LUMA_AS_ALPHA_HELP = ("a colour video without alpha channel: use its brightness as the alpha (without this flag such a "
                      "clip is refused; RGBA videos and grayscale mattes need no flag)")


def embedded_settings() -> str:
    """What the embedded model generates by default, from its ``model_index.json`` (plain JSON: --help loads no torch)."""
    index = EMBEDDED_MODEL / "model_index.json"
    if not index.is_file():
        return "missing from this install"
    config = json.loads(index.read_text())
    return (f"{config['default_num_frames']} frames, {config['default_width']}x{config['default_height']}, "
            f"{config['fps']:g} fps, {config['num_inference_steps']} steps, guidance {config['guidance_scale']:g}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``generate`` and ``mask`` to the top-level parser."""
    _add_generate(sub)
    _add_mask(sub)


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="generate a transparent video from a text prompt",
        description="Generate an RGBA video from PROMPT. Without --model it uses the embedded tiny model "
        f"({embedded_settings()}; a small demo, see its model card), so it works with nothing downloaded. "
        "Where the object "
        "sits is steered by a transparency ellipse (default: centred, half the frame), a moving ellipse, "
        "an alpha video or a mask file. Outputs are written atomically; nothing partial is left on error.",
    )
    p.add_argument("prompt", nargs="?", metavar="PROMPT", help="what to generate (or use --prompts-file); with --image, "
                   "--video or --extend: what happens to it")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file (.webm, .mov, .zip, .webp, .apng, .gif, a folder name for PNGs); "
                   "with --prompts-file a folder")
    p.add_argument("--model", metavar="DIR", help="model folder (`wan-alpha train dit` writes OUTPUT/pipeline); "
                   "default: the embedded tiny model shipped in the package")
    p.add_argument("--prompts-file", metavar="F", help="one prompt per line; -o and --preview then name folders")
    p.add_argument("--negative-prompt", metavar="TEXT", help="what to avoid, used with --guidance > 1 (default: the model's; "
                   "the reference release's for --model-dir)")
    p.add_argument("--frames", type=int, metavar="N", help="frame count, 1 + 4k (default: the model's)")
    p.add_argument("--size", metavar="WxH", help="frame size, multiples of 16 (default: the model's)")
    p.add_argument("--steps", type=int, metavar="N", help="sampling steps (default: the model's)")
    p.add_argument("--guidance", type=float, metavar="G",
                   help="classifier-free guidance scale; 1 disables it (one model pass per step) (default: the model's)")
    p.add_argument("--sampler", choices=SAMPLER_CHOICES,
                   help="flow sampler: unipc and dpm++ with Wan2.1's timesteps (the reference release's unipc is the "
                   "default for --model-dir), euler as the embedded model was trained to sample (default: the model's)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="random seed, drawn on the device the model runs on (as the reference release draws it, so a "
                   "GPU reproduces its clips; a CPU gives other clips); batch prompts use N, N+1, ... (default 0)")
    p.add_argument("--ellipse", metavar=ELLIPSE_METAVAR, help=f"where the object is: {ELLIPSE_HELP}")
    p.add_argument("--ellipse-end", metavar=ELLIPSE_METAVAR, help="move the ellipse linearly to here by the last frame")
    p.add_argument("--mask-from", metavar="ALPHA_VIDEO",
                   help="fit ellipses to an RGBA video's alpha (or a grayscale matte), one per latent frame")
    p.add_argument("--mask-fit", choices=MASK_FIT_CHOICES, help=f"with --mask-from: {MASK_FIT_HELP}")
    p.add_argument("--luma-as-alpha", action="store_true", help=f"with --mask-from: {LUMA_AS_ALPHA_HELP}")
    p.add_argument("--mask", metavar="MASK", help="a mask file: torch or NumPy (any name, e.g. the reference release's "
                   "gauss_mask) or a grayscale video, one map per latent frame on any grid (resized to the clip's); "
                   "`wan-alpha mask fit|draw` make them")
    p.add_argument("--shift-mean", type=float, metavar="MU",
                   help="noise mean shift on the transparent side (default: the value the model was trained with)")
    p.add_argument("--preview", metavar="OUT.mp4", help="also write a checkerboard H.264 preview")
    p.add_argument("--format", help="output format when the extension does not say it (see `wan-alpha convert --help`)")
    add_write_flags(p)
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--skip-existing", action="store_true",
                   help="with --prompts-file: leave out prompts whose output exists (resume an interrupted batch)")
    _add_beyond_text(p)
    add_realscale(p).add_argument(  # generate's alone: the app serves one device
        "--context-parallel", action="store_true",
        help="launched on several GPUs (torchrun --nproc_per_node N -m wan_alpha generate ...): split each "
        "clip's DiT tokens across them (diffusers' Ulysses context parallelism) instead of giving each "
        "GPU its own prompts")
    p.set_defaults(func=_generate)


def _add_beyond_text(p: argparse.ArgumentParser) -> None:
    """Image -> video, video -> video and extending a clip (docs/image_to_video.md)."""
    g = p.add_argument_group("from an image or a clip (docs/image_to_video.md); the ellipse defaults to a fit of its alpha")
    g.add_argument("--image", metavar="IMG", help="animate this RGBA image: it is frame 0 (up to the VAE's round trip); "
                   "PNG, WebP, GIF or any clip format (its first frame); size from the image unless --size")
    g.add_argument("--image-alpha", metavar="MATTE", help="with --image: a grayscale matte giving an RGB image its alpha")
    g.add_argument("--opaque-image", action="store_true",
                   help="with --image: accept an image without alpha and animate it fully opaque")
    g.add_argument("--last-image", metavar="IMG", help="with --image or --extend: end on this RGBA image (the last "
                   "latent frame, i.e. the last 4 frames, is pinned to it; approximate, see the docs)")
    g.add_argument("--loop", action="store_true", help="with --image: end on the first image, for a loop")
    g.add_argument("--video", metavar="CLIP", help="restyle this RGBA clip with the prompt (SDEdit); frames and size "
                   "from the clip (1 + 4k frames, multiples of 16)")
    g.add_argument("--strength", type=float, metavar="S", help="with --video: noise level the clip is taken to, in "
                   "(0, 1]; low keeps the clip, 1 ignores it but its ellipse (default 0.6)")
    g.add_argument("--extend", metavar="CLIP", help="continue this RGBA clip: generate --frames frames starting from its "
                   "last --context-frames frames and write the clip, untouched, with the new frames appended")
    g.add_argument("--context-frames", type=int, default=5, metavar="N",
                   help="with --extend: the clip's last N frames (1 + 4k) the continuation starts from (default 5)")


def add_realscale(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Real-scale model from local Wan2.1 + Wan-Alpha files, and GPU memory options (docs/gpu.md); returns the
    options' group."""
    g = p.add_argument_group("real-scale model from local files (instead of --model)")
    g.add_argument("--model-dir", metavar="DIR", help="Wan2.1-T2V-14B folder, diffusers or original layout")
    g.add_argument("--vae-file", metavar="F", help="Wan-Alpha VAE file (decoder.bin: fusion + decoder LoRA)")
    g.add_argument("--rgb-decoder", metavar="F", help="merged RGB decoder (ComfyUI release) instead of --vae-file")
    g.add_argument("--alpha-decoder", metavar="F", help="merged alpha decoder (ComfyUI release) instead of --vae-file")
    g.add_argument("--dora-file", metavar="F", help="Wan-Alpha DiT DoRA (.safetensors), merged into the weights")
    g.add_argument("--dora-strength", type=float, default=1.0, metavar="S", help="DoRA ratio (default 1)")
    g.add_argument("--distill-lora", metavar="F", help="step-distillation LoRA (e.g. LightX2V); then 4 steps, no CFG")
    g.add_argument("--distill-strength", type=float, default=1.0, metavar="S", help="distill LoRA strength (default 1)")
    m = p.add_argument_group("GPU memory and speed")
    m.add_argument("--offload", choices=["none", "model", "sequential"],
                   help="none: all on the GPU (fastest); model: one model at a time; sequential: layer by layer "
                   "(default: none, or the preset's)")
    m.add_argument("--low-vram", action="store_true", help="for small cards: sequential offload + VAE tiling/slicing "
                   "(slowest; ~4 GiB at 81x832x480)")
    m.add_argument("--preset", choices=PRESET_CHOICES,
                   help="24gb: int8 DiT + model offload + VAE tiling (estimate ~17 GiB at 81x832x480); flags given "
                   "with it replace the preset's")
    m.add_argument("--quantize", choices=QUANTIZE_CHOICES,
                   help="store the DiT blocks' weights in 8 bits (torchao, pip install 'wan-alpha[quant]'): int8 "
                   "weight-only (any GPU or CPU), fp8 weights and activations (Ada/Hopper GPUs) (default: none)")
    m.add_argument("--vae-dtype", choices=["fp32", "bf16"],
                   help="VAE precision: fp32 as the reference decodes, bf16 faster (default: as loaded, fp32)")
    m.add_argument("--vae-tiling", action="store_true", help="decode in spatial tiles (less memory)")
    m.add_argument("--compile", action="store_true", help="torch.compile the transformer blocks (slow first run)")
    return m


def _generate(args: argparse.Namespace) -> int:
    from .generate import generate  # torch/diffusers load only when generating

    paths = generate(
        args.prompt, args.output, model=args.model, prompts_file=args.prompts_file,
        negative_prompt=args.negative_prompt, frames=args.frames, size=args.size, steps=args.steps,
        guidance=args.guidance, seed=args.seed, ellipse=args.ellipse, ellipse_end=args.ellipse_end,
        mask=args.mask, mask_from=args.mask_from, luma_as_alpha=args.luma_as_alpha, mu=args.shift_mean, sampler=args.sampler, mask_fit=args.mask_fit,
        preview=args.preview, format=args.format, write_options=write_options(args), overwrite=args.overwrite,
        skip_existing=args.skip_existing,
        wan_files=wan_files(args), memory=memory_settings(args), context_parallel=args.context_parallel, image=args.image,
        image_alpha=args.image_alpha, opaque_image=args.opaque_image, last_image=args.last_image, loop=args.loop,
        video=args.video, strength=args.strength, extend=args.extend, context_frames=args.context_frames,
    )
    for path in paths:
        print(path)
    return 0


def wan_files(args: argparse.Namespace):
    from ..pipelines import WanAlphaFiles

    flags = (args.vae_file, args.rgb_decoder, args.alpha_decoder, args.dora_file, args.distill_lora)
    if args.model_dir is None:
        if any(flag is not None for flag in flags):
            raise WanAlphaError("--vae-file, --dora-file, --distill-lora and the decoders need --model-dir")
        return None
    return WanAlphaFiles(args.model_dir, args.vae_file, args.dora_file, args.dora_strength, args.distill_lora,
                         args.distill_strength, args.rgb_decoder, args.alpha_decoder)


def memory_settings(args: argparse.Namespace):
    from ..pipelines.memory import MemorySettings

    given = dict(mode=args.offload, tiling=args.vae_tiling or None, compile=args.compile or None,
                 quantize=args.quantize, vae_dtype=args.vae_dtype)
    given = {name: value for name, value in given.items() if value is not None}
    if args.low_vram and args.preset:
        raise WanAlphaError("give --low-vram or --preset, not both")
    preset = "low-vram" if args.low_vram else args.preset
    return MemorySettings.preset(preset, **given) if preset else MemorySettings(**given)


def _add_mask(sub: argparse._SubParsersAction) -> None:
    mask = sub.add_parser("mask", help="make transparency masks for `generate --mask` (fit to alpha, or draw)")
    kinds = mask.add_subparsers(dest="mask_command", metavar="ACTION", required=True)

    fit = kinds.add_parser(
        "fit", help="fit ellipse masks to an alpha video",
        description="Fit one ellipse per latent frame (frame 0, then groups of 4 frames) to ALPHA_VIDEO's "
        "alpha (or a grayscale matte's luma) and save the Gaussian maps on the latent grid of --model's VAE.",
    )
    fit.add_argument("alpha_video", metavar="ALPHA_VIDEO")
    fit.add_argument("-o", "--output", required=True, metavar="MASK", help=".npy, .pt or a video file (grayscale)")
    fit.add_argument("--fit", choices=MASK_FIT_CHOICES, help=MASK_FIT_HELP)
    fit.add_argument("--threshold", type=float, metavar="T",
                     help="alpha above this counts as object: per pixel for reference (default 0.1), per latent "
                     "cell for moments (default 0.3)")
    fit.add_argument("--luma-as-alpha", action="store_true", help=LUMA_AS_ALPHA_HELP)
    _mask_common(fit)
    fit.set_defaults(func=_fit)

    draw = kinds.add_parser(
        "draw", help="draw a static or moving ellipse mask",
        description="Render an ellipse (moving linearly to --ellipse-end if given) as Gaussian maps for a "
        "video of --frames frames and --size WxH (by default the clip --model generates), on the latent grid of "
        "--model's VAE.",
    )
    draw.add_argument("--ellipse", required=True, metavar=ELLIPSE_METAVAR, help=ELLIPSE_HELP)
    draw.add_argument("--ellipse-end", metavar=ELLIPSE_METAVAR, help="where the ellipse is at the last frame")
    draw.add_argument("--frames", type=int, metavar="N", help="video frame count, 1 + 4k (default: --model's)")
    draw.add_argument("--size", metavar="WxH", help="video size as generate takes it: a multiple of the VAE stride x "
                      "the DiT patch (16 for the embedded model and Wan2.1) (default: --model's)")
    draw.add_argument("-o", "--output", required=True, metavar="MASK", help=".npy, .pt or a video file (grayscale)")
    _mask_common(draw)
    draw.set_defaults(func=_draw)


def _mask_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=str(EMBEDDED_MODEL), metavar="DIR",
                        help="the model the mask is for: its VAE's stride sets the latent grid (a wan-alpha or a "
                        "Wan2.1 folder; default: the embedded model, stride 8 as Wan2.1's)")
    parser.add_argument("--preview", metavar="PNG", help="also write the maps side by side as a PNG")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def _fit(args: argparse.Namespace) -> int:
    from .masks import fit_mask_file, model_mask_fit, model_stride

    mask = fit_mask_file(args.alpha_video, args.output, stride=model_stride(args.model), preview=args.preview,
                         fit=args.fit or model_mask_fit(args.model), threshold=args.threshold,
                         luma_as_alpha=args.luma_as_alpha, overwrite=args.overwrite)
    print(f"{args.output}: {mask.shape[2]} latent frames of {mask.shape[4]}x{mask.shape[3]}")
    return 0


def _draw(args: argparse.Namespace) -> int:
    from .masks import draw_mask_file, model_clip, model_patch, model_stride

    stride = model_stride(args.model)
    frames, size = model_clip(args.model, args.frames, args.size)
    mask = draw_mask_file(args.ellipse, args.output, frames=frames, size=size, stride=stride,
                          patch=model_patch(args.model), ellipse_end=args.ellipse_end, preview=args.preview,
                          overwrite=args.overwrite)
    print(f"{args.output}: {mask.shape[2]} latent frames of {mask.shape[4]}x{mask.shape[3]}")
    return 0
