"""Accelerate trainers: shared scaffolding in :mod:`.loop`, one module per stage."""

from .loop import (
    LoopConfig,
    make_accelerator,
    prepare_output,
    save_checkpoint,
    train_loop,
)

__all__ = ["LoopConfig", "make_accelerator", "prepare_output", "save_checkpoint", "train_loop"]
