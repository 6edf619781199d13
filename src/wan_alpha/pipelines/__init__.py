"""Inference pipelines (orchestration only)."""

from .wan_alpha import WanAlphaPipeline, WanAlphaPipelineOutput, check_sampling_settings, check_video_size
from .wan_files import WanAlphaFiles

__all__ = ["WanAlphaFiles", "WanAlphaPipeline", "WanAlphaPipelineOutput", "check_sampling_settings",
           "check_video_size"]
