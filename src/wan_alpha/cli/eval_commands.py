"""``wan-alpha eval vae | gen`` (transparency metric reports) and ``wan-alpha ablate vae | dit`` (the paper's VAE
table and the mean-sampler ablation)."""

from __future__ import annotations

import argparse

from ..errors import WanAlphaError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``eval`` and ``ablate`` to the top-level parser."""
    evaluate = sub.add_parser("eval", help="score a model with the transparency metrics (see `wan-alpha eval KIND --help`)")
    kinds = evaluate.add_subparsers(dest="kind", metavar="KIND", required=True)
    _add_eval_vae(kinds)
    _add_eval_gen(kinds)
    ablate = sub.add_parser("ablate", help="train and score ablation variants (see `wan-alpha ablate vae --help`)")
    stages = ablate.add_subparsers(dest="stage", metavar="STAGE", required=True)
    _add_ablate_vae(stages)
    _add_ablate_dit(stages)


def _add_lpips(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lpips-weights", metavar="FILE",
                   help="a local LPIPS-alex state dict (backbone + linear heads) to add LPIPS; nothing is downloaded")


def _add_eval_vae(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser(
        "vae", help="RGBA VAE reconstruction: PSNR/SSIM over palette renders, matting and temporal errors",
        description="Reconstruct clips with an RGBA VAE (a `rgba_vae/` folder from `wan-alpha train vae`) and "
        "write metrics.json, report.md and per-frame plots into --output.",
    )
    p.add_argument("--model", required=True, metavar="DIR", help="RGBA VAE folder (RUN/rgba_vae)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="MANIFEST", help="a dataset manifest (`wan-alpha data build`)")
    source.add_argument("--synthetic", type=int, metavar="N", help="N procedural clips no training run has seen")
    p.add_argument("--frames", type=int, default=9, metavar="N", help="frames per clip, 1 + 4k (default 9)")
    p.add_argument("--size", default="64x64", metavar="WxH", help="clip size, multiples of 8 (default 64x64)")
    p.add_argument("--max-clips", type=int, metavar="N", help="score at most N clips of --data")
    p.add_argument("--output", required=True, metavar="DIR", help="report folder")
    _add_lpips(p)
    p.set_defaults(func=_eval_vae)


def _eval_vae(args: argparse.Namespace) -> None:
    from ..eval.report import eval_vae_command

    path = eval_vae_command(args.model, args.output, data=args.data, synthetic=args.synthetic, frames=args.frames,
                            size=args.size, max_clips=args.max_clips, lpips_weights=args.lpips_weights)
    print(path.read_text())


def _add_eval_gen(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser(
        "gen", help="generated clips: alpha shares, clean background, ellipse adherence, flicker",
        description="Generate one clip per prompt with the requested ellipse and score transparency without "
        "ground truth; writes metrics.json, report.md, plots and the clips into --output.",
    )
    p.add_argument("--model", required=True, metavar="DIR", help="model folder (`wan-alpha train dit` writes OUTPUT/pipeline)")
    p.add_argument("--prompts", required=True, metavar="F", help="one prompt per line")
    p.add_argument("--output", required=True, metavar="DIR", help="report folder")
    p.add_argument("--ellipse", default="0.5,0.5,0.5,0.5", metavar="CX,CY,W,H[,ANGLE]",
                   help="requested transparency ellipse, fractions of the frame (default 0.5,0.5,0.5,0.5)")
    p.add_argument("--frames", type=int, metavar="N", help="frame count, 1 + 4k (default: the model's)")
    p.add_argument("--size", metavar="WxH", help="frame size (default: the model's)")
    p.add_argument("--steps", type=int, default=50, metavar="N", help="sampling steps (default 50)")
    p.add_argument("--guidance", type=float, default=5.0, metavar="G", help="classifier-free guidance (default 5)")
    p.add_argument("--shift-mean", type=float, metavar="MU", help="mean-sampler shift (default: the trained value; 0 = off)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the first prompt (default 0)")
    p.set_defaults(func=_eval_gen)


def _eval_gen(args: argparse.Namespace) -> None:
    from ..eval.report import eval_gen_command

    path = eval_gen_command(args.model, args.prompts, args.output, ellipse=args.ellipse, frames=args.frames,
                            size=args.size, steps=args.steps, guidance=args.guidance, mu=args.shift_mean, seed=args.seed)
    print(path.read_text())


def _add_ablate_vae(stages: argparse._SubParsersAction) -> None:
    p = stages.add_parser(
        "vae", help="the paper's VAE table: naive, +rendering, +rendering+TABD (paper / reference)",
        description="Train each VAE variant with identical data, initialisation and steps for every seed "
        "(OUTPUT/seed-S/VARIANT), score each on held-out procedural clips, and print mean ± std over seeds. "
        "Rerunning the command skips finished runs and resumes unfinished ones.",
    )
    p.add_argument("--config", required=True, help="a VAE training config with synthetic data (e.g. ablate_vae_tiny)")
    p.add_argument("--output", required=True, metavar="DIR", help="ablation folder")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1], metavar="S", help="training seeds (default 0 1)")
    p.add_argument("--max-steps", type=int, metavar="N", help="override train.max_steps")
    p.add_argument("--eval-clips", type=int, default=8, metavar="N", help="held-out clips per run (default 8)")
    p.add_argument("--variants", nargs="+", metavar="V", help="subset of naive rendering rendering+tabd rendering+tabd_ref")
    p.add_argument("--base-vae", metavar="DIR", help="a pretrained base Wan VAE folder, replacing the config's model")
    p.set_defaults(func=_ablate_vae)


def _ablate_vae(args: argparse.Namespace) -> None:
    from ..eval.report import ablate_vae_command

    if args.eval_clips < 1:
        raise WanAlphaError("--eval-clips must be at least 1")
    path = ablate_vae_command(args.config, args.output, args.seeds, max_steps=args.max_steps,
                              eval_clips=args.eval_clips, variants=args.variants, base_vae=args.base_vae)
    print(path.read_text())


def _add_ablate_dit(stages: argparse._SubParsersAction) -> None:
    p = stages.add_parser(
        "dit", help="the mean sampler on / off: ellipse adherence and clean background of generated clips",
        description="Train the DiT config twice per seed, with its mean-sampler shift and with mu_shift 0 "
        "(OUTPUT/seed-S/{mean-sampler,no-mean-sampler}), generate each prompt inside a left and a mirrored "
        "right ellipse, and print mean ± std over seeds of the ellipse IoU (requested vs mirrored), the "
        "clean-background rate, the transparent share and alpha stability. Rerunning skips finished work.",
    )
    p.add_argument("--config", required=True, help="a DiT training config on RGBA latents (e.g. tiny_dora)")
    p.add_argument("--output", required=True, metavar="DIR", help="ablation folder")
    p.add_argument("--prompts", required=True, metavar="F", help="held-out prompts, one per line")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="S", help="training seeds (default 0)")
    p.add_argument("--max-steps", type=int, metavar="N", help="override train.max_steps")
    p.add_argument("--rgba-vae", metavar="DIR", help="the RGBA VAE folder, replacing the config's rgba_vae")
    p.add_argument("--base-dit", metavar="DIR", help="the base transformer folder, replacing the config's base_dit")
    p.add_argument("--manifest", metavar="F", help="a dataset manifest, replacing the config's data.manifest.path")
    p.add_argument("--steps", type=int, default=8, metavar="N", help="sampling steps (default 8)")
    p.add_argument("--guidance", type=float, default=1.0, metavar="G", help="classifier-free guidance (default 1)")
    p.set_defaults(func=_ablate_dit)


def _ablate_dit(args: argparse.Namespace) -> None:
    from ..eval.report import ablate_dit_command

    overrides = {key: value for key, value in (("rgba_vae", args.rgba_vae), ("base_dit", args.base_dit),
                                               ("data.manifest.path", args.manifest)) if value is not None}
    path = ablate_dit_command(args.config, args.output, args.seeds, args.prompts, max_steps=args.max_steps,
                              steps=args.steps, guidance=args.guidance, overrides=overrides)
    print(path.read_text())
