"""Training data: procedural clips, manifests, dataset builders, the torch Dataset and inspection.

Builders write ``OUT/clips/*`` + ``OUT/manifest.jsonl`` (+ ``build_report.json``); the Dataset
classes yield ``{"rgb": (3,T,H,W) in [-1,1], "alpha": (1,T,H,W) in [0,1], "caption": str}``.
"""

from .build import BuildReport
from .dataset import BucketBatchSampler, RGBAClipDataset, load_row
from .emoji import build_emoji, load_emoji_index
from .manifest import MANIFEST_NAME, ManifestRow, read_manifest, read_reference_csv, read_rows, write_manifest
from .matting import build_from_images, build_from_videos
from .summary import contact_sheet, format_stats, manifest_stats
from .synthetic import SYNTHETIC_KINDS, SyntheticClips, build_synthetic, generate_clip

__all__ = [
    "MANIFEST_NAME",
    "SYNTHETIC_KINDS",
    "BucketBatchSampler",
    "BuildReport",
    "ManifestRow",
    "RGBAClipDataset",
    "SyntheticClips",
    "build_emoji",
    "build_from_images",
    "build_from_videos",
    "build_synthetic",
    "contact_sheet",
    "format_stats",
    "generate_clip",
    "load_emoji_index",
    "load_row",
    "manifest_stats",
    "read_manifest",
    "read_reference_csv",
    "read_rows",
    "write_manifest",
]
