"""``wan-alpha data build | preview | stats``: make and inspect RGBA training sets."""

from __future__ import annotations

import argparse
import json

from ..data.build import CLIP_FORMATS
from ..data.synthetic import SYNTHETIC_KINDS

_BUILD_EPILOG = (
    "Each build writes OUT/clips/*, OUT/manifest.jsonl and OUT/build_report.json. Re-running the "
    "same command resumes (finished inputs are not redone). Bad inputs are skipped and counted by "
    "reason; the exit status is non-zero only when no usable clip remains."
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``data`` and its commands to the top-level parser."""
    data = sub.add_parser("data", help="build and inspect RGBA training sets (see `wan-alpha data COMMAND --help`)")
    commands = data.add_subparsers(dest="data_command", metavar="COMMAND", required=True)
    build = commands.add_parser("build", help="build a dataset folder (clips + manifest.jsonl) from a source")
    kinds = build.add_subparsers(dest="kind", metavar="KIND", required=True)
    _add_images(kinds)
    _add_videos(kinds)
    _add_synthetic(kinds)
    _add_emoji(kinds)
    _add_preview(commands)
    _add_stats(commands)


def _common(parser: argparse.ArgumentParser, frames: bool = True) -> None:
    parser.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="dataset folder to create or resume")
    if frames:
        parser.add_argument("--frames", type=int, default=17, help="frames per clip, 4k+1 (default 17)")
    parser.add_argument(
        "--format",
        dest="clip_format",
        choices=list(CLIP_FORMATS),
        default="zip",
        help="clip files: zip (PNG frames, default) or mov-png (lossless QuickTime); both are lossless",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=None, help="no progress bar")


def _size(parser: argparse.ArgumentParser, default: int) -> None:
    parser.add_argument("--height", type=int, default=default, help=f"clip height in pixels (default {default})")
    parser.add_argument("--width", type=int, default=default, help=f"clip width in pixels (default {default})")


def _provenance(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", help="dataset name stored in each manifest row (default: the input's name)")
    parser.add_argument("--license", default="", help="license of the input data, stored in each row (e.g. CC-BY-4.0)")


def _print_report(report) -> int:
    print(report.summary())
    return 0


def _add_images(kinds: argparse._SubParsersAction) -> None:
    parser = kinds.add_parser(
        "images",
        help="still matting images -> clips with a sliding, zooming crop window",
        epilog=_BUILD_EPILOG,
        description="Make clips from INPUT_DIR: RGBA images (PNG/WebP/TIFF with alpha), or colour images "
        "whose mattes are in --alpha-dir (paired by relative path without extension). Each clip moves a crop "
        "window with a random 1-2x zoom over the image. Captions: NAME.txt beside the image, else the file name.",
    )
    parser.add_argument("input", metavar="INPUT_DIR", help="folder of images (searched recursively)")
    parser.add_argument("--alpha-dir", help="folder of alpha mattes (greyscale) for colour images without alpha")
    _common(parser)
    _size(parser, 480)
    parser.add_argument(
        "--clips-per-image", type=int, default=1, help="clips (different windows) per image (default 1)"
    )
    parser.add_argument(
        "--zoom", type=float, nargs=2, default=(1.0, 2.0), metavar=("MIN", "MAX"), help="zoom range (default 1 2)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the windows (default 0)")
    _provenance(parser)
    parser.set_defaults(func=_images)


def _images(args: argparse.Namespace) -> int:
    from ..data import build_from_images  # torch loads only when the command runs

    return _print_report(
        build_from_images(
            args.input,
            args.output,
            alpha_dir=args.alpha_dir,
            frames=args.frames,
            height=args.height,
            width=args.width,
            clips_per_image=args.clips_per_image,
            zoom=tuple(args.zoom),
            seed=args.seed,
            source=args.source,
            license=args.license,
            clip_format=args.clip_format,
            progress=args.progress,
        )
    )


def _add_videos(kinds: argparse._SubParsersAction) -> None:
    parser = kinds.add_parser(
        "videos",
        help="video matting sets (foreground + alpha videos) -> 4k+1-frame clips",
        epilog=_BUILD_EPILOG,
        description="Cut INPUT into clips. INPUT is a folder of RGBA videos, a folder of colour videos with their "
        "alpha videos in --alpha-dir (paired by relative path without extension), or a reference-layout CSV "
        "(video_fgr, video_pha, prompt). Captions: the CSV prompt, NAME.txt beside the video, else the file name.",
    )
    parser.add_argument("input", metavar="INPUT", help="folder of videos, or a .csv in the reference layout")
    parser.add_argument("--alpha-dir", help="folder of alpha videos (luma = alpha) for colour videos")
    _common(parser)
    parser.add_argument("--stride", type=int, help="frames between clip starts (default: --frames, no overlap)")
    parser.add_argument("--frame-step", type=int, default=1, help="keep every Nth frame first, e.g. 2 for 30->15 fps")
    parser.add_argument("--max-clips-per-video", type=int, help="at most this many clips per video")
    parser.add_argument(
        "--short-side",
        type=int,
        default=480,
        help="resize so the shorter side is this (sides rounded to multiples of 16; 0 keeps the size; default 480)",
    )
    _provenance(parser)
    parser.set_defaults(func=_videos)


def _videos(args: argparse.Namespace) -> int:
    from ..data import build_from_videos

    return _print_report(
        build_from_videos(
            args.input,
            args.output,
            alpha_dir=args.alpha_dir,
            frames=args.frames,
            stride=args.stride,
            frame_step=args.frame_step,
            max_clips_per_video=args.max_clips_per_video,
            short_side=args.short_side or None,
            source=args.source,
            license=args.license,
            clip_format=args.clip_format,
            progress=args.progress,
        )
    )


def _add_synthetic(kinds: argparse._SubParsersAction) -> None:
    parser = kinds.add_parser(
        "synthetic",
        help="procedural smoke, glass, glow, fire, veils, particles and shapes",
        epilog=_BUILD_EPILOG,
        description="Write COUNT procedural clips of the hard transparency cases; clip i depends only on "
        "(seed, i), so a larger --count extends an existing folder.",
    )
    _common(parser)
    _size(parser, 256)
    parser.add_argument("--count", type=int, required=True, help="number of clips")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--kinds", nargs="+", choices=SYNTHETIC_KINDS, help="only these kinds (default: all, in turn)")
    parser.set_defaults(func=_synthetic)


def _synthetic(args: argparse.Namespace) -> int:
    from ..data import build_synthetic

    return _print_report(
        build_synthetic(
            args.output,
            count=args.count,
            seed=args.seed,
            frames=args.frames,
            height=args.height,
            width=args.width,
            kinds=args.kinds,
            clip_format=args.clip_format,
            progress=args.progress,
        )
    )


def _add_emoji(kinds: argparse._SubParsersAction) -> None:
    parser = kinds.add_parser(
        "emoji",
        help="animated emoji sprites from the emoji-datasource-google npm package",
        epilog=_BUILD_EPILOG,
        description="Animate 64x64 Noto emoji (Apache-2.0) on a transparent canvas: moving, bouncing, spinning, "
        "growing or shrinking, one or two per clip, captioned from their names. Install the data once with "
        "`npm install --prefix PACKAGE_DIR emoji-datasource-google@16.0.0`.",
    )
    parser.add_argument("package", metavar="PACKAGE_DIR", help="the npm --prefix folder, or the package folder itself")
    _common(parser)
    _size(parser, 256)
    parser.add_argument("--count", type=int, required=True, help="number of clips")
    parser.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    parser.add_argument("--categories", nargs="+", help="only these emoji.json categories (e.g. 'Animals & Nature')")
    parser.add_argument(
        "--two-sprite-share", type=float, default=0.3, help="share of clips with two emoji (default 0.3)"
    )
    parser.set_defaults(func=_emoji)


def _emoji(args: argparse.Namespace) -> int:
    from ..data import build_emoji

    return _print_report(
        build_emoji(
            args.package,
            args.output,
            count=args.count,
            seed=args.seed,
            frames=args.frames,
            height=args.height,
            width=args.width,
            categories=args.categories,
            two_sprite_share=args.two_sprite_share,
            clip_format=args.clip_format,
            progress=args.progress,
        )
    )


def _add_preview(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "preview",
        help="contact sheet of a dataset: a few frames per clip over a checkerboard",
        description="Write a PNG with one row per clip (spread over the manifest) and its caption.",
    )
    parser.add_argument("manifest", metavar="MANIFEST", help="manifest.jsonl (or a reference CSV)")
    parser.add_argument("-o", "--output", required=True, metavar="SHEET_PNG", help="output .png")
    parser.add_argument("--clips", type=int, default=16, help="rows (clips) in the sheet (default 16)")
    parser.add_argument("--frames-per-clip", type=int, default=4, help="frames shown per clip (default 4)")
    parser.add_argument("--thumb", type=int, default=128, help="cell size in pixels (default 128)")
    parser.add_argument("--overwrite", action="store_true", help="replace SHEET_PNG if it exists")
    parser.set_defaults(func=_preview)


def _preview(args: argparse.Namespace) -> int:
    from ..data import contact_sheet

    path = contact_sheet(
        args.manifest,
        args.output,
        clips=args.clips,
        frames_per_clip=args.frames_per_clip,
        thumb=args.thumb,
        overwrite=args.overwrite,
    )
    print(f"wrote {path}")
    return 0


def _add_stats(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "stats",
        help="clip and frame counts, sources, share of opaque / semi / transparent pixels",
        description="Read the clips of MANIFEST and summarise them.",
    )
    parser.add_argument("manifest", metavar="MANIFEST", help="manifest.jsonl (or a reference CSV)")
    parser.add_argument("--limit", type=int, help="read only this many clips, spread over the manifest")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(func=_stats)


def _stats(args: argparse.Namespace) -> int:
    from ..data import format_stats, manifest_stats

    stats = manifest_stats(args.manifest, limit=args.limit)
    print(json.dumps(stats, indent=2) if args.json else format_stats(stats))
    return 0
