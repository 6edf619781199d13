"""Reading and writing RGBA video files, mask files and previews.

``read_video`` / ``write_video`` pick the format from the extension (or ``format=``, see ``FORMATS``);
``write_preview`` makes an H.264 checkerboard or side-by-side preview; ``probe`` summarises a file.
All writes are atomic and never replace an existing output without ``overwrite=True``. Submodules load on
first use, so the command line's help needs no torch.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "atomic": ["atomic_output", "check_writable"],
    "base": ["DEFAULT_FPS", "WriteOptions"],
    "files": ["convert", "read_image", "read_video", "write_video"],
    "formats": ["FORMATS", "Format", "resolve_format"],
    "preview": ["PLAYER", "write_html_preview", "write_preview"],
    "probe": ["format_probe", "probe"],
    "video": ["RGBAVideo"],
})
