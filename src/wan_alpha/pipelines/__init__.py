"""Inference pipelines (orchestration only)."""

from .wan_alpha import WanAlphaPipeline, WanAlphaPipelineOutput

__all__ = ["WanAlphaPipeline", "WanAlphaPipelineOutput"]
