"""Procedural RGBA clips of the hard transparency cases, seeded and deterministic.

The paper's hard cases are soft, semi-transparent matter: smoke and steam, glass and bubbles
(nearly clear bodies with bright rims), glow and fire, sheer cloth, particles. Real matting data
for them is scarce, so this module draws them procedurally (plus plain opaque shapes as a
control) with motion and a templated caption. Everything is vectorised numpy over the whole
``(T, H, W)`` grid: a 17x128x128 clip takes a few milliseconds, so clips are made on the fly.

Coordinates are normalised so the shorter image side spans 1 and the centre is (0, 0); time
``tau`` runs from 0 to 1 over the clip. Colours are float in [0, 1] until the final uint8 frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from ..errors import WanAlphaError
from ..io import RGBAVideo
from ..rgba import latent_frame_count
from .build import BuildReport, Clip, Job, JobList, check_clip_size, run_build
from .captions import DIRECTIONS, make_caption, with_article

SYNTHETIC_FPS = 16.0
"""Wan's native frame rate."""

SYNTHETIC_LICENSE = "CC0-1.0"
"""Procedural clips carry no third-party content."""

COLORS: dict[str, tuple[float, float, float]] = {
    "white": (0.95, 0.95, 0.95),
    "grey": (0.55, 0.55, 0.58),
    "red": (0.9, 0.12, 0.1),
    "orange": (1.0, 0.55, 0.1),
    "yellow": (1.0, 0.88, 0.2),
    "green": (0.2, 0.8, 0.3),
    "cyan": (0.2, 0.85, 0.95),
    "blue": (0.15, 0.35, 0.95),
    "purple": (0.6, 0.25, 0.85),
    "pink": (1.0, 0.45, 0.7),
}


@dataclass(frozen=True)
class _Grid:
    """Broadcastable coordinates: ``tau (T,1,1)``, ``y (1,H,1)``, ``x (1,1,W)``; ``scale`` px per unit."""

    tau: np.ndarray
    y: np.ndarray
    x: np.ndarray
    scale: float
    shape: tuple[int, int, int]


def _grid(frames: int, height: int, width: int) -> _Grid:
    scale = float(min(height, width))
    tau = (np.arange(frames, dtype=np.float32) / max(frames - 1, 1)).reshape(-1, 1, 1)
    y = ((np.arange(height, dtype=np.float32) + 0.5 - height / 2) / scale).reshape(1, -1, 1)
    x = ((np.arange(width, dtype=np.float32) + 0.5 - width / 2) / scale).reshape(1, 1, -1)
    return _Grid(tau, y, x, scale, (frames, height, width))


@dataclass(frozen=True)
class _Motion:
    """A straight path through the frame centre region: ``centre(tau) = start + velocity * tau``."""

    phrase: str
    start: np.ndarray  # (2,) x, y
    velocity: np.ndarray  # (2,) x, y, in units per clip

    def centre(self, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.start[0] + self.velocity[0] * tau, self.start[1] + self.velocity[1] * tau


def _motion(
    rng: np.random.Generator, still_phrase: str = "in place", speed: tuple[float, float] = (0.15, 0.4)
) -> _Motion:
    """A random direction (or none, 15% of clips) and a start point so the path stays centred."""
    if rng.random() < 0.15:
        return _Motion(still_phrase, rng.uniform(-0.1, 0.1, 2).astype(np.float32), np.zeros(2, np.float32))
    phrase, unit = DIRECTIONS[rng.integers(len(DIRECTIONS))]
    velocity = np.asarray(unit, np.float32) * np.float32(rng.uniform(*speed))
    start = -velocity / 2 + rng.uniform(-0.08, 0.08, 2).astype(np.float32)
    return _Motion(phrase, start, velocity)


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[rng.integers(len(options))]


def _color(name: str, rng: np.random.Generator, jitter: float = 0.05) -> np.ndarray:
    base = np.asarray(COLORS[name], np.float32)
    return np.clip(base + rng.uniform(-jitter, jitter, 3).astype(np.float32), 0, 1)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _interpolation_matrix(coord: np.ndarray, cells: int) -> np.ndarray:
    """Weights ``(T, N, cells)`` that sample a periodic lattice axis at ``coord (T, N)`` (lattice units)
    with smoothstep interpolation: two non-zeros per row."""
    floor = np.floor(coord)
    frac = coord - floor
    smooth = (frac * frac * (3 - 2 * frac)).astype(np.float32)
    first = floor.astype(np.int64) % cells
    weights = np.zeros((*coord.shape, cells), np.float32)
    np.put_along_axis(weights, first[..., None], (1 - smooth)[..., None], axis=-1)
    np.put_along_axis(weights, ((first + 1) % cells)[..., None], smooth[..., None], axis=-1)
    return weights


def _value_noise(lattice: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Smooth value noise ``(T, H, W)`` in [0, 1] from a periodic random ``lattice``.

    ``y (T, H)`` and ``x (T, W)`` are lattice coordinates (rows may move per frame, not per
    column), so the 2-D interpolation factors into two small matrix products per frame:
    ``Wy @ lattice @ Wx^T`` -- BLAS instead of four large gathers.
    """
    rows = _interpolation_matrix(y, lattice.shape[0])
    cols = _interpolation_matrix(x, lattice.shape[1])
    # A contiguous right operand keeps numpy's stacked matmul on BLAS (a transposed view is ~300x slower).
    return rows @ lattice @ np.ascontiguousarray(cols.transpose(0, 2, 1))


def _turbulence(
    rng: np.random.Generator, grid: _Grid, y: np.ndarray, x: np.ndarray, base_cells: float, octaves: int = 3
) -> np.ndarray:
    """Fractal value noise ``(T, H, W)`` in [0, 1] whose octaves scroll in different directions, so it
    churns over time. ``y`` broadcasts to ``(T, H, 1)`` and ``x`` to ``(T, 1, W)``."""
    frames, height, width = grid.shape
    total = np.zeros(grid.shape, np.float32)
    norm = 0.0
    for octave in range(octaves):
        freq, amp = base_cells * 2**octave, 0.5**octave
        lattice = rng.random((32, 32), dtype=np.float32)
        drift = rng.uniform(-1.0, 1.0, 2).astype(np.float32) * freq * 0.15
        rows = np.broadcast_to(y * freq + drift[1] * grid.tau, (frames, height, 1))[..., 0]
        cols = np.broadcast_to(x * freq + drift[0] * grid.tau, (frames, 1, width))[:, 0]
        total += amp * _value_noise(lattice, rows, cols)
        norm += amp
    return total / norm


# Each drawer returns (rgb (T,H,W,3) float in [0,1], alpha (T,H,W) float in [0,1], caption sentence).
Drawer = Callable[[np.random.Generator, _Grid], tuple[np.ndarray, np.ndarray, str]]


def _draw_smoke(rng: np.random.Generator, grid: _Grid) -> tuple[np.ndarray, np.ndarray, str]:
    colour_name = _pick(rng, ("white", "grey", "grey", "white", "blue", "purple"))
    noun = _pick(rng, ("smoke", "steam", "mist", "vapour"))
    motion = _motion(rng)
    cx, cy = motion.centre(grid.tau)
    # The plume rises through the noise (y + tau) while its envelope follows the motion path.
    rise = np.float32(rng.uniform(0.3, 0.8))
    noise = _turbulence(rng, grid, grid.y + rise * grid.tau, grid.x, base_cells=rng.uniform(3, 5))
    width = np.float32(rng.uniform(0.13, 0.22)) * (1 + 0.4 * grid.tau)
    r2 = ((grid.x - cx) / width) ** 2 + ((grid.y - cy) / (1.4 * width)) ** 2
    floor = np.float32(np.exp(-4.0))  # numpy scalars are not "weak": keep float32
    envelope = np.clip((np.exp(-r2) - floor) / (1 - floor), 0, 1)  # exactly 0 far out
    density = _smoothstep(0.3, 0.75, noise) * envelope
    alpha = np.clip(density * np.float32(rng.uniform(0.6, 0.95)), 0, 1)
    shade = 0.75 + 0.35 * noise[..., None]
    rgb = np.clip(_color(colour_name, rng) * shade, 0, 1)
    sentence = f"A wisp of {colour_name} {noun} drifting {motion.phrase}"
    return rgb, alpha, sentence


def _draw_glass(rng: np.random.Generator, grid: _Grid) -> tuple[np.ndarray, np.ndarray, str]:
    colour_name = _pick(rng, ("white", "cyan", "blue", "green", "pink", "purple"))
    noun, plural = _pick(
        rng, (("soap bubble", "soap bubbles"), ("glass sphere", "glass spheres"), ("bubble", "bubbles"))
    )
    count = int(rng.integers(1, 4))
    motion = _motion(rng, still_phrase="bobbing in place")
    tint = _color(colour_name, rng)
    # All bubbles share the tint, so colour is tint blended towards white by one scalar "whiteness";
    # compositing (straight-alpha "over") then needs scalar fields only: alpha and premultiplied whiteness.
    alpha = np.zeros(grid.shape, np.float32)
    white_premul = np.zeros(grid.shape, np.float32)
    cx, cy = motion.centre(grid.tau)
    for _ in range(count):
        radius = np.float32(rng.uniform(0.12, 0.28) / np.sqrt(count))
        offset = rng.uniform(-0.25, 0.25, 2).astype(np.float32) * (count > 1)
        wobble = 1 + 0.04 * np.sin(2 * np.pi * (rng.uniform(1, 3) * grid.tau + rng.random()))
        dx, dy = grid.x - cx - offset[0], grid.y - cy - offset[1]
        d = np.sqrt(dx * dx + dy * dy) / (radius * wobble)
        # Nearly clear body that thickens towards the edge (Fresnel), a bright rim, a specular spot.
        body = _smoothstep(1.0, 0.97, d) * (0.08 + 0.22 * d**4)
        rim = np.exp(-(((d - 1.0) / 0.07) ** 2)) * 0.85
        spot = np.exp(-(((dx + 0.4 * radius) ** 2 + (dy + 0.4 * radius) ** 2) / (0.18 * radius) ** 2)) * 0.95
        a = np.clip(np.maximum(np.maximum(body, rim), spot), 0, 1)
        white = np.minimum(rim + spot, a)  # premultiplied whiteness of this bubble
        white_premul = white + white_premul * (1 - a)
        alpha = a + alpha * (1 - a)
    whiteness = (white_premul / np.maximum(alpha, 1e-6))[..., None]
    rgb = tint * (1 - whiteness) + whiteness
    tint_word = "clear" if colour_name == "white" else f"{colour_name}-tinted"
    subject = (
        f"{with_article(tint_word)} {noun}" if count == 1 else f"{['Two', 'Three'][count - 2]} {tint_word} {plural}"
    )
    where = motion.phrase if motion.phrase == "bobbing in place" else f"floating {motion.phrase}"
    return rgb, alpha, f"{subject} {where}"


def _flicker(rng: np.random.Generator, grid: _Grid, depth: float) -> np.ndarray:
    """Per-frame brightness ``(T,1,1)`` around 1: two sines plus a little noise."""
    tau = grid.tau
    wave = np.sin(2 * np.pi * (rng.uniform(2, 5) * tau + rng.random())) + 0.5 * np.sin(
        2 * np.pi * (rng.uniform(5, 9) * tau + rng.random())
    )
    noise = rng.normal(0, 0.3, tau.shape).astype(np.float32)
    return (1 + depth * (wave / 1.5 + noise) / 1.3).astype(np.float32)


def _draw_glow(rng: np.random.Generator, grid: _Grid) -> tuple[np.ndarray, np.ndarray, str]:
    colour_name = _pick(rng, ("white", "yellow", "orange", "cyan", "blue", "pink", "purple", "green"))
    noun = _pick(rng, ("glowing orb", "light", "glow", "wisp of light"))
    motion = _motion(rng, still_phrase="pulsing in place")
    cx, cy = motion.centre(grid.tau)
    radius = np.float32(rng.uniform(0.12, 0.3))
    d2 = ((grid.x - cx) ** 2 + (grid.y - cy) ** 2) / radius**2
    flicker = _flicker(rng, grid, depth=0.25)
    alpha = np.clip(np.exp(-2.0 * d2) * flicker * np.float32(rng.uniform(0.75, 1.0)), 0, 1)
    core = np.clip(np.exp(-8.0 * d2) * flicker, 0, 1)[..., None]
    rgb = _color(colour_name, rng) * (1 - core) + core
    sentence = f"{with_article(colour_name)} {noun} flickering and moving {motion.phrase}"
    if motion.phrase == "pulsing in place":
        sentence = f"{with_article(colour_name)} {noun} pulsing in place"
    return rgb, alpha, sentence


def _draw_fire(rng: np.random.Generator, grid: _Grid) -> tuple[np.ndarray, np.ndarray, str]:
    palette = _pick(rng, ("orange", "orange", "blue", "green"))
    noun = _pick(rng, ("flame", "fire", "campfire flame", "torch flame"))
    motion = _motion(rng, still_phrase="burning in place", speed=(0.1, 0.25))
    cx, cy = motion.centre(grid.tau)
    size = np.float32(rng.uniform(0.18, 0.3))
    # Teardrop: wide at the base, narrowing upward; noise scrolls up fast so the tongues lick upward.
    height_above_base = (cy + 0.5 * size - grid.y) / (2.2 * size)  # 0 at the base, 1 at the tip
    up = np.clip(height_above_base, 0, None)
    half_width = size * 0.55 * np.clip(1 - up, 0, 1) ** 0.7 + 1e-3
    noise = _turbulence(
        rng, grid, grid.y + np.float32(rng.uniform(1.5, 2.5)) * grid.tau, grid.x, base_cells=rng.uniform(4, 6)
    )
    shape = np.exp(-(((grid.x - cx) / half_width) ** 2)) * _smoothstep(
        0.0, 0.15, height_above_base + 0.15 * (noise - 0.5)
    )
    body = shape * _smoothstep(1.05, 0.55, up + 0.6 * (noise - 0.5))
    flicker = _flicker(rng, grid, depth=0.15)
    alpha = np.clip(body * 1.3 * flicker, 0, 1)
    heat = np.clip(body * flicker, 0, 1)[..., None]
    hot = np.asarray(COLORS["yellow"] if palette == "orange" else COLORS["white"], np.float32)
    rgb = np.clip(_color(palette if palette != "orange" else "red", rng) * (1 - heat) + hot * heat, 0, 1)
    colour_word = {"orange": "orange", "blue": "blue", "green": "green"}[palette]
    where = "burning in place" if motion.phrase == "burning in place" else f"burning and moving {motion.phrase}"
    return rgb, alpha, f"{with_article(colour_word)} {noun} {where}"


def _draw_veil(rng: np.random.Generator, grid: _Grid) -> tuple[np.ndarray, np.ndarray, str]:
    colour_name = _pick(rng, ("white", "red", "pink", "purple", "blue", "cyan", "yellow", "green"))
    noun = _pick(rng, ("sheer curtain", "silk veil", "chiffon scarf", "translucent cloth"))
    motion = _motion(rng, still_phrase="rippling in place", speed=(0.1, 0.25))
    cx, cy = motion.centre(grid.tau)
    angle = np.float32(rng.uniform(-0.4, 0.4))
    u = (grid.x - cx) * np.cos(angle) + (grid.y - cy) * np.sin(angle)  # across the sheet
    v = -(grid.x - cx) * np.sin(angle) + (grid.y - cy) * np.cos(angle)  # along the sheet
    phase = 2 * np.pi * (rng.uniform(1, 2.5) * grid.tau + rng.random())
    freq = np.float32(rng.uniform(4, 9))
    wave = np.float32(rng.uniform(0.04, 0.1)) * np.sin(freq * v - phase)
    half_width = np.float32(rng.uniform(0.15, 0.3)) * (1 + 0.15 * np.sin(freq * 0.5 * v + phase))
    half_length = np.float32(rng.uniform(0.3, 0.45))
    across = np.abs(u - wave) / half_width
    sheet = _smoothstep(1.0, 0.85, across) * _smoothstep(half_length, half_length - 0.06, np.abs(v))
    # Folds: light varies with the slope of the wave; overlapping folds look thicker.
    fold = np.cos(freq * 2.3 * u + 3 * np.sin(freq * v - phase))
    alpha = np.clip(sheet * (np.float32(rng.uniform(0.3, 0.55)) + 0.15 * fold), 0, 1)
    rgb = np.clip(_color(colour_name, rng)[None, None, None] * (0.8 + 0.25 * fold[..., None]), 0, 1)
    sentence = f"{with_article(colour_name)} {noun} rippling"
    if motion.phrase != "rippling in place":
        sentence += f" and drifting {motion.phrase}"
    return rgb, alpha, sentence + " in the wind"


def _draw_particles(rng: np.random.Generator, grid: _Grid) -> tuple[np.ndarray, np.ndarray, str]:
    """Gaussian splats scattered with ``bincount`` (only a small patch per particle is touched)."""
    colour_name, noun = [
        ("orange", "sparks"),
        ("white", "snowflakes"),
        ("yellow", "fireflies"),
        ("pink", "glitter"),
        ("cyan", "glitter"),
        ("grey", "dust motes"),
    ][rng.integers(6)]
    motion = _motion(rng, still_phrase="hovering in place", speed=(0.3, 0.8))
    frames, height, width = grid.shape
    count = int(rng.integers(20, 80))
    sigma = rng.uniform(0.006, 0.018, count).astype(np.float32) * grid.scale  # px
    peak = rng.uniform(0.4, 1.0, count).astype(np.float32)
    brightness = rng.uniform(0.7, 1.15, count).astype(np.float32)
    start = rng.random((count, 2), dtype=np.float32) * np.float32([width, height])
    velocity = motion.velocity * grid.scale + rng.normal(0, 0.08, (count, 2)).astype(np.float32) * grid.scale
    tau = grid.tau.reshape(-1, 1, 1)
    pos = (start + velocity * tau) % np.float32([width, height])  # (T, N, 2), wrapping at the edges
    radius = int(np.ceil(3 * sigma.max()))
    off = np.arange(-radius, radius + 1)
    px = np.floor(pos[..., 0])[..., None, None] + off[None, None, None, :]  # (T, N, 1, K)
    py = np.floor(pos[..., 1])[..., None, None] + off[None, None, :, None]  # (T, N, K, 1)
    d2 = (px + 0.5 - pos[..., 0, None, None]) ** 2 + (py + 0.5 - pos[..., 1, None, None]) ** 2
    twinkle = _flicker(rng, grid, depth=0.3).reshape(-1, 1, 1, 1)
    a = np.clip(peak[None, :, None, None] * twinkle * np.exp(-d2 / (2 * sigma[None, :, None, None] ** 2)), 0, 0.999)
    valid = (px >= 0) & (px < width) & (py >= 0) & (py < height)
    t_index = np.arange(frames).reshape(-1, 1, 1, 1)
    flat = np.broadcast_to((t_index * height + py) * width + px, a.shape)[valid].astype(np.int64)
    a = a[valid]
    size = frames * height * width
    # Overlapping splats combine like stacked translucent layers: 1 - prod(1 - a_i).
    coverage = 1 - np.exp(np.bincount(flat, np.log1p(-a), minlength=size))
    weight = np.bincount(flat, a, minlength=size)
    shade = np.bincount(flat, a * np.broadcast_to(brightness[None, :, None, None], valid.shape)[valid], minlength=size)
    shade = (shade / np.maximum(weight, 1e-6)).reshape(grid.shape)[..., None]
    alpha = coverage.reshape(grid.shape).astype(np.float32)
    rgb = np.clip(_color(colour_name, rng) * shade, 0, 1).astype(np.float32)
    verb = "swirling" if motion.phrase == "hovering in place" else "streaming"
    where = "in place" if motion.phrase == "hovering in place" else motion.phrase
    return rgb, alpha, f"{colour_name.capitalize()} {noun} {verb} {where}"


def _draw_shape(rng: np.random.Generator, grid: _Grid) -> tuple[np.ndarray, np.ndarray, str]:
    colour_name = _pick(rng, tuple(COLORS))
    noun = _pick(rng, ("circle", "square", "diamond"))
    motion = _motion(rng, still_phrase="resting in place")
    cx, cy = motion.centre(grid.tau)
    size = np.float32(rng.uniform(0.12, 0.25))
    spin = np.float32(rng.choice([0.0, rng.uniform(0.5, 2.0) * rng.choice([-1, 1])]))
    angle = 2 * np.pi * spin * grid.tau
    dx, dy = grid.x - cx, grid.y - cy
    ux, uy = dx * np.cos(angle) + dy * np.sin(angle), -dx * np.sin(angle) + dy * np.cos(angle)
    if noun == "circle":
        sdf = np.sqrt(dx * dx + dy * dy) - size
    elif noun == "square":
        qx, qy = np.abs(ux) - size, np.abs(uy) - size
        sdf = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2) + np.minimum(np.maximum(qx, qy), 0)
    else:
        sdf = (np.abs(ux) + np.abs(uy) - 1.3 * size) / np.sqrt(2)
    alpha = np.clip(0.5 - sdf * grid.scale, 0, 1)  # one-pixel anti-aliased edge, opaque inside
    shade = 1.05 - 0.5 * (uy / size + 1) * 0.25
    rgb = np.clip(_color(colour_name, rng) * shade[..., None], 0, 1)
    spinning = " while spinning" if spin and noun != "circle" else ""
    where = "resting in place" if motion.phrase == "resting in place" else f"sliding {motion.phrase}"
    return rgb, alpha, f"A solid {colour_name} {noun} {where}{spinning}"


_DRAWERS: dict[str, Drawer] = {
    "smoke": _draw_smoke,
    "glass": _draw_glass,
    "glow": _draw_glow,
    "fire": _draw_fire,
    "veil": _draw_veil,
    "particles": _draw_particles,
    "shape": _draw_shape,
}

SYNTHETIC_KINDS: tuple[str, ...] = tuple(_DRAWERS)
"""Clip families: smoke/steam, glass/bubbles, glow, fire, veils/cloth, particles, opaque shapes."""


def _check_kind(kind: str) -> None:
    if kind not in _DRAWERS:
        raise WanAlphaError(f"unknown synthetic kind {kind!r}: choose from {', '.join(SYNTHETIC_KINDS)}")


def check_synthetic_size(frames: int, height: int, width: int) -> None:
    latent_frame_count(frames)
    if height < 8 or width < 8:
        raise WanAlphaError(f"synthetic clips need at least 8x8 pixels, got {width}x{height}")
    check_clip_size(frames, height, width)


def generate_clip(kind: str, seed: int, frames: int, height: int, width: int) -> tuple[RGBAVideo, str]:
    """One procedural clip of ``kind`` and its caption; a pure function of its arguments.

    ``frames`` must be ``4k + 1``. Colour where alpha is 0 is set to black (straight alpha).
    """
    _check_kind(kind)
    check_synthetic_size(frames, height, width)
    rng = np.random.default_rng([int(seed), SYNTHETIC_KINDS.index(kind)])
    rgb, alpha, sentence = _DRAWERS[kind](rng, _grid(frames, height, width))
    buffer = np.empty((frames, height, width, 4), np.float32)
    buffer[..., :3] = rgb
    buffer[..., 3] = alpha
    np.clip(buffer, 0, 1, out=buffer)
    buffer *= 255
    buffer += 0.5  # round half up while truncating to uint8
    rgba = buffer.astype(np.uint8)
    rgba[..., :3] *= (rgba[..., 3:] > 0).astype(np.uint8)
    video = RGBAVideo(rgba, fps=SYNTHETIC_FPS)
    return video, make_caption(sentence)


def clip_seed(seed: int, index: int) -> int:
    """An independent 63-bit seed for clip ``index`` of a collection seeded with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def synthetic_kinds(kinds: Sequence[str] | None = None) -> tuple[str, ...]:
    """``kinds`` checked (default: all of :data:`SYNTHETIC_KINDS`), in the order clips cycle through them."""
    kinds = tuple(kinds) if kinds is not None else SYNTHETIC_KINDS
    if not kinds:
        raise WanAlphaError("kinds is empty: give at least one synthetic kind")
    for kind in kinds:
        _check_kind(kind)
    return kinds


def synthetic_clip(index: int, seed: int, kinds: Sequence[str], frames: int, height: int,
                   width: int) -> tuple[RGBAVideo, str, str]:
    """Clip ``index`` of the collection seeded with ``seed``: ``(video, caption, kind)``. Kinds cycle through
    ``kinds`` so every family is equally represented; the clip depends only on ``(seed, index)`` and its kind."""
    kind = kinds[index % len(kinds)]
    video, caption = generate_clip(kind, clip_seed(seed, index), frames, height, width)
    return video, caption, kind


def build_synthetic(
    out_dir: str | os.PathLike,
    *,
    count: int,
    seed: int = 0,
    frames: int = 17,
    height: int = 256,
    width: int = 256,
    kinds: Sequence[str] | None = None,
    clip_format: str = "zip",
    progress: bool | None = None,
) -> BuildReport:
    """Write ``count`` clips of :func:`synthetic_clip` (the clips ``SyntheticClips`` with the same seed gives) as
    files + manifest."""
    if count < 1:
        raise WanAlphaError(f"count must be at least 1, got {count}")
    kinds = synthetic_kinds(kinds)
    check_synthetic_size(frames, height, width)

    def make(index: int) -> list[Clip]:
        video, caption, kind = synthetic_clip(index, seed, kinds, frames, height, width)
        return [Clip(video, caption, source=f"synthetic:{kind}")]

    jobs = JobList(count, lambda i: Job(id=f"synthetic_{i:06d}", input=f"synthetic #{i}", make=partial(make, i)))
    # ``count`` is left out: clip i does not depend on it, so a resume may extend the set.
    options = {"seed": seed, "frames": frames, "height": height, "width": width, "kinds": list(kinds)}
    return run_build(
        "synthetic",
        jobs,
        out_dir,
        options=options,
        source="synthetic",
        license=SYNTHETIC_LICENSE,
        clip_format=clip_format,
        progress=progress,
    )
