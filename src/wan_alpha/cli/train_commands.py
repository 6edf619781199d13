"""``wan-alpha train vae | dit``: the method's two training stages, on accelerate."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train`` and its stages to the top-level parser."""
    train = sub.add_parser("train", help="train a model stage (see `wan-alpha train STAGE --help`)")
    stages = train.add_subparsers(dest="stage", metavar="STAGE", required=True)
    _add_vae(stages)
    _add_dit(stages)


def _allow_config_change(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-config-change", action="store_true",
                        help="with --resume: continue although the config differs from the run's config.yaml "
                        "(train.max_steps may always change)")


def _add_vae(stages: argparse._SubParsersAction) -> None:
    vae = stages.add_parser(
        "vae",
        help="stage 1: train the RGBA VAE (fusion block + decoder LoRAs)",
        description="Train the RGBA VAE's fusion block and decoder LoRAs. Single process on CPU or one GPU; for several "
        "GPUs run the same command under `accelerate launch --config_file CONFIG -m wan_alpha train vae ...` (configs "
        "for one GPU, DeepSpeed ZeRO-2 and FSDP2 ship in wan_alpha/configs/accelerate; see docs/training.md).",
    )
    vae.add_argument("--config", required=True, help="YAML config file or shipped config name (e.g. vae_tiny)")
    vae.add_argument("--output", required=True, metavar="DIR", help="run folder: config, log, checkpoints, previews, rgba_vae/")
    vae.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --output")
    _allow_config_change(vae)
    vae.add_argument("--max-steps", type=int, help="override train.max_steps")
    _add_dry_run(vae)
    vae.set_defaults(func=_run_vae)


def _add_dry_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true",
                        help="print the memory and time estimate (parameters, activations per clip with and without "
                        "gradient checkpointing, memory per GPU for each shipped accelerate config, time per step) "
                        "and stop; a run on a GPU prints it too and refuses a config that cannot fit the GPU")
    parser.add_argument("--tflops", type=float, metavar="N",
                        help="sustained TFLOP/s per GPU the time estimate assumes (default 400: bf16 on an H100/H200 "
                        "at ~40%% of its peak)")


def _run_vae(args: argparse.Namespace) -> None:
    from ..train.vae import train_vae  # torch/diffusers load only when training

    path = train_vae(args.config, args.output, resume=args.resume, max_steps=args.max_steps, dry_run=args.dry_run,
                     tflops=args.tflops, allow_config_change=args.allow_config_change)
    if path is not None:
        print(f"RGBA VAE saved to {path}")


def _add_dit(stages: argparse._SubParsersAction) -> None:
    dit = stages.add_parser(
        "dit",
        help="stage 2: fine-tune the Wan DiT with DoRA on RGBA latents (mean-shifted flow loss)",
        description="Fine-tune the DiT with DoRA on latents of the trained RGBA VAE. Writes checkpoints, "
        "log.jsonl, sample videos, dora/ (the adapter) and pipeline/ (merged model for `wan-alpha generate "
        "--model`). For several GPUs run it under `accelerate launch --config_file CONFIG -m wan_alpha train dit ...` "
        "(configs for one GPU, DeepSpeed ZeRO-2 and FSDP2 ship in wan_alpha/configs/accelerate; see docs/training.md).",
    )
    dit.add_argument("--config", required=True, help="YAML config file or shipped config name (e.g. dit_tiny)")
    dit.add_argument("--output", metavar="DIR", help="run folder (default: output_dir of the config)")
    dit.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in the run folder")
    _allow_config_change(dit)
    dit.add_argument("--max-steps", type=int, help="override train.max_steps")
    dit.add_argument("--rgba-vae", metavar="DIR",
                     help="the trained RGBA VAE (the rgba_vae/ folder `train vae` wrote); overrides rgba_vae of the config")
    _add_dry_run(dit)
    dit.set_defaults(func=_run_dit)


def _run_dit(args: argparse.Namespace) -> None:
    from ..train.dit import train_dit

    path = train_dit(args.config, resume=args.resume, max_steps=args.max_steps, output=args.output,
                     rgba_vae=args.rgba_vae, dry_run=args.dry_run, tflops=args.tflops,
                     allow_config_change=args.allow_config_change)
    if path is not None:
        print(f"model saved to {path} (use: wan-alpha generate PROMPT --model {path} -o OUT.webm)")
