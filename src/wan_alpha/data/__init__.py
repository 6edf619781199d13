"""Training data: procedural clips, manifests, dataset builders, the torch Datasets and inspection.

Builders write ``OUT/clips/*`` + ``OUT/manifest.jsonl`` (+ ``build_report.json``); the Dataset
classes yield ``{"rgb": (3,T,H,W) in [-1,1], "alpha": (1,T,H,W) in [0,1], "caption": str}``.
Submodules load on first use, so the command line's help needs no torch.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "build": ["BuildReport"],
    "dataset": ["RGBAClipDataset", "SyntheticClips", "load_row"],
    "emoji": ["build_emoji", "load_emoji_index"],
    "manifest": ["MANIFEST_NAME", "ManifestRow", "read_manifest", "read_reference_csv", "read_rows", "write_manifest"],
    "matting": ["build_from_images", "build_from_videos"],
    "summary": ["contact_sheet", "format_stats", "manifest_stats"],
    "synthetic": ["SYNTHETIC_KINDS", "build_synthetic", "generate_clip"],
})
