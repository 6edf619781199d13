"""Training data: procedural clips, manifests, dataset builders and the torch Dataset."""

from .synthetic import SYNTHETIC_KINDS, SyntheticClips, generate_clip

__all__ = ["SYNTHETIC_KINDS", "SyntheticClips", "generate_clip"]
