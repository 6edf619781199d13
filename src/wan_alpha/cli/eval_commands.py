"""``wan-alpha eval vae | gen``: transparency metric reports of an RGBA VAE and of generated clips."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import WanAlphaError
from .args import parse_size, read_prompts


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``eval`` to the top-level parser."""
    evaluate = sub.add_parser("eval", help="score a model with the transparency metrics (see `wan-alpha eval KIND --help`)")
    kinds = evaluate.add_subparsers(dest="kind", metavar="KIND", required=True)
    _add_eval_vae(kinds)
    _add_eval_gen(kinds)


def _add_report_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", required=True, metavar="DIR", help="report folder")
    p.add_argument("--overwrite", action="store_true", help="replace the report already in --output")


def _check_report_folder(args: argparse.Namespace) -> None:
    """Refuse, before any work, to replace an earlier report unless asked."""
    from ..eval.report import METRICS_FILE

    if (Path(args.output) / METRICS_FILE).exists() and not args.overwrite:
        raise WanAlphaError(f"{args.output} already holds a report: pass --overwrite to replace it, or another --output")


def _add_lpips(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lpips-weights", metavar="FILE",
                   help="a local TorchScript LPIPS file (see wan_alpha.eval.lpips) to add LPIPS; nothing is downloaded")


def _add_eval_vae(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser(
        "vae", help="RGBA VAE reconstruction: PSNR/SSIM over palette renders, matting and temporal errors",
        description="Reconstruct clips with an RGBA VAE (a `rgba_vae/` folder from `wan-alpha train vae`) and "
        "write metrics.json, report.md and per-frame plots into --output.",
    )
    p.add_argument("--model", metavar="DIR", help="RGBA VAE folder (RUN/rgba_vae) or a model folder holding one in vae/ "
                   "(default: the embedded tiny model's)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="MANIFEST", help="a dataset manifest (`wan-alpha data build`)")
    source.add_argument("--synthetic", type=int, metavar="N", help="N procedural clips no training run has seen")
    p.add_argument("--frames", type=int, default=9, metavar="N", help="frames per clip, 1 + 4k (default 9)")
    p.add_argument("--size", default="64x64", metavar="WxH", help="clip size, multiples of 8 (default 64x64)")
    p.add_argument("--max-clips", type=int, metavar="N", help="score at most N clips of --data")
    _add_report_output(p)
    _add_lpips(p)
    p.set_defaults(func=_eval_vae)


def _eval_vae(args: argparse.Namespace) -> None:
    import torch
    from torch.utils.data import Subset

    from ..data import RGBAClipDataset, SyntheticClips
    from ..eval.lpips import load_lpips
    from ..eval.reconstruction import HELD_OUT_SEED, evaluate_vae
    from ..eval.report import write_report
    from ..models import RGBAVAE
    from ..pipelines.loading import model_folder

    _check_report_folder(args)
    width, height = parse_size(args.size)
    if args.synthetic is not None:
        if args.synthetic < 1:
            raise WanAlphaError(f"--synthetic must be at least 1, got {args.synthetic}")
        dataset = SyntheticClips(args.synthetic, args.frames, height, width, seed=HELD_OUT_SEED)
        source = f"{args.synthetic} procedural clips"
    else:
        dataset = RGBAClipDataset(args.data, frames=args.frames, height=height, width=width, random_crop=False)
        dataset = Subset(dataset, range(min(args.max_clips or len(dataset), len(dataset))))
        source = f"{len(dataset)} clips of {args.data}"
    model = model_folder(args.model)
    if (model / "model_index.json").is_file():  # a whole model: score its VAE
        model = model / "vae"
    notes = [f"model: {model}", f"data: {source}, {args.frames} frames at {width}x{height}, encoded over black"]
    if args.lpips_weights is None:
        notes.append("LPIPS skipped: no local weights (--lpips-weights); nothing is downloaded")
    lpips = None if args.lpips_weights is None else load_lpips(args.lpips_weights)
    torch.set_flush_denormal(True)  # denormals make small random models 10-100x slower on CPUs
    report = evaluate_vae(RGBAVAE.from_pretrained(model), dataset, lpips=lpips)
    print(write_report(args.output, "RGBA VAE reconstruction", report, notes).read_text())


def _add_eval_gen(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser(
        "gen", help="generated clips: alpha shares, clean background, ellipse adherence, flicker",
        description="Generate one clip per prompt with the requested ellipse and score transparency without "
        "ground truth; writes metrics.json, report.md, plots and the clips into --output.",
    )
    p.add_argument("--model", metavar="DIR", help="model folder (`wan-alpha train dit` writes OUTPUT/pipeline); "
                   "default: the embedded tiny model shipped in the package")
    p.add_argument("--prompts", required=True, metavar="F", help="one prompt per line")
    _add_report_output(p)
    p.add_argument("--ellipse", default="0.5,0.5,0.5,0.5", metavar="CX,CY,W,H[,ANGLE]",
                   help="requested transparency ellipse, fractions of the frame (default 0.5,0.5,0.5,0.5)")
    p.add_argument("--frames", type=int, metavar="N", help="frame count, 1 + 4k (default: the model's)")
    p.add_argument("--size", metavar="WxH", help="frame size (default: the model's)")
    p.add_argument("--steps", type=int, metavar="N", help="sampling steps (default: the model's)")
    p.add_argument("--guidance", type=float, metavar="G",
                   help="classifier-free guidance scale; 1 disables it (default: the model's)")
    p.add_argument("--shift-mean", type=float, metavar="MU", help="mean-sampler shift (default: the trained value; 0 = off)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the first prompt (default 0)")
    p.set_defaults(func=_eval_gen)


def _eval_gen(args: argparse.Namespace) -> None:
    from ..eval.generation import evaluate_generation
    from ..eval.report import write_report
    from ..rgba import Ellipse
    from ..pipelines.loading import model_folder

    _check_report_folder(args)
    prompts, requested = read_prompts(args.prompts), Ellipse.parse(args.ellipse)
    width, height = parse_size(args.size) if args.size is not None else (None, None)
    model = model_folder(args.model)
    report = evaluate_generation(model, prompts, requested, frames=args.frames, height=height, width=width,
                                 steps=args.steps, guidance=args.guidance, mu=args.shift_mean, seed=args.seed,
                                 clip_dir=Path(args.output) / "clips")
    notes = [f"model: {model}", f"prompts: {args.prompts} ({len(prompts)})", f"requested ellipse: {args.ellipse}",
             f"{report['steps']} steps, guidance {report['guidance']}, mean shift {report['mu']}, "
             f"seeds {args.seed}..{args.seed + len(prompts) - 1}"]
    print(write_report(args.output, "Generated RGBA clips", report, notes).read_text())
