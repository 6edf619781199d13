"""Animated emoji clips from the ``emoji-datasource-google`` npm package (Noto Emoji, Apache-2.0).

The package is data, not code, and is installed once by the user (nothing is downloaded at run
time)::

    npm install --prefix data/emoji emoji-datasource-google@16.0.0

It ships ``img/google/64/*.png`` (RGBA 64x64 sprites) and ``emoji.json`` (``name``, ``category``,
``subcategory``, ``image``, ``has_img_google``...). Each clip animates one sprite, or two, on a
transparent canvas -- moving, bouncing, spinning, growing/shrinking -- and is captioned from the
emoji names. Sprites are 64 px: canvases much above 256 px give soft, upscaled sprites.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ..errors import WanAlphaError
from ..io import DEFAULT_FPS, RGBAVideo
from .build import UNREADABLE, BuildReport, Clip, Job, JobList, check_clip_size, check_frames, clip_seed_for, run_build
from .captions import DIRECTIONS, make_caption, with_article
from .matting import read_still
from .transforms import over, placement_theta, premultiplied_tensor, straight_frames, warp_premultiplied

EMOJI_PACKAGE = "emoji-datasource-google"
EMOJI_IMAGE_DIR = Path("img/google/64")
EMOJI_LICENSE = "Apache-2.0 (Noto Emoji images, via emoji-datasource-google)"
EXCLUDED_CATEGORIES = ("Component",)
"""Skin-tone swatches and hair components are not objects worth animating."""
MISSING_FILE = "missing_file"
ANIMATIONS = ("move", "bounce", "spin", "scale")


@dataclass(frozen=True)
class EmojiSprite:
    name: str
    category: str
    subcategory: str
    path: Path


def find_emoji_package(folder: str | os.PathLike) -> Path:
    """The package folder itself, or the ``--prefix`` folder npm installed it under."""
    folder = Path(folder)
    for candidate in (folder, folder / "node_modules" / EMOJI_PACKAGE):
        if (candidate / "emoji.json").is_file() and (candidate / EMOJI_IMAGE_DIR).is_dir():
            return candidate
    raise WanAlphaError(
        f"{folder} holds no {EMOJI_PACKAGE} package (emoji.json and {EMOJI_IMAGE_DIR}/): install it with "
        f"`npm install --prefix {folder} {EMOJI_PACKAGE}@16.0.0` and pass that folder"
    )


def load_emoji_index(
    folder: str | os.PathLike, categories: Sequence[str] | None = None
) -> tuple[list[EmojiSprite], list[tuple[str, str, str]]]:
    """Sprites listed in ``emoji.json`` (optionally only ``categories``) and the entries skipped.

    Entries without a Google image, in :data:`EXCLUDED_CATEGORIES`, or outside ``categories``
    are left out silently; a listed image file that is missing is reported.
    """
    package = find_emoji_package(folder)
    try:
        entries = json.loads((package / "emoji.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WanAlphaError(f"cannot read {package / 'emoji.json'}: {err}; reinstall the package") from err
    if not isinstance(entries, list):
        raise WanAlphaError(f"{package / 'emoji.json'} is not a list of emoji; reinstall the package")
    wanted = set(categories) if categories else None
    sprites, problems = [], []
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("image") or not entry.get("name"):
            problems.append((UNREADABLE, str(entry)[:60], "emoji.json entry without name or image"))
            continue
        category = str(entry.get("category", ""))
        if not entry.get("has_img_google", True) or category in EXCLUDED_CATEGORIES:
            continue
        if wanted is not None and category not in wanted:
            continue
        path = package / EMOJI_IMAGE_DIR / entry["image"]
        if not path.is_file():
            problems.append((MISSING_FILE, str(path), "listed in emoji.json but not installed"))
            continue
        sprites.append(EmojiSprite(str(entry["name"]).lower(), category, str(entry.get("subcategory", "")), path))
    if not sprites:
        known = sorted({str(e.get("category")) for e in entries if isinstance(e, dict)})
        raise WanAlphaError(
            f"no usable emoji in {package}"
            + (f" for categories {sorted(wanted)} (known: {', '.join(known)})" if wanted else "")
        )
    return sprites, problems


def _animate(
    kind: str, rng: np.random.Generator, tau: np.ndarray, anchor: np.ndarray, size: float, canvas: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Per-frame ``centre (T, 2)``, ``size (T,)``, ``angle (T,)`` and a motion phrase."""
    height, width = canvas
    short = min(height, width)
    centre = np.tile(anchor, (len(tau), 1)).astype(np.float64)
    sizes = np.full(len(tau), size)
    angle = np.zeros(len(tau))
    if kind == "move":
        phrase, unit = DIRECTIONS[rng.integers(len(DIRECTIONS))]
        centre += np.outer(tau - 0.5, unit) * rng.uniform(0.3, 0.6) * short
        phrase = f"moving {phrase}"
    elif kind == "bounce":
        bounces, drift = rng.integers(1, 4), rng.uniform(-0.25, 0.25) * width
        centre[:, 0] += (tau - 0.5) * drift
        centre[:, 1] += 0.2 * short - np.abs(np.sin(np.pi * bounces * tau)) * rng.uniform(0.2, 0.35) * short
        phrase = "bouncing" + ("" if abs(drift) < 0.1 * width else " to the right" if drift > 0 else " to the left")
    elif kind == "spin":
        angle = 2 * np.pi * rng.uniform(0.5, 1.5) * rng.choice([-1, 1]) * tau
        phrase = "spinning in place"
    else:
        mode = rng.choice(["growing", "shrinking", "pulsing"])
        if mode == "pulsing":
            sizes = size * (1 + 0.2 * np.sin(2 * np.pi * rng.integers(1, 4) * tau))
        else:
            ramp = tau if mode == "growing" else 1 - tau
            sizes = size * (0.5 + 0.7 * ramp)
        phrase = str(mode)
    return centre, sizes, angle, phrase


def animate_sprites(
    sprites: Sequence[np.ndarray],
    names: Sequence[str],
    rng: np.random.Generator,
    frames: int,
    height: int,
    width: int,
    fps: float = DEFAULT_FPS,
) -> tuple[RGBAVideo, str]:
    """One or two RGBA sprites ``(h, w, 4)`` animated on a transparent canvas, and the caption."""
    tau = np.linspace(0.0, 1.0, frames)
    short = min(height, width)
    canvas = torch.zeros(frames, 4, height, width)
    phrases = []
    for index, (sprite, name) in enumerate(zip(sprites, names)):
        # Two sprites start on opposite halves so they rarely cover each other entirely.
        side = 0.0 if len(sprites) == 1 else (-0.22 if index == 0 else 0.22) * width
        anchor = np.array([width / 2 + side, height / 2]) + rng.uniform(-0.05, 0.05, 2) * short
        size = rng.uniform(0.3, 0.5) * short / (1 if len(sprites) == 1 else 1.3)
        centre, sizes, angle, phrase = _animate(
            ANIMATIONS[rng.integers(len(ANIMATIONS))], rng, tau, anchor, size, (height, width)
        )
        with torch.no_grad():
            layer = warp_premultiplied(
                premultiplied_tensor(sprite[None])[0],
                placement_theta(centre, sizes, angle, height, width),
                height,
                width,
            )
        canvas = over(layer, canvas)
        phrases.append(f"{with_article(name)} emoji {phrase}")
    return RGBAVideo(straight_frames(canvas), fps), make_caption(" and ".join(phrases))


def emoji_job_id(index: int) -> str:
    """The id of clip ``index`` of an emoji build (its seed derives from it)."""
    return f"emoji_{index:06d}"


def pick_sprites(
    sprites: list[EmojiSprite], seed: int, job_id: str, two: float
) -> tuple[np.random.Generator, list[EmojiSprite]]:
    """The sprite(s) clip ``job_id`` of a build with ``seed`` animates, and its generator (to animate them with):
    which sprites a training set saw, so evaluations can hold others out."""
    rng = clip_seed_for(seed, job_id)
    return rng, [sprites[i] for i in rng.integers(len(sprites), size=2 if rng.random() < two else 1)]


def _emoji_job(
    sprites: list[EmojiSprite], seed: int, job_id: str, frames: int, height: int, width: int, two: float
) -> list[Clip]:
    rng, picks = pick_sprites(sprites, seed, job_id, two)
    images = [read_still(p.path) for p in picks]
    video, caption = animate_sprites(images, [p.name for p in picks], rng, frames, height, width)
    return [Clip(video, caption)]


def build_emoji(
    package_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    count: int,
    seed: int = 0,
    frames: int = 17,
    height: int = 256,
    width: int = 256,
    categories: Sequence[str] | None = None,
    two_sprite_share: float = 0.3,
    clip_format: str = "zip",
    progress: bool | None = None,
) -> BuildReport:
    """``count`` animated emoji clips; clip ``i`` depends only on ``(seed, i)`` and the package."""
    check_frames(frames)
    if count < 1 or height < 16 or width < 16 or not 0 <= two_sprite_share <= 1:
        raise WanAlphaError(
            f"need count >= 1, a canvas of at least 16x16 and 0 <= two_sprite_share <= 1, got {count}, "
            f"{width}x{height}, {two_sprite_share}"
        )
    sprites, problems = load_emoji_index(package_dir, categories)
    check_clip_size(frames, height, width)

    def job(i: int) -> Job:
        job_id = emoji_job_id(i)
        make = partial(_emoji_job, sprites, seed, job_id, frames, height, width, two_sprite_share)
        return Job(id=job_id, input=f"emoji #{i}", make=make)

    jobs = JobList(count, job)
    # ``count`` is left out: clip i does not depend on it, so a resume may extend the set.
    options = {
        "package": str(find_emoji_package(package_dir).resolve()),
        "seed": seed,
        "frames": frames,
        "height": height,
        "width": width,
        "categories": sorted(categories) if categories else None,
        "two_sprite_share": two_sprite_share,
    }
    return run_build(
        "emoji",
        jobs,
        out_dir,
        options=options,
        source=EMOJI_PACKAGE,
        license=EMOJI_LICENSE,
        clip_format=clip_format,
        pre_skipped=problems,
        progress=progress,
    )
