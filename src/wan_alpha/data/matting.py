"""Builders from matting datasets: still images (RGBA, or image + alpha pairs) and videos (fg + alpha).

Stills become short clips by moving a crop window over them: a random zoom of 1-2x (the
reference release's augmentation) and a window that slides and zooms linearly across the clip.
Videos are cut into ``4k + 1``-frame clips with a stride and resized to a short side.

Captions come from a ``NAME.txt`` file beside the input, the CSV's ``prompt``, or else the file
name ("red_fox_03.png" -> "A red fox.") -- matting sets rarely ship captions; caption them
properly (e.g. with a captioning model) and edit the manifest for real training.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import WanAlphaError
from ..io import DEFAULT_FPS, RGBAVideo, read_video
from ..io.limits import open_image
from .build import (
    CORRUPT,
    EMPTY_ALPHA,
    MISMATCHED_PAIR,
    MISSING_PAIR,
    NO_ALPHA,
    OPTIONS_NAME,
    TOO_LARGE,
    TOO_SHORT,
    UNREADABLE_FOLDER,
    BuildReport,
    Clip,
    Job,
    Skip,
    check_clip_size,
    check_frames,
    clip_seed_for,
    run_build,
    safe_id,
)
from .captions import make_caption, name_from_filename, with_article
from .manifest import read_reference_csv
from .transforms import crop_theta, premultiplied_tensor, resize_premultiplied, straight_frames, warp_premultiplied

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v", ".zip", ".apng", ".gif")
MIN_VISIBLE = 0.005
"""A clip must show at least this share of non-transparent pixels in every frame."""


def list_files(root: Path, extensions: tuple[str, ...]) -> tuple[list[Path], list[tuple[str, str, str]]]:
    """Files under ``root`` (sorted, recursive) and ``(reason, folder, detail)`` for folders that failed."""
    if not root.is_dir():
        raise WanAlphaError(f"input folder {root} does not exist or is not a folder")
    problems: list[tuple[str, str, str]] = []

    def failed(err: OSError) -> None:
        problems.append((UNREADABLE_FOLDER, str(err.filename), err.strerror or str(err)))

    files = []
    for folder, subfolders, names in os.walk(root, onerror=failed):
        if OPTIONS_NAME in names:  # a dataset this tool built (e.g. -o inside the input): its clips are no input
            subfolders.clear()
            continue
        files += [Path(folder) / n for n in names if Path(n).suffix.lower() in extensions and not n.startswith(".")]
    if not files and problems and problems[0][1] == str(root):
        raise WanAlphaError(f"cannot read input folder {root}: {problems[0][2]}")
    return sorted(files), problems


def _index_by_stem(root: Path, extensions: tuple[str, ...]) -> dict[Path, Path]:
    """``relative path without suffix -> file`` for pairing a colour file with its matte."""
    files, _ = list_files(root, extensions)
    return {path.relative_to(root).with_suffix(""): path for path in files}


def caption_for(path: Path) -> str:
    """``NAME.txt`` beside the input if present, else a caption made from the file name."""
    sidecar = path.with_suffix(".txt")
    if sidecar.is_file():
        text = sidecar.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            return text
    return make_caption(with_article(name_from_filename(path.stem)))


# ----------------------------------------------------------------------------------------------
# Stills


def read_still(path: Path, alpha_path: Path | None = None) -> np.ndarray:
    """An RGBA still as uint8 ``(H, W, 4)``; the alpha comes from the image or from ``alpha_path``'s luma.

    Raises :class:`Skip` for a corrupt file, an image without alpha, a matte of another size, or
    an alpha that is fully opaque or fully transparent.
    """
    colour, has_alpha = _open_image(path)
    if alpha_path is not None:
        matte, _ = _open_image(alpha_path)
        if matte.shape[:2] != colour.shape[:2]:
            raise Skip(
                MISMATCHED_PAIR,
                f"image is {colour.shape[1]}x{colour.shape[0]}, its alpha {alpha_path.name} is "
                f"{matte.shape[1]}x{matte.shape[0]}",
            )
        alpha = np.asarray(Image.fromarray(matte).convert("L"))
        rgba = np.concatenate([colour[..., :3], alpha[..., None]], axis=-1)
    elif not has_alpha:
        raise Skip(NO_ALPHA, "image has no alpha channel (give its matte folder with --alpha-dir)")
    else:
        rgba = colour
    if rgba[..., 3].min() == 255:
        raise Skip(NO_ALPHA, "alpha is fully opaque")
    if rgba[..., 3].max() == 0:
        raise Skip(EMPTY_ALPHA, "alpha is fully transparent")
    return rgba


def _open_image(path: Path) -> tuple[np.ndarray, bool]:
    try:
        with open_image(path) as image:
            image.load()
            return np.asarray(image.convert("RGBA")), image.has_transparency_data
    except WanAlphaError as err:  # over the input limits
        raise Skip(TOO_LARGE, str(err)) from err
    except (OSError, SyntaxError, ValueError) as err:
        raise Skip(CORRUPT, f"cannot decode image: {' '.join(str(err).split()) or type(err).__name__}") from err


def still_to_clip(
    image: np.ndarray,
    rng: np.random.Generator,
    frames: int,
    height: int,
    width: int,
    zoom: tuple[float, float] = (1.0, 2.0),
    fps: float = DEFAULT_FPS,
    attempts: int = 5,
) -> RGBAVideo:
    """A ``frames``-long clip of a crop window sliding and zooming over a still ``(H, W, 4)``.

    Zoom 1 is the largest window of the output's aspect that fits the image; the window's zoom and
    centre (within the subject's bounding box) move linearly between two random draws. A draw that
    loses the subject (under :data:`MIN_VISIBLE` visible pixels in some frame) is redrawn; after
    ``attempts`` the image is skipped.
    """
    src_h, src_w = image.shape[:2]
    cover = max(height / src_h, width / src_w)  # output pixels per source pixel at zoom 1
    # Pre-shrink (antialiased) so the warp never downsamples by more than 2x: bilinear sampling
    # alone would alias fine detail such as hair.
    scale = min(1.0, cover * zoom[1])
    source = premultiplied_tensor(image[None])
    source = resize_premultiplied(source, max(1, round(src_h * scale)), max(1, round(src_w * scale)))[0]
    tau = np.linspace(0.0, 1.0, frames)
    ys, xs = np.nonzero(image[..., 3])
    subject_lo, subject_hi = np.array([xs.min(), ys.min()]), np.array([xs.max() + 1, ys.max() + 1])
    for _ in range(attempts):
        z = np.interp(tau, [0, 1], rng.uniform(*zoom, 2))
        win = np.stack([width / (cover * z), height / (cover * z)], axis=1)  # (T, 2) window w, h
        # Window centres range over the subject's bounding box (clamped so the window stays inside
        # the image): random crops of a small subject would otherwise often show nothing.
        low, high = win / 2, np.array([src_w, src_h]) - win / 2
        lo, hi = np.clip(subject_lo, low, high), np.clip(subject_hi, low, high)
        u = np.stack([np.interp(tau, [0, 1], rng.random(2)) for _ in range(2)], axis=1)
        centre = lo + u * (hi - lo)
        boxes = np.concatenate([centre - win / 2, centre + win / 2], axis=1)  # x0, y0, x1, y1
        with torch.no_grad():
            warped = warp_premultiplied(source, crop_theta(boxes, src_h, src_w), height, width)
        clip = straight_frames(warped)
        if (clip[..., 3] > 0).mean(axis=(1, 2)).min() >= MIN_VISIBLE:
            return RGBAVideo(clip, fps)
    raise Skip(EMPTY_ALPHA, f"no crop window out of {attempts} kept the subject in view")


def _still_job(
    path: Path,
    root: Path,
    alpha_path: Path | None,
    pairs: bool,
    seed: int,
    frames: int,
    height: int,
    width: int,
    clips_per_image: int,
    zoom: tuple[float, float],
) -> list[Clip]:
    if pairs and alpha_path is None:
        raise Skip(MISSING_PAIR, "no alpha file with the same name in --alpha-dir")
    image = read_still(path, alpha_path)
    rng = clip_seed_for(seed, str(path.relative_to(root)))
    caption = caption_for(path)
    return [Clip(still_to_clip(image, rng, frames, height, width, zoom), caption) for _ in range(clips_per_image)]


def build_from_images(
    input_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    alpha_dir: str | os.PathLike | None = None,
    frames: int = 17,
    height: int = 480,
    width: int = 480,
    clips_per_image: int = 1,
    zoom: tuple[float, float] = (1.0, 2.0),
    seed: int = 0,
    source: str | None = None,
    license: str = "",
    clip_format: str = "zip",
    progress: bool | None = None,
) -> BuildReport:
    """Clips from an image-matting set: a folder of RGBA images, or images + ``alpha_dir`` mattes.

    Mattes pair with images by relative path without extension (``fg/a/x.jpg`` <-> ``alpha/a/x.png``).
    """
    check_frames(frames)
    if clips_per_image < 1 or not 0 < zoom[0] <= zoom[1] or height < 1 or width < 1:
        raise WanAlphaError(
            f"need clips_per_image >= 1, 0 < zoom min <= zoom max and a positive size, got "
            f"{clips_per_image}, {zoom}, {width}x{height}"
        )
    check_clip_size(frames, height, width)
    root = Path(input_dir)
    images, problems = list_files(root, IMAGE_EXTENSIONS)
    mattes = _index_by_stem(Path(alpha_dir), IMAGE_EXTENSIONS) if alpha_dir is not None else {}
    jobs = [
        Job(
            id=safe_id(str(path.relative_to(root))),
            input=str(path),
            make=partial(
                _still_job,
                path,
                root,
                mattes.get(path.relative_to(root).with_suffix("")),
                alpha_dir is not None,
                seed,
                frames,
                height,
                width,
                clips_per_image,
                tuple(zoom),
            ),
        )
        for path in images
    ]
    options = {
        "input": str(root.resolve()),
        "alpha_dir": str(Path(alpha_dir).resolve()) if alpha_dir else None,
        "frames": frames,
        "height": height,
        "width": width,
        "clips_per_image": clips_per_image,
        "zoom": list(zoom),
        "seed": seed,
    }
    return run_build(
        "images",
        jobs,
        out_dir,
        options=options,
        source=source or root.name,
        license=license,
        clip_format=clip_format,
        pre_skipped=problems,
        progress=progress,
    )


# ----------------------------------------------------------------------------------------------
# Videos


def cut_clips(
    video: RGBAVideo, frames: int, stride: int, frame_step: int = 1, max_clips: int | None = None
) -> Iterator[RGBAVideo]:
    """Consecutive ``frames``-long windows every ``stride`` frames, after keeping every ``frame_step``-th frame."""
    kept = video.frames[::frame_step]
    if len(kept) < frames:
        raise Skip(TOO_SHORT, f"{len(kept)} frames (after frame step {frame_step}), need {frames}")
    starts = range(0, len(kept) - frames + 1, stride)
    for start in list(starts)[:max_clips]:
        yield RGBAVideo(kept[start : start + frames], video.fps / frame_step)


def resize_short_side(video: RGBAVideo, short_side: int | None, multiple: int = 16) -> RGBAVideo:
    """Scale so the shorter side is ``short_side``, each side rounded to a multiple of ``multiple``."""
    if short_side is None:
        return video
    factor = short_side / min(video.height, video.width)
    height, width = (max(multiple, round(s * factor / multiple) * multiple) for s in (video.height, video.width))
    if (height, width) == (video.height, video.width):
        return video
    with torch.no_grad():
        x = resize_premultiplied(premultiplied_tensor(video.frames), height, width)
    return RGBAVideo(straight_frames(x), video.fps)


def _video_job(
    path: Path,
    alpha_path: Path | None,
    pairs: bool,
    caption: str,
    frames: int,
    stride: int,
    frame_step: int,
    max_clips: int | None,
    short_side: int | None,
) -> list[Clip]:
    if pairs and alpha_path is None:
        raise Skip(MISSING_PAIR, "no alpha video with the same name in --alpha-dir")
    video = read_video(path, alpha_path=alpha_path)
    return [
        Clip(resize_short_side(clip, short_side), caption)
        for clip in cut_clips(video, frames, stride, frame_step, max_clips)
    ]


def _video_pairs(
    input: Path, alpha_dir: Path | None
) -> tuple[list[tuple[Path, Path | None, bool, str]], list[tuple[str, str, str]]]:
    """``(colour, alpha or None, alpha expected, caption)`` per input video, and listing problems."""
    if input.is_file() and input.suffix.lower() == ".csv":
        if alpha_dir is not None:
            raise WanAlphaError("a reference CSV names its alpha videos (video_pha): drop --alpha-dir")
        base = input.parent
        return [(base / r.rgb, base / r.alpha, True, r.caption) for r in read_reference_csv(input)], []
    videos, problems = list_files(input, VIDEO_EXTENSIONS)
    mattes = _index_by_stem(alpha_dir, VIDEO_EXTENSIONS) if alpha_dir is not None else {}
    pairs = [
        (path, mattes.get(path.relative_to(input).with_suffix("")), alpha_dir is not None, caption_for(path))
        for path in videos
    ]
    return pairs, problems


def build_from_videos(
    input: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    alpha_dir: str | os.PathLike | None = None,
    frames: int = 17,
    stride: int | None = None,
    frame_step: int = 1,
    max_clips_per_video: int | None = None,
    short_side: int | None = 480,
    source: str | None = None,
    license: str = "",
    clip_format: str = "zip",
    progress: bool | None = None,
) -> BuildReport:
    """Clips from a video-matting set.

    ``input`` is a folder of RGBA videos, a folder of colour videos with mattes in ``alpha_dir``
    (paired by relative path without extension), or a reference CSV (``video_fgr``, ``video_pha``,
    ``prompt``; paths relative to the CSV). ``stride`` defaults to ``frames`` (no overlap).
    """
    check_frames(frames)
    stride = stride or frames
    if stride < 1 or frame_step < 1 or (max_clips_per_video is not None and max_clips_per_video < 1):
        raise WanAlphaError(
            f"stride, frame_step and max_clips_per_video must be >= 1, got {stride}, {frame_step}, {max_clips_per_video}"
        )
    if short_side is not None and short_side < 16:
        raise WanAlphaError(f"short_side must be at least 16 pixels, got {short_side}")
    input = Path(input)
    if not input.exists():
        raise WanAlphaError(f"input {input} does not exist: give a folder of videos or a reference CSV")
    entries, problems = _video_pairs(input, Path(alpha_dir) if alpha_dir is not None else None)
    base = input.parent if input.is_file() else input
    jobs = [
        Job(
            id=safe_id(os.path.relpath(path, base)),
            input=str(path),
            make=partial(
                _video_job, path, alpha, expected, caption, frames, stride, frame_step, max_clips_per_video, short_side
            ),
        )
        for path, alpha, expected, caption in entries
    ]
    options = {
        "input": str(input.resolve()),
        "alpha_dir": str(Path(alpha_dir).resolve()) if alpha_dir else None,
        "frames": frames,
        "stride": stride,
        "frame_step": frame_step,
        "max_clips_per_video": max_clips_per_video,
        "short_side": short_side,
    }
    return run_build(
        "videos",
        jobs,
        out_dir,
        options=options,
        source=source or input.stem,
        license=license,
        clip_format=clip_format,
        pre_skipped=problems,
        progress=progress,
    )
