"""Video containers through PyAV (FFmpeg): WebM VP9 / VP8 alpha, MOV ProRes 4444 / PNG / QuickTime Animation, H.264."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation

from ..errors import WanAlphaError
from .base import DEFAULT_FPS, Decoded, WriteOptions, check_frame_count, fps_fraction, stack_frames
from .limits import DecodeBudget, check_clip, check_fps
from .video import RGBAVideo

# swscale's default RGB <-> YUV conversion truncates instead of rounding and subsamples chroma crudely
# (grey 204 comes back as 203, ~1.8 levels mean error at 4:2:0); these flags bring yuv420 round
# trips to ~0.3 levels mean error for little cost.
_SWS_FLAGS = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT | Interpolation.FULL_CHR_H_INP

# FFmpeg's native VP8/VP9 decoders ignore the alpha layer that WebM stores beside the colour
# frames (they return alpha 255 everywhere); libvpx's own decoders read it.
_ALPHA_DECODERS = {"vp9": "libvpx-vp9", "vp8": "libvpx"}

# The format a codec with alpha shows, where several share an extension (.mov: ProRes, PNG, Animation).
_FORMAT_OF_CODEC = {"vp9": "webm", "vp8": "webm-vp8", "prores": "mov", "png": "mov-png", "qtrle": "mov-qtrle"}

PREMULTIPLIED_TAG = "wan-alpha premultiplied"
"""The container comment that marks colour stored premultiplied (``write_video(premultiplied=True)``)."""


@dataclass(frozen=True)
class Encoder:
    """One FFmpeg encoder setup: codec, pixel format, fixed options and what ``quality`` sets."""

    codec: str
    pix_fmt: str
    options: dict[str, str] = field(default_factory=dict)
    quality_option: str | None = None
    default_quality: int | None = None
    container_options: dict[str, str] = field(default_factory=dict)


# crf 15 trades a few isolated alpha errors on edges for small files (bench/alpha_fidelity.py; crf 0: near-lossless);
# b=0 selects constant-quality mode, cpu-used 4 + row-mt is ~2x faster than libvpx's default speed.
VP9_ALPHA = Encoder(
    "libvpx-vp9",
    "yuva420p",
    {"b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"},
    quality_option="crf",
    default_quality=15,
)
# VP8 keeps alpha only without alternate reference frames (libvpx refuses yuva420p with auto-alt-ref);
# crf 4 is libvpx VP8's best constant quality (its range is 4-63).
VP8_ALPHA = Encoder(
    "libvpx",
    "yuva420p",
    {"b": "0", "auto-alt-ref": "0", "deadline": "good", "cpu-used": "4"},
    quality_option="crf",
    default_quality=10,
)
PRORES_4444 = Encoder("prores_ks", "yuva444p10le", {"profile": "4444"})
PNG_MOV = Encoder("png", "rgba")
QTRLE = Encoder("qtrle", "argb")
H264_PREVIEW = Encoder(
    "libx264",
    "yuv420p",
    {"preset": "veryfast"},
    quality_option="crf",
    default_quality=18,
    container_options={"movflags": "+faststart"},
)


def pad_to_even(frames: np.ndarray) -> np.ndarray:
    """yuv420p needs even sizes: repeat the last row / column once when height / width is odd."""
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge") if pad_h or pad_w else frames


def fill_transparent(frames: np.ndarray) -> np.ndarray:
    """Give fully transparent pixels the colour of the nearest visible pixel (invisible either way).

    4:2:0 chroma averages 2x2 blocks, so at a hard edge the hidden colour (often black) bleeds into
    the visible pixels: VP9 colour error 104/255 where alpha >= 128 on a hard edge, 6/255 with this fill
    (bench/alpha_fidelity.py, procedural shape clip).
    """
    from scipy import ndimage  # only when writing, not for the command line's start-up

    filled = frames.copy()
    for frame, out in zip(frames, filled):
        hidden = frame[..., 3] == 0
        if hidden.any() and not hidden.all():
            _, (rows, cols) = ndimage.distance_transform_edt(hidden, return_indices=True)
            out[..., :3] = frame[rows, cols, :3]
    return filled


def write_frames(
    path: Path, frames: np.ndarray, fps: float, encoder: Encoder, quality: int | None = None, comment: str | None = None
) -> None:
    """Encode uint8 frames ``(T, H, W, 3 or 4)`` into ``path``; the container follows the suffix.

    ``comment`` goes into the container's comment tag (MOV/MP4 ``\xa9cmt``, Matroska ``COMMENT``).
    """
    rate = fps_fraction(fps)
    source_format = "rgba" if frames.shape[-1] == 4 else "rgb24"
    with av.open(str(path), "w", options=encoder.container_options) as container:
        if comment:
            container.metadata["comment"] = comment
        stream = container.add_stream(encoder.codec, rate=rate)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = encoder.pix_fmt
        options = dict(encoder.options)
        if encoder.quality_option:
            options[encoder.quality_option] = str(quality if quality is not None else encoder.default_quality)
        stream.options = options
        for index, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format=source_format)
            video_frame = video_frame.reformat(format=encoder.pix_fmt, interpolation=_SWS_FLAGS)
            video_frame.pts = index
            video_frame.time_base = 1 / rate
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))


def write_rgba(path: Path, video: RGBAVideo, options: WriteOptions, *, encoder: Encoder) -> None:
    """Registry adapter: write an :class:`RGBAVideo` with one of the encoders above."""
    comment = PREMULTIPLIED_TAG if options.premultiplied else None
    frames = fill_transparent(video.frames) if "420" in encoder.pix_fmt else video.frames
    write_frames(path, frames, video.fps, encoder, options.quality, comment)


def container_comment(path: Path) -> str:
    """The container's comment tag ('' when none): where we mark premultiplied and stacked-alpha files."""
    with av.open(str(path)) as container:
        return container.metadata.get("comment", "")


def read_container(path: Path) -> Decoded:
    """Decode the first video stream of any FFmpeg-readable file to RGBA frames."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise WanAlphaError(f"{path} contains no video stream (empty, unfinished, or not a video file)")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        rate = stream.average_rate or stream.guessed_rate or fps_fraction(DEFAULT_FPS)
        check_fps(path, float(rate))
        declared = _declared_frames(stream, rate)
        check_clip(path, declared or 1, stream.codec_context.width or 1, stream.codec_context.height or 1)
        budget = DecodeBudget(path)  # headers can lie or say nothing: count what is really decoded too
        frames = []
        for frame in _decode(container, stream):
            budget.add(frame.width, frame.height)
            frames.append(frame)
        check_frame_count(path, len(frames), declared)
        premultiplied = container.metadata.get("comment") == PREMULTIPLIED_TAG
    # the decoded frames' format: FFmpeg's stream header says yuv420p for VP9 / VP8 with an alpha layer
    pixel_format = frames[0].format.name if frames else stream.codec_context.pix_fmt or "unknown"
    has_alpha = bool(frames) and any(c.is_alpha for c in frames[0].format.components)
    rgba = stack_frames([frame.to_ndarray(format="rgba", interpolation=_SWS_FLAGS) for frame in frames], path)
    shown = _FORMAT_OF_CODEC.get(codec) if has_alpha else None
    return Decoded(rgba, float(rate), has_alpha, codec, pixel_format, shown, premultiplied)


def _decode(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> Iterator[av.VideoFrame]:
    """All frames of ``stream``, through libvpx for VP8/VP9 so their alpha layer survives."""
    if stream.codec_context.name in _ALPHA_DECODERS:
        decoder = av.CodecContext.create(_ALPHA_DECODERS[stream.codec_context.name], "r")
    else:
        decoder = stream.codec_context
        decoder.thread_type = "AUTO"
    # Empty packets are the demuxer's end marker; libvpx refuses them, so flush explicitly instead.
    for packet in container.demux(stream):
        if packet.size:
            yield from decoder.decode(packet)
    yield from decoder.decode(None)


_DURATION_TAG = re.compile(r"^(\d+):(\d+):(\d+(?:\.\d+)?)$")


def _declared_frames(stream: av.video.stream.VideoStream, rate) -> int | None:
    """Frames the container promises: MOV/MP4 count them, Matroska/WebM only record a duration."""
    if stream.frames:
        return stream.frames
    tags = {key.lower(): value for key, value in stream.metadata.items()}
    match = _DURATION_TAG.match(tags.get("duration", ""))
    if not (match and rate):
        return None
    hours, minutes, seconds = match.groups()
    return round((int(hours) * 3600 + int(minutes) * 60 + float(seconds)) * rate)
