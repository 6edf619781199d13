"""Checks of ``generate``'s numbers that the libraries would only trip over mid-run (or silently accept)."""

from __future__ import annotations

from ..errors import WanAlphaError

MAX_SEED = 2**64 - 1
"""torch generators take seeds up to 2**64 - 1."""


def check_seed(seed: int, count: int = 1) -> None:
    """``seed`` .. ``seed + count - 1`` (one per prompt) must be valid generator seeds; -1 is not "random" here."""
    if not 0 <= seed <= MAX_SEED - (count - 1):
        raise WanAlphaError(f"--seed {seed} is out of range: use 0..{MAX_SEED - (count - 1)}"
                            + (f" ({count} prompts use seeds seed..seed+{count - 1})" if count > 1 else "")
                            + (" (there is no random seed: pick a number)" if seed < 0 else ""))


def check_rotary_range(config, stride: int, latent_frames: int, height: int, width: int) -> None:
    """The DiT's rotary embedding covers ``rope_max_seq_len`` positions per axis: refuse a grid past it up front."""
    limit = getattr(config, "rope_max_seq_len", None)
    if limit is None:
        return
    _, patch_h, patch_w = config.patch_size
    for axis, cells, scale in (("frames", latent_frames, None), ("height", height // (stride * patch_h), stride * patch_h),
                               ("width", width // (stride * patch_w), stride * patch_w)):
        if cells > limit:
            most = f"{limit * scale} pixels" if scale else f"{4 * (limit - 1) + 1} frames"
            raise WanAlphaError(f"{axis} is past the model's rotary position range ({cells} positions, at most "
                                f"{limit}): use at most {most}")
