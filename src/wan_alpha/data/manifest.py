"""Dataset manifests: one JSON object per line, one clip or image per row.

A row points either at one RGBA file (``rgba``: a video with alpha, a PNG zip or folder, an RGBA
image) or at a colour file plus an alpha file (``rgb`` + ``alpha``: a matting set's foreground
and matte). Relative paths are relative to the manifest's folder, so a dataset folder can be
moved as a whole. ``frames``/``width``/``height`` are optional hints that let a Dataset bucket
and filter rows without opening files.

The reference release's CSV layout (``video_fgr``, ``video_pha``, ``prompt`` columns) reads into
the same rows.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import WanAlphaError
from ..io import atomic_output

MANIFEST_NAME = "manifest.jsonl"


@dataclass(frozen=True)
class ManifestRow:
    """One clip (or image) of a dataset."""

    caption: str
    rgba: str | None = None
    rgb: str | None = None
    alpha: str | None = None
    fps: float | None = None
    frames: int | None = None
    width: int | None = None
    height: int | None = None
    source: str = ""
    license: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.caption, str) or not self.caption.strip():
            raise WanAlphaError(f"row for {self.key!r} has an empty caption: every clip needs one")
        if bool(self.rgba) == bool(self.rgb or self.alpha) or (self.rgb is None) != (self.alpha is None):
            raise WanAlphaError(
                "a manifest row needs either 'rgba' (one file with alpha) or both 'rgb' and 'alpha', "
                f"got rgba={self.rgba!r} rgb={self.rgb!r} alpha={self.alpha!r}"
            )

    @property
    def key(self) -> str:
        """The row's identity: its (first) file path as written in the manifest."""
        return self.rgba or self.rgb or ""

    def paths(self, root: str | os.PathLike) -> tuple[Path, Path | None]:
        """``(colour-or-rgba path, alpha path or None)`` resolved against the manifest folder ``root``."""
        first = Path(root) / (self.rgba or self.rgb)
        return first, (Path(root) / self.alpha if self.alpha else None)

    def to_json(self) -> str:
        data = {k: v for k, v in dataclasses.asdict(self).items() if v not in (None, "")}
        return json.dumps(data, ensure_ascii=False)


_FIELDS = {f.name for f in dataclasses.fields(ManifestRow)}


def row_from_dict(data: dict, where: str) -> ManifestRow:
    """Strict dict -> row: unknown keys are an error (a typo would otherwise lose data silently)."""
    if not isinstance(data, dict):
        raise WanAlphaError(f"{where}: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise WanAlphaError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_FIELDS))})")
    try:
        return ManifestRow(**data)
    except WanAlphaError as err:
        raise WanAlphaError(f"{where}: {err}") from err


def read_manifest(path: str | os.PathLike, partial_tail_ok: bool = False) -> list[ManifestRow]:
    """Read a JSONL manifest.

    ``partial_tail_ok`` drops an unparsable last line that has no newline, which is what an
    interrupted append leaves behind (resuming builds use it); anywhere else it is an error.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WanAlphaError(f"manifest {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise WanAlphaError(f"cannot read manifest {path}: {err}") from err
    lines = text.split("\n")
    rows = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as err:
            if partial_tail_ok and number == len(lines):
                break
            raise WanAlphaError(f"{path}:{number} is not valid JSON ({err.msg}): fix or delete that line") from err
        rows.append(row_from_dict(data, f"{path}:{number}"))
    return rows


def write_manifest(path: str | os.PathLike, rows: list[ManifestRow], overwrite: bool = False) -> Path:
    """Write all rows at once, atomically."""
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text("".join(row.to_json() + "\n" for row in rows), encoding="utf-8")
    return Path(path)


def append_row_group(path: str | os.PathLike, rows: list[ManifestRow]) -> None:
    """Append rows in one flushed write, so a crash loses at most this group (and leaves a torn tail line)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("".join(row.to_json() + "\n" for row in rows))
        handle.flush()
        os.fsync(handle.fileno())


REFERENCE_CSV_COLUMNS = ("video_fgr", "video_pha", "prompt")


def read_reference_csv(path: str | os.PathLike, source: str = "", license: str = "") -> list[ManifestRow]:
    """Rows from the reference release's CSV (``video_fgr``, ``video_pha``, ``prompt``; other columns ignored)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REFERENCE_CSV_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise WanAlphaError(
                    f"{path} lacks column(s) {', '.join(missing)}: the reference layout has "
                    f"{', '.join(REFERENCE_CSV_COLUMNS)} (got {', '.join(reader.fieldnames or []) or 'no header'})"
                )
            return [
                _csv_row(record, f"{path}:{number}", source or path.stem, license)
                for number, record in enumerate(reader, start=2)
            ]
    except FileNotFoundError:
        raise WanAlphaError(f"CSV {path} does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise WanAlphaError(f"cannot read CSV {path}: {err}") from err


def _csv_row(record: dict, where: str, source: str, license: str) -> ManifestRow:
    data = {"rgb": record["video_fgr"], "alpha": record["video_pha"], "caption": record["prompt"] or ""}
    return row_from_dict({**data, "source": source, "license": license}, where)


def read_rows(path: str | os.PathLike) -> list[ManifestRow]:
    """A manifest (``.jsonl``) or a reference CSV (``.csv``), by extension."""
    rows = read_reference_csv(path) if Path(path).suffix.lower() == ".csv" else read_manifest(path)
    if not rows:
        raise WanAlphaError(f"{path} lists no clips")
    return rows
