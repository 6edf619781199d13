"""Alpha fidelity of every writable format, read back by readers that are not wan-alpha's own.

    python bench/alpha_fidelity.py [CLIP ...] [--kinds smoke shape] [--frames 17] [--size 128] [--json OUT]

Each clip (files such as `wan-alpha generate` output, plus procedural clips of ``--kinds``: ``smoke`` is
soft, ``shape`` hard-edged) is written in every format, then decoded by an independent reader: the
``ffmpeg`` command-line tool (VP9 / VP8 through libvpx, ProRes, QuickTime Animation, PNG-in-MOV, the
stacked MP4's two pictures), the OpenEXR bindings (EXR), Pillow (PNG sequence, zip, APNG, WebP, GIF,
the sprite-sheet atlas cut by its JSON rectangles). Prints, per clip and format, the max alpha error
(0-255), the share of pixels off by more than 8/255, and the max colour error where alpha >= 128; then
VP9's and the stacked MP4's alpha error per ``--quality``.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import OpenEXR
from PIL import Image, ImageSequence

from wan_alpha.data.synthetic import generate_clip
from wan_alpha.io import FORMATS, RGBAVideo, read_video, write_video
from wan_alpha.io.exr import srgb_to_linear

# One output name per writable format (the MOVs share .mov, folders have no extension).
OUTPUT_NAMES = {name: "c" + fmt.suffix for name, fmt in FORMATS.items() if fmt.write}
# FFmpeg's native VP8/VP9 decoders drop the alpha layer; libvpx's keep it
_FFMPEG_DECODERS = {"webm": "libvpx-vp9", "webm-vp8": "libvpx"}
SWEEPS = {"webm": (0, 4, 10, 15, 20, 30), "webm-vp8": (4, 10, 20), "mp4-stacked": (1, 8, 12, 16, 20, 23)}


def ffmpeg_rgba(path: Path, width: int, height: int, decoder: str | None = None) -> np.ndarray:
    """``ffmpeg -i path -f rawvideo -pix_fmt rgba -`` as uint8 ``(T, height, width, 4)``."""
    command = ["ffmpeg", "-v", "error", *(["-c:v", decoder] if decoder else []), "-i", str(path),
               "-f", "rawvideo", "-pix_fmt", "rgba", "-"]
    raw = subprocess.run(command, check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 4)


def _pillow_frames(images) -> np.ndarray:
    return np.stack([np.asarray(image.convert("RGBA")) for image in images])


def _animation(path: Path, video: RGBAVideo) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's stored frames (encoders merge identical neighbours) and the clip's frames at their start times."""
    with Image.open(path) as image:
        frames = [(np.asarray(f.convert("RGBA")), f.info.get("duration", 0)) for f in ImageSequence.Iterator(image)]
    starts = np.cumsum([0] + [duration for _, duration in frames[:-1]])
    return np.stack([f for f, _ in frames]), video.frames[np.rint(starts * video.fps / 1000).astype(int)]


def independent_read(path: Path, fmt: str, video: RGBAVideo) -> tuple[np.ndarray, np.ndarray, str]:
    """-> (the frames read back: uint8 RGBA, straight colour; EXR: float linear colour premultiplied, as
    stored), the frames of ``video`` they show, the reader's name."""
    h, w = video.height, video.width
    if fmt in ("webm", "webm-vp8", "mov", "mov-png", "mov-qtrle"):
        return ffmpeg_rgba(path, w, h, _FFMPEG_DECODERS.get(fmt)), video.frames, "ffmpeg CLI"
    if fmt == "mp4-stacked":
        even_h, even_w = h + h % 2, w + w % 2
        picture = ffmpeg_rgba(path, even_w, 2 * even_h)  # the default layout: alpha below
        back = np.concatenate([picture[:, :h, :w, :3], picture[:, even_h:even_h + h, :w, :1]], -1)
        return back, video.frames, "ffmpeg CLI"
    if fmt == "exr":
        frames = []
        for name in sorted(path.glob("*.exr")):
            with OpenEXR.File(str(name)) as image:
                frames.append(image.channels()["RGBA"].pixels.astype(np.float32))
        return np.stack(frames), video.frames, "OpenEXR"
    if fmt == "spritesheet":
        sheet = json.loads((path / "sheet.json").read_text())
        atlas = np.asarray(Image.open(path / sheet["meta"]["image"]).convert("RGBA"))
        rects = [entry["frame"] for entry in sheet["frames"].values()]
        back = np.stack([atlas[r["y"]:r["y"] + r["h"], r["x"]:r["x"] + r["w"]] for r in rects])
        return back, video.frames, "Pillow + json"
    if fmt == "png":
        return _pillow_frames(Image.open(p) for p in sorted(path.glob("*.png"))), video.frames, "Pillow"
    if fmt == "zip":
        with zipfile.ZipFile(path) as archive:
            names = sorted(n for n in archive.namelist() if n.endswith(".png"))
            return _pillow_frames(Image.open(io.BytesIO(archive.read(n))) for n in names), video.frames, "Pillow"
    return (*_animation(path, video), "Pillow")


def errors(back: np.ndarray, frames: np.ndarray, fmt: str) -> dict[str, float]:
    """Max alpha error (0-255), share of pixels off by > 8/255, max colour error where alpha >= 128."""
    if fmt == "exr":  # compare in the file's own terms: linear colour premultiplied by alpha
        x = frames.astype(np.float32) / 255
        expected = np.concatenate([srgb_to_linear(x[..., :3]) * x[..., 3:], x[..., 3:]], -1)
        diff = np.abs(back - expected) * 255
    else:
        diff = np.abs(back.astype(np.int32) - frames.astype(np.int32)).astype(np.float32)
    visible = frames[..., 3] >= 128
    return {
        "max_alpha": round(float(diff[..., 3].max()), 2),
        "over_8": float((diff[..., 3] > 8).mean()),
        "max_colour": round(float(diff[..., :3][visible].max()), 2) if visible.any() else 0.0,
    }


def measure(video: RGBAVideo, tmp: Path) -> dict[str, dict]:
    results = {}
    for fmt, name in OUTPUT_NAMES.items():
        path = tmp / fmt / name
        path.parent.mkdir()
        write_video(path, video, format=fmt)
        back, shown, reader = independent_read(path, fmt, video)
        results[fmt] = {"reader": reader, **errors(back, shown, fmt), "kib": size_kib(path)}
    for fmt, qualities in SWEEPS.items():
        for quality in qualities:
            path = tmp / f"{fmt}-q{quality}" / OUTPUT_NAMES[fmt]
            path.parent.mkdir()
            write_video(path, video, format=fmt, quality=quality)
            back, shown, _ = independent_read(path, fmt, video)
            results[f"{fmt} --quality {quality}"] = {"reader": "ffmpeg CLI", **errors(back, shown, fmt),
                                                     "kib": size_kib(path)}
    return results


def size_kib(path: Path) -> float:
    """A file's or a folder's size in KiB."""
    files = path.rglob("*") if path.is_dir() else [path]
    return round(sum(f.stat().st_size for f in files if f.is_file()) / 1024, 1)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clips", nargs="*", metavar="CLIP", help="RGBA clips to measure (any readable format)")
    parser.add_argument("--kinds", nargs="*", default=["smoke", "shape"], help="procedural clips to add")
    parser.add_argument("--frames", type=int, default=17)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--json", metavar="OUT", help="also write the numbers as JSON")
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        parser.error("the ffmpeg command-line tool is needed (Debian: apt-get install ffmpeg)")
    clips = {Path(c).name: read_video(c) for c in args.clips}
    clips |= {f"{k} (procedural)": generate_clip(k, 0, args.frames, args.size, args.size)[0] for k in args.kinds}
    report = {}
    for label, video in clips.items():
        with tempfile.TemporaryDirectory() as tmp:
            report[label] = measure(video, Path(tmp))
        print(f"\n{label}: {video.num_frames} frames {video.width}x{video.height}\n")
        print("| format | read back by | max alpha err | pixels > 8/255 | max colour err (alpha >= 128) | KiB |")
        print("|---|---|---:|---:|---:|---:|")
        for fmt, r in report[label].items():
            print(f"| {fmt} | {r['reader']} | {r['max_alpha']:g} | {r['over_8']:.4%} | {r['max_colour']:g} | "
                  f"{r['kib']:g} |")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
