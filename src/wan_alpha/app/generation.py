"""What one press of *Generate* does, without the page: read the request (text, or an image or clip to start from,
read and checked as ``wan-alpha generate`` reads them), run the loaded pipeline with progress,
write the clip in the chosen formats plus the two animated WebPs the page shows (the clip, its alpha matte)."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import WanAlphaError
from ..io import FORMATS, RGBAVideo, read_video, write_video
from ..io.masks import load_mask
from ..pipelines import WanAlphaFiles, WanAlphaPipeline, check_video_size
from ..pipelines.conditioning import (
    DEFAULT_CONTEXT_FRAMES, input_size, inputs_conditions, join_extension, read_inputs,
)
from ..pipelines.loading import check_model_choice, generation_device, load_pipeline, matte_mask
from ..pipelines.memory import MemorySettings, check_fits, estimate_memory
from ..rgba import Ellipse

DOWNLOAD_FORMATS = tuple(name for name, f in FORMATS.items() if f.write is not None)
"""Every format io/ writes, one downloadable file each (a folder format, such as the PNG sequence, as a zip of it)."""

PLACEMENTS = ("ellipse", "alpha video", "mask file", "input's alpha")
"""Where the object goes: a (moving) ellipse, ellipses fitted to an uploaded alpha video, an uploaded mask file, or
(starting from an image or a clip) the ellipse fitted to that input's alpha, as the pipeline fits it by default."""

STARTS = ("text", "image", "clip", "extend")
"""What a clip starts from (docs/image_to_video.md): the prompt alone, an RGBA image as frame 0, a clip restyled at a
strength (SDEdit), or a clip continued from its last frames (the download is the clip with the new frames appended)."""

Progress = Callable[[float, str], None]
"""``progress(fraction done in [0, 1], what is running)``."""


@dataclass(frozen=True)
class Request:
    """One press of *Generate*: ``prompts`` one clip each (seeds ``seed``, ``seed + 1``, ...); ``ellipse_end``
    makes the ellipse move; ``upload`` is the alpha video or mask file of the other placements; ``start`` is one of
    :data:`STARTS`."""

    prompts: tuple[str, ...]
    seed: int
    steps: int
    guidance: float
    frames: int
    width: int
    height: int
    fps: float
    formats: tuple[str, ...]
    placement: str = "ellipse"
    ellipse: Ellipse | None = None
    ellipse_end: Ellipse | None = None
    upload: str | os.PathLike | None = None
    negative_prompt: str | None = None
    start: str = "text"
    inputs: dict = field(default_factory=dict)
    """The pipeline's image/video arguments (:func:`~wan_alpha.pipelines.conditioning.read_inputs`)."""
    extended: RGBAVideo | None = None
    """The clip being extended: written with the new frames appended."""


@dataclass
class Clip:
    """One generated clip: its prompt and seed, the file per format, and the WebPs the page shows."""

    prompt: str
    seed: int
    files: dict[str, Path] = field(default_factory=dict)
    display: Path | None = None
    matte: Path | None = None


def read_prompts_box(text: str) -> tuple[str, ...]:
    """The prompts of the page's text box: one per non-empty line."""
    prompts = tuple(line.strip() for line in (text or "").splitlines() if line.strip())
    if not prompts:
        raise WanAlphaError("no prompt given: type what to generate (one prompt per line for several clips)")
    return prompts


def _whole(name: str, value: float) -> int:
    """The page's number fields arrive as floats: refuse fractions rather than round them silently."""
    if value is None or not math.isfinite(value) or value != int(value):
        raise WanAlphaError(f"{name} must be a whole number, got {value}")
    return int(value)


class AppModel:
    """The pipeline the app serves, loaded once (the embedded model, ``model`` or ``wan_files``) on ``device``
    as ``memory`` says; the page's defaults are its config's."""

    def __init__(self, model: str | os.PathLike | None = None, wan_files: WanAlphaFiles | None = None,
                 device: str | None = None, memory: MemorySettings | None = None, sampler: str | None = None) -> None:
        folder = check_model_choice(model, wan_files)
        self.memory = memory or MemorySettings()
        self.device = generation_device(device, self.memory)
        self.pipe: WanAlphaPipeline = load_pipeline(folder, wan_files, self.device, self.memory, sampler)
        self.name = folder.name if folder is not None else Path(wan_files.model_dir).name

    @property
    def size_multiple(self) -> int:
        """Frame sizes must be multiples of this (VAE stride x DiT patch)."""
        return self.pipe.vae.spatial_stride * self.pipe.transformer.config.patch_size[1]

    def request(self, prompts: str, seed: float, steps: float, guidance: float, frames: float, width: float,
                height: float, fps: float, formats: list[str], placement: str, ellipse: Ellipse | None,
                ellipse_end: Ellipse | None, upload: str | os.PathLike | None,
                negative_prompt: str | None = None, start: str = "text", image: str | os.PathLike | None = None,
                image_alpha: str | os.PathLike | None = None, opaque_image: bool = False,
                last_image: str | os.PathLike | None = None, loop: bool = False, clip: str | os.PathLike | None = None,
                strength: float | None = None) -> Request:
        """The page's raw values as a checked :class:`Request` (every message names the field and the fix). Starting
        from an image or a clip, its size (and a restyled clip's frame count) replace the page's; the fields of the
        other starts are ignored (the page hides them)."""
        if placement not in PLACEMENTS:
            raise WanAlphaError(f"unknown placement {placement!r}: choose one of {', '.join(PLACEMENTS)}")
        if start not in STARTS:
            raise WanAlphaError(f"unknown start {start!r}: choose one of {', '.join(STARTS)}")
        if placement == "input's alpha" and start == "text":
            raise WanAlphaError("placement 'input's alpha' needs an image or a clip to start from: choose 'ellipse'")
        if (start == "image" and image is None) or (start in ("clip", "extend") and clip is None):
            raise WanAlphaError(f"starting from {'an image' if start == 'image' else 'a clip'} needs one: upload the "
                                f"{'image' if start == 'image' else 'clip'}, or start from text")
        extended = read_video(clip) if start == "extend" else None
        image_mode = start == "image"
        inputs = read_inputs(
            image if image_mode else None, image_alpha if image_mode else None, image_mode and opaque_image,
            last_image if image_mode else None, image_mode and loop, clip if start == "clip" else None,
            strength if start == "clip" else None, extended, DEFAULT_CONTEXT_FRAMES)
        if placement in ("alpha video", "mask file") and upload is None:
            raise WanAlphaError(f"placement '{placement}' needs a file: upload the {placement}, or choose 'ellipse'")
        formats = tuple(formats or ())
        if not formats:
            raise WanAlphaError("no output format chosen: tick at least one (webm plays in browsers)")
        unknown = [f for f in formats if f not in DOWNLOAD_FORMATS]
        if unknown:
            raise WanAlphaError(f"unknown format {unknown[0]!r}: choose from {', '.join(DOWNLOAD_FORMATS)}")
        if not (fps and math.isfinite(fps) and fps > 0):
            raise WanAlphaError(f"fps must be a positive number, got {fps}")
        input_height, input_width = input_size(inputs)
        request = Request(
            prompts=read_prompts_box(prompts), seed=_whole("seed", seed), steps=_whole("steps", steps),
            guidance=float(guidance),
            frames=inputs["video"].num_frames if "video" in inputs else _whole("frames", frames),
            width=input_width or _whole("width", width), height=input_height or _whole("height", height),
            fps=float(fps), formats=formats, placement=placement,
            ellipse=ellipse if placement == "ellipse" else None,
            ellipse_end=ellipse_end if placement == "ellipse" else None,
            upload=upload if placement in ("alpha video", "mask file") else None,
            negative_prompt=negative_prompt or None, start=start, inputs=inputs, extended=extended,
        )
        check_video_size(request.height, request.width, request.frames, self.pipe.transformer.config.patch_size[1],
                         self.pipe.vae.spatial_stride,
                         what="size" if input_height is None else "the input image/video size")
        if inputs:  # a clip too short to extend, ...: refused here rather than after the model's text encoder ran
            self.pipe.check_conditions(inputs_conditions(inputs), request.height, request.width, request.frames)
        # a clip too big for the GPU is refused up front, naming the fix (a no-op on the CPU)
        check_fits(estimate_memory(self.pipe, request.frames, request.height, request.width, self.memory), self.device)
        return request

    def generate(self, request: Request, folder: Path, progress: Progress) -> list[Clip]:
        """Generate every prompt of ``request`` into ``folder`` (which must exist and be empty of these names)."""
        mask = None
        if request.placement == "alpha video":
            progress(0.0, "fitting ellipses to the alpha video")
            mask = matte_mask(self.pipe, request.upload, request.height, request.width)
        elif request.placement == "mask file":
            mask = load_mask(request.upload)
        seeds = torch.Generator(device=self.pipe._execution_device)
        clips = []
        for i, prompt in enumerate(request.prompts):
            stage = _ClipProgress(progress, i, len(request.prompts), request.steps)
            with self.pipe.vae.on_decoder_call(stage.decoded):
                result = self.pipe(
                    prompt, negative_prompt=request.negative_prompt, height=request.height, width=request.width,
                    num_frames=request.frames, num_inference_steps=request.steps, guidance_scale=request.guidance,
                    generator=seeds.manual_seed(request.seed + i), mask=mask, ellipse=request.ellipse,
                    ellipse_end=request.ellipse_end, callback_on_step_end=stage.sampled, **request.inputs,
                )
            video = RGBAVideo(result.videos[0].frames, request.fps)
            if request.extended is not None:
                video = join_extension(request.extended, video, overlap=DEFAULT_CONTEXT_FRAMES)
                video = RGBAVideo(video.frames, request.fps)
            stage.report(0.95, f"writing {', '.join(request.formats)}")
            clips.append(_write(video, prompt, request.seed + i, request.formats,
                                folder / f"clip{i + 1:02d}-seed{request.seed + i}"))
        progress(1.0, "done")
        return clips


class _ClipProgress:
    """Progress through clip ``index`` of ``count``: its sampling steps fill the first half of its share, the
    decoder passes (as many as :meth:`~wan_alpha.models.rgba_vae.RGBAVAE.decoder_calls` counts) the rest up to 95%,
    the writing the last 5%. Decoding takes longer than sampling at few steps, so both have their own count."""

    def __init__(self, progress: Progress, index: int, count: int, steps: int) -> None:
        self.progress, self.steps = progress, steps
        self.start, self.share = index / count, 1 / count
        self.label = f"clip {index + 1}/{count}: " if count > 1 else ""
        self.passes, self.total_passes = 0, 1
        self.report(0.0, f"sampling step 1/{steps}")

    def report(self, fraction: float, what: str) -> None:
        self.progress(self.start + self.share * fraction, self.label + what)

    def sampled(self, pipe: WanAlphaPipeline, step: int, timestep: torch.Tensor, tensors: dict) -> dict:
        """``callback_on_step_end``: the next step, or after the last one the decoding ahead."""
        if step + 1 < self.steps:
            self.report(0.5 * (step + 1) / self.steps, f"sampling step {step + 2}/{self.steps}")
        else:
            self.total_passes = pipe.vae.decoder_calls(tensors["latents"])
            self.report(0.5, f"decoding 0/{self.total_passes}")
        return {}

    def decoded(self) -> None:
        """After each decoder pass."""
        self.passes += 1
        self.report(0.5 + 0.45 * self.passes / self.total_passes, f"decoding {self.passes}/{self.total_passes}")

def _write(video: RGBAVideo, prompt: str, seed: int, formats: tuple[str, ...], stem: Path) -> Clip:
    """``video`` in each of ``formats``, plus the page's lossless WebP of it and an opaque one of its alpha."""
    clip = Clip(prompt, seed)
    for name in formats:
        written = write_video(stem.with_name(f"{stem.name}-{name}{FORMATS[name].suffix}"), video, format=name)
        clip.files[name] = Path(shutil.make_archive(str(written), "zip", written)) if written.is_dir() else written
    # the WebP download is the same lossless file the page shows: encode it once
    clip.display = clip.files.get("webp") or write_video(stem.with_name(f"{stem.name}-display.webp"), video)
    grey = np.repeat(video.alpha[..., None], 3, axis=-1)
    matte = RGBAVideo(np.concatenate([grey, np.full_like(grey[..., :1], 255)], axis=-1), video.fps)
    clip.matte = write_video(stem.with_name(f"{stem.name}-matte.webp"), matte)
    return clip
