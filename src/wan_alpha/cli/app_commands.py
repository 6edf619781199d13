"""``wan-alpha app``: the web page (Gradio) for generating transparent videos in a browser."""

from __future__ import annotations

import argparse

from .generate_commands import SAMPLER_CHOICES, add_realscale, memory_settings, wan_files


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``app`` to the top-level parser."""
    p = sub.add_parser(
        "app", help="open the generator as a web page (prompt, ellipse canvas, progress, downloads)",
        description="Serve a web page to generate transparent videos: prompts, seed, steps, guidance, frames, size, "
        "fps and formats; the transparency ellipse set with sliders or drawn and dragged on a canvas (optionally "
        "moving to an end ellipse), or an uploaded alpha video or mask file; the result over a checkerboard and a "
        "colour beside its alpha matte, with a download per format. The model loads once; one clip is generated "
        "at a time. Serves this machine only (127.0.0.1) unless --host or --share say otherwise.",
    )
    p.add_argument("--model", metavar="DIR", help="wan-alpha model folder (default: the embedded tiny model)")
    p.add_argument("--host", default="127.0.0.1", metavar="ADDR",
                   help="address to listen on; 0.0.0.0 serves every network interface (default 127.0.0.1: this "
                   "machine only)")
    p.add_argument("--port", type=int, metavar="N", help="port (default: Gradio's, 7860, or the next free one)")
    p.add_argument("--share", action="store_true", help="also publish a temporary public gradio.live link (off by "
                   "default: it makes the page reachable from the internet)")
    p.add_argument("--device", metavar="DEV", help="cuda, cuda:1 or cpu (default: cuda if present)")
    p.add_argument("--sampler", choices=SAMPLER_CHOICES, help="flow sampler (default: the model's)")
    add_realscale(p)
    p.set_defaults(func=_app)


def _app(args: argparse.Namespace) -> int:
    from ..app.page import serve  # Gradio and torch load only when serving

    serve(args.model, wan_files(args), host=args.host, port=args.port, share=args.share, device=args.device,
          memory=memory_settings(args), sampler=args.sampler)
    return 0
