"""Atomic outputs: write to a temporary sibling, rename into place only when complete."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import WanAlphaError


def check_writable(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Refuse to clobber an existing output unless asked; make sure the parent folder exists."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise WanAlphaError(f"{path} already exists: pass --overwrite to replace it")
    if not path.parent.exists():
        raise WanAlphaError(f"folder {path.parent} does not exist: create it first")
    return path


def _default_permissions(path: Path) -> None:
    """mkstemp/mkdtemp create private (0600/0700) entries; give the output the usual umask-based mode."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix, so encoders pick the same format).

    On success the temporary file or folder replaces ``path``; on any error it is removed and
    ``path`` is left as it was.
    """
    path = check_writable(path, overwrite)
    parent = path.parent
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        _default_permissions(tmp)
        if path.is_dir() and not path.is_symlink():
            # os.replace cannot replace a non-empty folder: move the old one aside first.
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
