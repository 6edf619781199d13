"""The inputs of :class:`~wan_alpha.pipelines.WanAlphaPipeline`'s image and video modes: RGBA frames from the user's
objects, the conditions of one call, and joining a generated continuation to its clip."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np
from PIL import Image

from ..errors import WanAlphaError
from ..io import RGBAVideo, read_image, read_video
from ..rgba import latent_frame_count, premultiply, unpremultiply

RGBAInput = Union[RGBAVideo, np.ndarray, Image.Image, Sequence[Image.Image]]
"""An RGBA image or clip: an :class:`~wan_alpha.io.RGBAVideo`, uint8 frames ``(H, W, 4)`` or ``(T, H, W, 4)``
(straight alpha), a PIL image with alpha, or a list of them."""


def _pil_frame(image: Image.Image, name: str) -> np.ndarray:
    if not image.has_transparency_data:
        raise WanAlphaError(f"{name} ({image.mode} image) has no alpha channel: pass an RGBA image, or "
                            "image.convert('RGBA') to animate it fully opaque")
    return np.asarray(image.convert("RGBA"))


def as_rgba_frames(value: RGBAInput, name: str) -> np.ndarray:
    """``value`` as uint8 RGBA frames ``(T, H, W, 4)``; anything without an alpha channel is refused, naming ``name``."""
    if isinstance(value, RGBAVideo):
        return value.frames
    if isinstance(value, Image.Image):
        return _pil_frame(value, name)[None]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Image.Image) for v in value):
        frames = [_pil_frame(v, f"{name}[{i}]") for i, v in enumerate(value)]
        if len({f.shape for f in frames}) > 1:
            raise WanAlphaError(f"the frames of {name} differ in size: give frames of one size")
        return np.stack(frames)
    frames = np.asarray(value)
    frames = frames[None] if frames.ndim == 3 else frames
    if frames.ndim != 4 or frames.shape[-1] != 4 or frames.dtype != np.uint8 or not frames.shape[0]:
        raise WanAlphaError(f"{name} must be RGBA: an RGBAVideo, PIL image(s) with alpha or uint8 frames "
                            f"(H, W, 4) / (T, H, W, 4), got {frames.dtype} {tuple(frames.shape)}")
    return frames


CONDITION_INPUTS = ("image", "first_frames", "last_image", "video", "strength")
"""The pipeline arguments :meth:`Conditions.from_inputs` takes, in its order."""


@dataclass
class Conditions:
    """What one call is conditioned on, as uint8 RGBA frames: ``first`` (1 + 4k frames pinned at the clip's start:
    an image, or the tail of a clip being extended), ``last`` (one image the last latent frame is pinned to) and
    ``video`` (a clip noised to ``strength`` and denoised, SDEdit)."""

    first: np.ndarray | None = None
    last: np.ndarray | None = None
    video: np.ndarray | None = None
    strength: float = 1.0

    @classmethod
    def from_inputs(
        cls, image: RGBAInput | None, first_frames: RGBAInput | None, last_image: RGBAInput | None,
        video: RGBAInput | None, strength: float | None,
    ) -> "Conditions":
        if image is not None and first_frames is not None:
            raise WanAlphaError("give image (one frame) or first_frames (a clip's tail), not both")
        first = image if image is not None else first_frames
        if video is not None and (first is not None or last_image is not None):
            raise WanAlphaError("video (SDEdit) cannot be combined with image, first_frames or last_image")
        if strength is not None and video is None:
            raise WanAlphaError("strength applies to a video (SDEdit): pass video=... or drop strength")
        strength = DEFAULT_STRENGTH if strength is None else float(strength)
        if not 0 < strength <= 1:  # NaN fails too
            raise WanAlphaError(f"strength must be in (0, 1] (how much of the clip is re-noised; 1 = all), got {strength}")
        conditions = cls(
            first=None if first is None else as_rgba_frames(first, "image" if image is not None else "first_frames"),
            last=None if last_image is None else as_rgba_frames(last_image, "last_image")[:1],
            video=None if video is None else as_rgba_frames(video, "video"),
            strength=strength if video is not None else 1.0,
        )
        if image is not None and len(conditions.first) != 1:
            raise WanAlphaError(f"image has {len(conditions.first)} frames: pass one frame (first_frames takes a clip)")
        if conditions.first is not None:
            latent_frame_count(len(conditions.first))
        if conditions.video is not None and (len(conditions.video) - 1) % 4:
            n = len(conditions.video)
            raise WanAlphaError(f"the video has {n} frames, not 1 + 4k: video mode keeps the clip's length, so trim it "
                                f"to {n - (n - 1) % 4} frames")
        sizes = {f.shape[1:3] for f in (conditions.first, conditions.last, conditions.video) if f is not None}
        if len(sizes) > 1:
            raise WanAlphaError(f"the images differ in size ({', '.join(f'{w}x{h}' for h, w in sorted(sizes))}): "
                                "give images of one size")
        return conditions

    @property
    def size(self) -> tuple[int, int] | None:
        """``(height, width)`` of the condition frames, if any."""
        for frames in (self.first, self.last, self.video):
            if frames is not None:
                return frames.shape[1], frames.shape[2]
        return None

    @property
    def num_frames(self) -> int | None:
        """The frame count a video fixes (SDEdit keeps the clip's length)."""
        return None if self.video is None else len(self.video)


DEFAULT_STRENGTH = 0.6
"""SDEdit's default noise level: the clip's layout and motion survive, the prompt restyles it."""

DEFAULT_CONTEXT_FRAMES = 5
"""The clip's last frames an extension starts from: two latent frames, the motion's direction as well as the pose."""


def extension_context(clip: RGBAVideo, frames: int) -> np.ndarray:
    """The last ``frames`` (1 + 4k) frames of ``clip``: what an extension starts from (and reproduces)."""
    latent_frame_count(frames)
    if frames > clip.num_frames:
        raise WanAlphaError(f"the clip has {clip.num_frames} frames, fewer than the {frames} context frames asked for: "
                            "use fewer context frames (1, 5, 9, ...)")
    return clip.frames[-frames:]


def join_extension(clip: RGBAVideo, extension: RGBAVideo, overlap: int, crossfade: bool = False) -> RGBAVideo:
    """``clip`` followed by ``extension`` without its first ``overlap`` frames (those re-create the clip's tail).

    The extension's first frames are the VAE's round trip of the clip's tail, not its pixels, so switching from one
    to the other in one frame adds the VAE's error to the jump. By default the join cuts (the clip untouched);
    ``crossfade`` spreads that error instead: over the clip's last ``overlap`` frames the clip fades into the
    extension's re-creation of them (premultiplied, weights ``1/(overlap+1) .. overlap/(overlap+1)``), the frames
    before untouched (at tiny scale neither join gave the smaller largest jump on every clip: docs/image_to_video.md)."""
    if extension.frames.shape[1:] != clip.frames.shape[1:]:
        raise WanAlphaError(f"the extension is {extension.width}x{extension.height}, the clip {clip.width}x{clip.height}")
    tail = clip.frames[clip.num_frames - overlap:]
    if crossfade:
        weight = (np.arange(1, overlap + 1, dtype=np.float32) / (overlap + 1))[:, None, None, None]
        own, new = (f.astype(np.float32) / 255 for f in (tail, extension.frames[:overlap]))
        alpha = own[..., 3:] * (1 - weight) + new[..., 3:] * weight
        colour = premultiply(own[..., :3], own[..., 3:]) * (1 - weight) + premultiply(new[..., :3], new[..., 3:]) * weight
        blended = np.concatenate([unpremultiply(colour, alpha), alpha], axis=-1)
        tail = np.rint(blended * 255).astype(np.uint8)
    return RGBAVideo(np.concatenate([clip.frames[: clip.num_frames - overlap], tail, extension.frames[overlap:]]), clip.fps)


def read_inputs(
    image: str | os.PathLike | None, image_alpha: str | os.PathLike | None, opaque_image: bool,
    last_image: str | os.PathLike | None, loop: bool, video: str | os.PathLike | None, strength: float | None,
    clip: RGBAVideo | None, context_frames: int,
) -> dict:
    """The pipeline's image/video arguments read from the files (before any model loads), with the checks of
    ``wan-alpha generate``'s flags (the messages name them); the CLI and the app both read their inputs here."""
    if sum(x is not None for x in (image, video, clip)) > 1:
        raise WanAlphaError("give one of --image, --video and --extend")
    if (image_alpha is not None or opaque_image) and image is None:
        raise WanAlphaError("--image-alpha and --opaque-image go with --image")
    if (last_image is not None or loop) and image is None and clip is None:
        raise WanAlphaError("--last-image and --loop need --image or --extend to start from")
    if loop and last_image is not None:
        raise WanAlphaError("--loop ends on the first image: drop --last-image (or --loop)")
    if strength is not None and video is None:
        raise WanAlphaError("--strength goes with --video (how far the clip is re-noised)")
    inputs: dict = {}
    if image is not None:
        inputs["image"] = read_image(image, alpha_path=image_alpha, opaque=opaque_image)
    if clip is not None:
        inputs["first_frames"] = extension_context(clip, context_frames)
    if video is not None:
        inputs.update(video=read_video(video), strength=strength)
    if loop:
        inputs["last_image"] = inputs["image"]
    elif last_image is not None:
        inputs["last_image"] = read_image(last_image)
    inputs_conditions(inputs)  # sizes, lengths, strength
    return inputs


def inputs_conditions(inputs: dict) -> Conditions:
    """The :class:`Conditions` of :func:`read_inputs`'s arguments (checked)."""
    return Conditions.from_inputs(**{name: inputs.get(name) for name in CONDITION_INPUTS})


def input_size(inputs: dict) -> tuple[int | None, int | None]:
    """``(height, width)`` of the input image or clip, if any: the clip's size unless --size says otherwise."""
    return inputs_conditions(inputs).size or (None, None)
