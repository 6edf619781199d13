"""The dataset build runner shared by every source: jobs -> clip files + ``manifest.jsonl`` + report.

A source turns its inputs into :class:`Job` s (one input file, or one procedural index, each).
The runner makes each job's clips, writes them atomically under ``OUT/clips/``, then appends the
job's rows to the manifest in one flushed write. So after a crash the manifest lists only whole
jobs whose files are complete, and re-running the same command resumes: jobs already listed (with
all their files present) are not redone. Bad inputs are skipped and counted by reason in
``OUT/build_report.json``; the build fails only when nothing usable remains.

Every job draws its randomness from ``(seed, job id)`` alone, so a resumed build holds exactly
the clips a fresh one would.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..errors import WanAlphaError
from ..io import RGBAVideo, atomic_output, write_video
from ..io.limits import check_clip
from ..rgba import latent_frame_count
from .manifest import MANIFEST_NAME, ManifestRow, append_row_group, read_manifest, write_manifest

CLIP_DIR = "clips"
REPORT_NAME = "build_report.json"
OPTIONS_NAME = "build_options.json"

CLIP_FORMATS: dict[str, tuple[str, str | None]] = {
    "zip": (".zip", None),
    "mov-png": (".mov", "mov-png"),
}
"""Lossless clip formats a build can write: name -> (extension, ``write_video`` format)."""

# Skip reasons (the keys of the report's ``skipped`` counts).
NO_ALPHA = "no_alpha"
MISMATCHED_PAIR = "mismatched_pair"
MISSING_PAIR = "missing_pair"
CORRUPT = "corrupt"
UNREADABLE = "unreadable"
UNREADABLE_FOLDER = "unreadable_folder"
TOO_SHORT = "too_short"
TOO_LARGE = "too_large"
EMPTY_ALPHA = "empty_alpha"


class Skip(Exception):
    """An input a builder cannot use; counted under ``reason`` in the report, the build goes on."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def skip_reason(error: WanAlphaError) -> str:
    """Map a reader's :class:`WanAlphaError` to a skip reason (by its message, which io keeps stable)."""
    text = str(error)
    for needle, reason in (
        ("no alpha channel", NO_ALPHA),
        ("do not match", MISMATCHED_PAIR),
        ("does not exist", MISSING_PAIR),
        ("over the limit", TOO_LARGE),
        ("cannot read", CORRUPT),
        ("truncated or corrupt", CORRUPT),
        ("contains no video frames", CORRUPT),
    ):
        if needle in text:
            return reason
    return UNREADABLE


@dataclass(frozen=True)
class Clip:
    """One output of a job: the frames, its caption and optional per-clip provenance."""

    video: RGBAVideo
    caption: str
    source: str | None = None
    license: str | None = None


@dataclass(frozen=True)
class Job:
    """Everything one input yields. ``make`` may raise :class:`Skip` or :class:`WanAlphaError`."""

    id: str
    input: str
    make: Callable[[], list[Clip]]


@dataclass
class BuildReport:
    kind: str
    output_dir: str
    jobs: int = 0
    written: int = 0
    already_done: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def usable(self) -> int:
        """Clips the manifest lists after this build."""
        return self.written + self.already_done

    def skip(self, reason: str, where: str, detail: str, max_examples: int = 5) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        examples = self.examples.setdefault(reason, [])
        if len(examples) < max_examples:
            examples.append(f"{where}: {detail}")

    def summary(self) -> str:
        lines = [
            f"{self.kind}: {self.usable} clips in {self.output_dir}/{MANIFEST_NAME} "
            f"({self.written} written, {self.already_done} already done) from {self.jobs} inputs "
            f"in {self.seconds:.1f} s"
        ]
        for reason, count in sorted(self.skipped.items()):
            lines.append(f"  skipped {count} x {reason}, e.g. {self.examples[reason][0]}")
        return "\n".join(lines)


def clip_seed_for(seed: int, job_id: str) -> np.random.Generator:
    """A generator that depends only on ``(seed, job id)``, stable across runs and platforms."""
    digest = hashlib.sha256(job_id.encode()).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest[:8], "little")])


def safe_id(text: str) -> str:
    """A relative input path as a flat file-name stem, distinct for distinct paths: ``a/b.png`` -> ``a__b.png``;
    a path that does not map one to one (``c d.png`` beside ``c_d.png``, ``sub/e`` beside ``sub__e``) gets a
    hash of itself appended: ``c_d.png-3f2a9c1e``."""
    text = text.replace(os.sep, "/")
    flat = re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace("/", "__")).strip("._") or "clip"
    if flat == text.replace("/", "__") and "__" not in text:
        return flat
    return f"{flat}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def check_frames(frames: int) -> None:
    """Builders write Wan-ready clips: ``4k + 1`` frames."""
    latent_frame_count(frames)


def check_clip_size(frames: int, height: int, width: int) -> None:
    """Refuse clips a builder would make over the input limits (``--height 100000``) before making any."""
    check_clip("--frames/--height/--width", frames, width, height)


class JobList(Sequence):
    """``count`` jobs made from their index on demand: ``--count 1000000000`` needs no billion jobs up front."""

    def __init__(self, count: int, job: Callable[[int], Job]) -> None:
        self.count, self.job = count, job

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> Job:
        if not -self.count <= index < self.count:
            raise IndexError(index)
        return self.job(index % self.count)


def _output_key(job_id: str, index: int, extension: str) -> str:
    return f"{CLIP_DIR}/{job_id}.{index:03d}{extension}"


def _job_of(key: str) -> str:
    """Inverse of :func:`_output_key` (job ids may contain dots; the index is the last part)."""
    return Path(key).stem.rsplit(".", 1)[0]


def _finished_rows(out_dir: Path, rows: list[ManifestRow]) -> dict[str, list[ManifestRow]]:
    """Rows grouped by job, keeping only jobs whose every output file exists."""
    by_job: dict[str, list[ManifestRow]] = {}
    for row in rows:
        by_job.setdefault(_job_of(row.key), []).append(row)
    return {job: group for job, group in by_job.items() if all((out_dir / r.key).exists() for r in group)}


def _previous_rows(manifest: Path) -> list[ManifestRow]:
    """Rows of an earlier run; after a torn append the last job's group may be short, so it is redone."""
    if not manifest.exists():
        return []
    rows = read_manifest(manifest, partial_tail_ok=True)
    if rows and not manifest.read_bytes().endswith(b"\n"):
        last = _job_of(rows[-1].key)
        rows = [row for row in rows if _job_of(row.key) != last]
    return rows


def _check_options(out_dir: Path, kind: str, options: dict[str, Any]) -> bool:
    """Resuming with different options would mix two datasets in one manifest: refuse. True if recorded now."""
    recorded = {"kind": kind, "options": options}
    path = out_dir / OPTIONS_NAME
    if path.exists():
        try:
            previous = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise WanAlphaError(f"cannot read {path} ({err}): delete it to resume with the current options") from err
        if previous != recorded:
            changed = sorted(
                k
                for k in set(previous.get("options", {})) | set(options)
                if previous.get("options", {}).get(k) != options.get(k)
            ) or ["kind"]
            raise WanAlphaError(
                f"{out_dir} was built with other options ({', '.join(changed)} differ): "
                "resume with the same command, or build into a new folder"
            )
        return False
    _write_json(path, recorded)
    return True


def _write_json(path: Path, data: dict) -> None:
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def run_build(
    kind: str,
    jobs: Sequence[Job],
    out_dir: str | os.PathLike,
    *,
    options: dict[str, Any],
    source: str,
    license: str,
    clip_format: str = "zip",
    pre_skipped: Sequence[tuple[str, str, str]] = (),
    progress: bool | None = None,
) -> BuildReport:
    """Run ``jobs`` into ``out_dir`` (created if needed), resuming a previous run there.

    ``options`` are the builder's settings (recorded; a resume must match them).
    ``pre_skipped``: ``(reason, input, detail)`` for inputs rejected while listing them.
    ``progress``: tqdm bar (``None``: only on a terminal). Raises :class:`WanAlphaError` when no
    usable clip results; the report is written either way.
    """
    if clip_format not in CLIP_FORMATS:
        raise WanAlphaError(f"unknown clip format {clip_format!r}: choose {', '.join(CLIP_FORMATS)}")
    extension, write_format = CLIP_FORMATS[clip_format]
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise WanAlphaError(f"{out_dir} exists and is not a folder: choose another output folder")
    (out_dir / CLIP_DIR).mkdir(parents=True, exist_ok=True)
    options_written = _check_options(out_dir, kind, {**options, "clip_format": clip_format})
    try:
        return _run_jobs(kind, jobs, out_dir, extension, write_format, source, license, pre_skipped, progress)
    except BaseException:
        manifest = out_dir / MANIFEST_NAME
        if options_written and (not manifest.exists() or manifest.stat().st_size == 0):
            # nothing was built: a corrected command with other options must not be refused by this stub
            (out_dir / OPTIONS_NAME).unlink(missing_ok=True)
        raise


def _run_jobs(
    kind: str,
    jobs: Sequence[Job],
    out_dir: Path,
    extension: str,
    write_format: str | None,
    source: str,
    license: str,
    pre_skipped: Sequence[tuple[str, str, str]],
    progress: bool | None,
) -> BuildReport:
    start = time.perf_counter()
    report = BuildReport(kind=kind, output_dir=str(out_dir))
    for reason, where, detail in pre_skipped:
        report.skip(reason, where, detail)

    manifest = out_dir / MANIFEST_NAME
    finished = _finished_rows(out_dir, _previous_rows(manifest))
    # Rewrite the manifest with whole jobs only (drops a torn last line and rows of half-done jobs).
    write_manifest(manifest, [row for group in finished.values() for row in group], overwrite=True)

    for job in tqdm(jobs, desc=f"build {kind}", unit="input", disable=None if progress is None else not progress):
        report.jobs += 1
        if job.id in finished:
            report.already_done += len(finished[job.id])
            continue
        try:
            clips = job.make()
        except Skip as err:
            report.skip(err.reason, job.input, str(err))
            continue
        except WanAlphaError as err:
            report.skip(skip_reason(err), job.input, str(err))
            continue
        except MemoryError:  # one input too large for this machine must not end the build
            report.skip(TOO_LARGE, job.input, "out of memory while decoding it")
            continue
        except OSError as err:  # vanished or unreadable between listing and reading
            report.skip(UNREADABLE, job.input, f"{type(err).__name__}: {err}")
            continue
        rows = []
        for index, clip in enumerate(clips):
            key = _output_key(job.id, index, extension)
            write_video(out_dir / key, clip.video, format=write_format, overwrite=True)
            rows.append(_row(key, clip, source, license))
        append_row_group(manifest, rows)
        report.written += len(rows)

    report.seconds = time.perf_counter() - start
    _write_json(out_dir / REPORT_NAME, {**asdict(report), "usable": report.usable})
    if report.usable == 0:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(report.skipped.items()))
        example = f", e.g. {report.examples[max(report.skipped, key=report.skipped.get)][0]}" if report.skipped else ""
        raise WanAlphaError(
            f"no usable clip in {out_dir}: all {report.jobs} inputs were skipped ({reasons or 'no inputs'}{example}); "
            f"see {out_dir / REPORT_NAME}"
        )
    return report


def _row(key: str, clip: Clip, source: str, license: str) -> ManifestRow:
    video = clip.video
    return ManifestRow(
        caption=clip.caption,
        rgba=key,
        fps=float(video.fps),
        frames=video.num_frames,
        width=video.width,
        height=video.height,
        source=clip.source or source,
        license=clip.license or license,
    )
