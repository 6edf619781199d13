"""Inference pipelines (orchestration only)."""

from .generate import generate
from .wan_alpha import WanAlphaPipeline, WanAlphaPipelineOutput, check_video_size

__all__ = ["WanAlphaPipeline", "WanAlphaPipelineOutput", "check_video_size", "generate"]
