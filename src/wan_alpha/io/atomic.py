"""Atomic outputs: write to a temporary sibling, publish it only when complete.

Publishing never replaces an output that appeared meanwhile (another run writing the same path) unless
``overwrite``: files are published with a hard link, folders with ``renameat2(RENAME_NOREPLACE)``, both of which
fail when the target exists. Temporary names carry the writer's process id, so parts left by a killed run are
removed by the next write next to them, and a live run's parts never are.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import WanAlphaError

_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def check_writable(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Refuse to clobber an existing output unless asked; make sure the parent folder exists."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise WanAlphaError(f"{path} already exists: pass --overwrite to replace it")
    if path.parent.exists() and not path.parent.is_dir():
        raise WanAlphaError(f"cannot write {path}: {path.parent} is a file, not a folder")
    if not path.parent.exists():
        raise WanAlphaError(f"folder {path.parent} does not exist: create it first")
    return path


def _default_permissions(path: Path) -> None:
    """mkstemp/mkdtemp create private (0600/0700) entries; give the output the usual umask-based mode."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~umask)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_parts(path: Path) -> None:
    """Remove temporaries of ``path`` whose writer (the pid in their name) is gone (SIGKILL, power loss)."""
    for part in path.parent.glob(f".{path.name}.*.part*"):
        pid = part.name[len(path.name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            _remove(part)


def _renameat2_noreplace(source: Path, target: Path) -> bool:
    """Rename unless ``target`` exists (raises FileExistsError); False where the kernel or libc lacks it."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(target))


def _rename_noreplace(source: Path, target: Path) -> None:
    """Rename unless ``target`` exists (FileExistsError); where renameat2 is missing, a check then a rename."""
    if not _renameat2_noreplace(source, target):
        if target.exists():
            raise FileExistsError(errno.EEXIST, "exists", str(target))
        os.rename(source, target)


def publish(tmp: Path, path: Path, overwrite: bool) -> None:
    """Move the finished ``tmp`` to ``path``; without ``overwrite`` fail (leaving ``path`` alone) if it exists."""
    try:
        if overwrite:
            if path.is_dir() and not path.is_symlink():
                # os.replace cannot replace a non-empty folder: move the old one aside first.
                old = Path(tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".old", dir=path.parent))
                os.replace(path, old / path.name)
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, path)
        elif tmp.is_dir():
            _rename_noreplace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links
                _rename_noreplace(tmp, path)
            else:
                tmp.unlink()
    except FileExistsError as err:
        raise WanAlphaError(f"{path} appeared while it was being written (another run writing the same output?): "
                            "kept it; pass --overwrite to replace it") from err


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix, so encoders pick the same format).

    On success the temporary file or folder is published at ``path`` (see :func:`publish`); on any error
    (Ctrl-C and SIGTERM included) it is removed and ``path`` is left as it was.
    """
    path = check_writable(path, overwrite)
    parent = path.parent
    remove_stale_parts(path)
    prefix = f".{path.name}.{os.getpid()}."
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".part", dir=parent))
    else:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=f".part{path.suffix}", dir=parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        _default_permissions(tmp)
        publish(tmp, path, overwrite)
    except BaseException:
        _remove(tmp)
        raise
