"""``wan-alpha info | convert | preview``: inspect and convert RGBA video files."""

from __future__ import annotations

import argparse
import json

from .. import io
from ..errors import WanAlphaError
from .args import add_write_flags, write_options

_FORMAT_LIST = ", ".join(
    f"{f.name} ({'/'.join(e or 'folder' for e in f.extensions) or 'explicit only'})"
    for f in io.FORMATS.values()
    if f.write
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the file commands to the top-level parser."""
    _add_info(sub)
    _add_convert(sub)
    _add_preview(sub)


def _add_info(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "info",
        help="describe an RGBA video file: size, frames, fps, codec, alpha statistics",
        description="Decode FILE and print its size, frame count, fps, codec, whether it has alpha, "
        "and how the alpha is distributed (transparent / semi-transparent / opaque shares, histogram).",
    )
    parser.add_argument("file", metavar="FILE", help="video file, PNG / EXR / sprite-sheet folder or .zip to inspect")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON instead of text")
    parser.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> int:
    info = io.probe(args.file)
    print(json.dumps(info, indent=2) if args.json else io.format_probe(info))
    return 0


def _add_convert(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "convert",
        help="convert an RGBA video between formats (webm, mov, png/exr folder, zip, apng, webp, gif, ...)",
        description="Read IN and write OUT in the format OUT's extension names (or --format). "
        f"Writable formats: {_FORMAT_LIST}. The write is atomic: OUT appears only when complete.",
    )
    parser.add_argument("input", metavar="IN", help="source file, PNG folder or .zip")
    parser.add_argument("output", metavar="OUT", help="destination; a name without extension is a PNG folder")
    parser.add_argument(
        "--format", choices=[n for n, f in io.FORMATS.items() if f.write],
        help="output format when the extension does not say it (e.g. mov-png for lossless PNG-in-MOV, webm-vp8 "
        "for Unity, mp4-stacked for Safari); OUT must carry the format's extension",
    )
    parser.add_argument(
        "--alpha", metavar="ALPHA_VIDEO",
        help="a second video whose luma is the alpha matte; IN then supplies only the colour",
    )
    parser.add_argument(
        "--premultiplied", action="store_true",
        help="IN's colour is premultiplied by alpha: divide it out (files we wrote premultiplied are tagged and "
        "need no flag); see --premultiplied-output for OUT",
    )
    parser.add_argument(
        "--allow-opaque", action="store_true",
        help="accept an IN without alpha channel and treat it as fully opaque (alpha 255)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it already exists")
    add_write_flags(parser)
    parser.set_defaults(func=_convert)


def _convert(args: argparse.Namespace) -> int:
    out = io.convert(
        args.input, args.output, format=args.format, alpha_path=args.alpha, premultiplied=args.premultiplied,
        allow_opaque=args.allow_opaque, overwrite=args.overwrite, options=write_options(args),
    )
    print(out)
    return 0


def _add_preview(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "preview",
        help="render an H.264 .mp4 preview of an RGBA video over a background, or an HTML page with --html",
        description="Composite IN over a checkerboard, a colour or a background video and write an "
        "H.264 .mp4 any player shows (odd sizes are padded by one edge row/column). With --html, write a "
        "self-contained web page that plays IN itself, with its transparency, over the background: WebM, "
        "APNG, WebP and GIF as they are, a stacked-alpha MP4 through the bundled canvas player, other formats "
        "as a lossless animated WebP.",
    )
    parser.add_argument("input", metavar="IN", help="RGBA video file, PNG / EXR folder or .zip")
    parser.add_argument("output", metavar="OUT", help="preview to write (.mp4, or .html with --html)")
    parser.add_argument(
        "--background", default="checker", metavar="checker|#RRGGBB|VIDEO",
        help="what shows through transparent areas: 'checker' (default), a colour like #00ff00, or (not with "
        "--html) a video file with IN's size and frame count",
    )
    parser.add_argument(
        "--side-by-side", action="store_true", help="show RGB | alpha | composite next to each other (not with --html)"
    )
    parser.add_argument("--html", action="store_true",
                        help="write a web page (OUT.html) that shows IN with its alpha in the browser")
    parser.add_argument("--overwrite", action="store_true", help="replace OUT if it already exists")
    parser.set_defaults(func=_preview)


def _preview(args: argparse.Namespace) -> int:
    if args.html:
        if args.side_by_side:
            raise WanAlphaError("--side-by-side makes an .mp4 preview: drop it or --html")
        out = io.write_html_preview(args.output, args.input, background=args.background, overwrite=args.overwrite)
    else:
        out = io.write_preview(
            args.output, args.input, background=args.background,
            layout="side-by-side" if args.side_by_side else "composite", overwrite=args.overwrite,
        )
    print(out)
    return 0
