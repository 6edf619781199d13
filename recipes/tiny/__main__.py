"""``python -m recipes.tiny COMMAND``: train, ablate and evaluate the small embedded model (run from the repository
root; see ``recipes/tiny/README.md``)."""

from __future__ import annotations

import argparse
import sys

from wan_alpha.errors import WanAlphaError

from .evaluate import add_arguments as add_evaluate_arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recipes.tiny", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = sub.add_parser(
        "train", help="every stage: base VAE, base DiT, RGBA VAE (TABD), DoRA, then the export",
        description="The whole recipe at small scale: base RGB VAE, base text-to-video DiT, RGBA VAE with rendering "
        "losses and TABD, DoRA with the mean-shift sampler; then exports OUTPUT/model (fp16, LoRAs merged). Each "
        "stage resumes; wall times go to OUTPUT/stages.json and stages.md.")
    train.add_argument("--output", required=True, metavar="DIR", help="run folder (one subfolder per stage)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --output")
    train.add_argument("--emoji", metavar="PACKAGE_DIR",
                       help="emoji-datasource-google npm folder (`npm install --prefix DIR emoji-datasource-google@16.0.0`); "
                       "without it the recipe trains on synthetic clips only")
    train.add_argument("--config", default="tiny_all", help=(
        "recipe config: tiny_all (default; every stage on a CPU, ~77 min on 2 cores), tiny_all_gpu (the shipped "
        "model's recipe: three 128x128 VAE stages that need a GPU), or a YAML path"))
    train.set_defaults(func=_train)

    vae = sub.add_parser(
        "ablate-vae", help="the paper's VAE table: naive, +rendering, +rendering+TABD (paper / reference)",
        description="Train each VAE variant with identical data, initialisation and steps for every seed "
        "(OUTPUT/seed-S/VARIANT), score each on held-out procedural clips, and print mean ± std over seeds.")
    vae.add_argument("--config", default="ablate_vae_tiny", help="a VAE training config with synthetic data "
                     "(default ablate_vae_tiny)")
    vae.add_argument("--output", required=True, metavar="DIR", help="ablation folder")
    vae.add_argument("--seeds", type=int, nargs="+", default=[0, 1], metavar="S", help="training seeds (default 0 1)")
    vae.add_argument("--max-steps", type=int, metavar="N", help="override train.max_steps")
    vae.add_argument("--eval-clips", type=int, default=8, metavar="N", help="held-out clips per run (default 8)")
    vae.add_argument("--variants", nargs="+", metavar="V", help="subset of naive rendering rendering+tabd rendering+tabd_ref")
    vae.add_argument("--base-vae", metavar="DIR", help="a pretrained base Wan VAE folder, replacing the config's model")
    vae.set_defaults(func=_ablate_vae)

    dit = sub.add_parser(
        "ablate-dit", help="the mean sampler on / off: ellipse adherence and clean background of generated clips",
        description="Train the DiT config twice per seed, with its mean-sampler shift and with mu_shift 0 "
        "(OUTPUT/seed-S/{mean-sampler,no-mean-sampler}), generate each prompt inside a left and a mirrored right "
        "ellipse, and print mean ± std over seeds of the ellipse IoU (requested vs mirrored), the clean-background "
        "rate, the transparent share and alpha stability.")
    dit.add_argument("--config", default="tiny_dora", help="a DiT training config on RGBA latents (default tiny_dora)")
    dit.add_argument("--output", required=True, metavar="DIR", help="ablation folder")
    dit.add_argument("--prompts", metavar="F", help="held-out prompts, one per line (default: the recipe's)")
    dit.add_argument("--seeds", type=int, nargs="+", default=[0], metavar="S", help="training seeds (default 0)")
    dit.add_argument("--max-steps", type=int, metavar="N", help="override train.max_steps")
    dit.add_argument("--rgba-vae", metavar="DIR", help="the RGBA VAE folder, replacing the config's rgba_vae")
    dit.add_argument("--base-dit", metavar="DIR", help="the base transformer folder, replacing the config's base_dit")
    dit.add_argument("--manifest", metavar="F", help="a dataset manifest, replacing the config's data.manifest.path")
    dit.add_argument("--steps", type=int, default=8, metavar="N", help="sampling steps (default 8)")
    dit.add_argument("--guidance", type=float, default=1.0, metavar="G", help="classifier-free guidance (default 1)")
    dit.set_defaults(func=_ablate_dit)

    evaluate = sub.add_parser(
        "evaluate", help="the embedded model's evaluation: held-out generation, ellipse control, steps, RGBA VAE",
        description="Generation on held-out prompts, ellipse control, step count and the RGBA VAE on held-out "
        "clips; writes OUT.json and OUT.md.")
    add_evaluate_arguments(evaluate)
    evaluate.set_defaults(func=_evaluate)
    return parser


def _train(args: argparse.Namespace) -> None:
    from .train_all import train_tiny_all

    path = train_tiny_all(args.output, resume=args.resume, emoji_package=args.emoji, config=args.config)
    print(f"model exported to {path} (use: wan-alpha generate PROMPT --model {path} -o OUT.webm)")


def _ablate_vae(args: argparse.Namespace) -> None:
    from .ablate import ablate_vae_command

    if args.eval_clips < 1:
        raise WanAlphaError("--eval-clips must be at least 1")
    path = ablate_vae_command(args.config, args.output, args.seeds, max_steps=args.max_steps,
                              eval_clips=args.eval_clips, variants=args.variants, base_vae=args.base_vae)
    print(path.read_text())


def _ablate_dit(args: argparse.Namespace) -> None:
    from .ablate import ablate_dit_command
    from .evaluate import PROMPTS_FILE

    overrides = {key: value for key, value in (("rgba_vae", args.rgba_vae), ("base_dit", args.base_dit),
                                               ("data.manifest.path", args.manifest)) if value is not None}
    path = ablate_dit_command(args.config, args.output, args.seeds, args.prompts or PROMPTS_FILE,
                              max_steps=args.max_steps, steps=args.steps, guidance=args.guidance, overrides=overrides)
    print(path.read_text())


def _evaluate(args: argparse.Namespace) -> None:
    from .evaluate import run

    run(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except WanAlphaError as err:
        print(f"recipes.tiny: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
