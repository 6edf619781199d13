"""Encode / decode speed of every writable RGBA format on a generated clip.

    python bench/bench_io.py [--frames 33] [--size 256] [--repeats 3] [--kind smoke]

Prints a markdown table: frames/s (median of the repeats) for write_video and read_video, file size,
and the round trip's max alpha error. Single process; numbers depend on the machine's cores.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from wan_alpha.data.synthetic import generate_clip
from wan_alpha.io import read_video, write_video

from alpha_fidelity import OUTPUT_NAMES, size_kib  # one output name per writable format


def _median_seconds(action, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=33)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kind", default="smoke", help="synthetic clip kind (soft, semi-transparent content)")
    args = parser.parse_args()
    video, _ = generate_clip(args.kind, 0, args.frames, args.size, args.size)
    print(f"{args.frames} frames {args.size}x{args.size} '{args.kind}' clip, median of {args.repeats}\n")
    print("| format | encode fps | decode fps | size KiB | max alpha err |")
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for name, file_name in OUTPUT_NAMES.items():
            path = Path(tmp) / name / file_name
            path.parent.mkdir()
            encode, _ = _median_seconds(lambda: write_video(path, video, format=name, overwrite=True), args.repeats)
            decode, back = _median_seconds(lambda: read_video(path), args.repeats)
            alpha_err = int(np.abs(back.alpha.astype(int) - video.alpha.astype(int)).max())
            print(f"| {name} | {args.frames / encode:.0f} | {args.frames / decode:.0f} | "
                  f"{size_kib(path):.0f} | {alpha_err} |")


if __name__ == "__main__":
    main()
