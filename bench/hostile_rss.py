"""Hostile and broken inputs through the real command line: exit status, what the user reads, peak RSS, time.

    python bench/hostile_rss.py                          # this checkout's code (src/ of this repository)
    python bench/hostile_rss.py --before /work/main/src  # also a "before" column from another tree's src/
    python bench/hostile_rss.py --only bomb              # cases whose name contains "bomb"

Each case makes its inputs in a fresh temporary folder (tests/hostile/inputs.py: KB on disk, GB when decoded),
runs ``python -m wan_alpha ...`` in a child process and reads the child's peak RSS from ``os.wait4`` (the
kernel's ru_maxrss of that process). Children run under an address-space cap (``--cap-gib``, default 6) and a
time limit, so an unbounded "before" run fails there instead of taking the machine: "MemoryError at the cap"
is what an uncapped run would have turned into an OOM kill. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.hostile import inputs  # noqa: E402  (the repository root, not an installed package)

TINY_MODEL = ROOT / "src" / "wan_alpha" / "assets" / "wan-alpha-tiny"


@dataclass
class Case:
    name: str
    setup: Callable[[Path], list[list[str]]]
    """Makes the inputs in a folder; returns the command lines to run there one after another (the last is
    reported; several run at once when ``concurrent``)."""
    check: Callable[[Path], str] | None = None
    timeout: float = 120
    concurrent: bool = False
    close_stdout: bool = False
    stop_after: float | None = None
    """SIGTERM the run after this many seconds (a run that would go on for hours by design)."""


@dataclass
class Result:
    code: int | str
    rss_mb: float
    seconds: float
    said: str
    note: str = ""


def _clip_zip(d: Path, name: str = "ok.zip", frames: int = 5, size: int = 16) -> Path:
    import zipfile

    path = d / name
    with zipfile.ZipFile(path, "w") as archive:
        for index, frame in enumerate(inputs.rgba_frames(frames, size)):
            archive.writestr(f"frame_{index:05d}.png", inputs.png_bytes(frame))
        archive.writestr("meta.json", json.dumps({"fps": 16.0, "frames": frames}))
    return path


def _broken_model(d: Path, damage: str) -> Path:
    model = d / "model"
    shutil.copytree(TINY_MODEL, model)
    weights = model / "transformer" / "diffusion_pytorch_model.safetensors"
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:100_000])
    elif damage == "index":
        (model / "model_index.json").write_text("{ not json")
    elif damage == "key":
        config = json.loads((model / "transformer" / "config.json").read_text())
        (model / "transformer" / "config.json").write_text(json.dumps({**config, "num_layer": 2}))
    elif damage == "shape":
        from safetensors.torch import load_file, save_file

        tensors = load_file(weights)
        first = sorted(tensors)[0]
        tensors[first] = tensors[first].new_zeros(3, 3)
        save_file(tensors, weights)
    return model


def _manifest(d: Path) -> Path:
    (d / "set").mkdir()
    _clip_zip(d / "set", "c.zip")
    (d / "set" / "manifest.jsonl").write_text(json.dumps({"caption": "a square", "rgba": "c.zip"}) + "\n")
    return d / "set" / "manifest.jsonl"


def _build_input(d: Path, make: Callable[[Path], Path]) -> list[list[str]]:
    (d / "in").mkdir()
    kind = "images" if make(d / "in").suffix == ".png" else "videos"
    return [["data", "build", kind, "in", "-o", "out", "--frames", "1", "--no-progress"]]


def _count(d: Path, out: str = "out") -> str:
    rows = (d / out / "manifest.jsonl").read_text().splitlines() if (d / out / "manifest.jsonl").exists() else []
    files = list((d / out / "clips").glob("*")) if (d / out / "clips").exists() else []
    return f"{len(rows)} rows, {len(files)} clip files"


def _no_output(path: str) -> Callable[[Path], str]:
    return lambda d: f"{path} {'WRITTEN' if (d / path).exists() else 'not written'}"


def _parts(d: Path) -> str:
    parts = [p for p in d.rglob("*.part*")]
    return f"{len(parts)} .part left"


def _race(d: Path) -> str:
    return "" if not (d / "r.webm").exists() else f"r.webm is {(d / 'r.webm').stat().st_size} bytes"


def _generate(*args: str) -> list[str]:
    return ["generate", "a cat", "-o", "g.webm", "--steps", "1", "--frames", "1", *args]


SEED_OVER = str(2**70)

CASES = [
    # bombs: info, convert and data build on each
    *[Case(f"bomb {label}: {command}", setup, check)
      for label, make in [
          ("APNG 65535 s delay (247 B)", lambda d: inputs.apng_long_delay(d / "b.apng")),
          ("PNG 20000x20000 (48 KB)", lambda d: inputs.png_bomb(d / "b.png")),
          ("zip 40 x 12000^2 PNG (700 KB)", lambda d: inputs.zip_of_frames(d / "b.zip", 40, 12000)),
          ("zip 200 x 4096^2 PNG (440 KB)", lambda d: inputs.zip_of_frames(d / "b.zip", 200, 4096)),
          ("zip member 64 MiB (64 KB)", lambda d: inputs.zip_member_bomb(d / "b.zip")),
      ]
      for command, setup, check in [
          ("info", lambda d, make=make: [["info", str(make(d))]], None),
          ("convert", lambda d, make=make: [["convert", str(make(d)), "out.webm"]], _no_output("out.webm")),
          ("data build", lambda d, make=make: _build_input(d, make), _count),
      ]],
    Case("bomb .npy header 4 TB: generate --mask", lambda d: [_generate("--mask", str(inputs.npy_bomb(d / "m.npy")))],
         _no_output("g.webm")),
    Case("bomb data preview --thumb 100000", lambda d: [["data", "preview", str(_manifest(d)), "-o", "s.png",
                                                         "--thumb", "100000"]], _no_output("s.png")),
    Case("bomb data build synthetic --count 1e9 (SIGTERM at 25 s)",
         lambda d: [["data", "build", "synthetic", "--count", "1000000000", "-o", "out", "--frames", "1",
                     "--height", "8", "--width", "8", "--no-progress"]], _parts, timeout=60, stop_after=25),
    Case("meta.json fps 1e300: convert", lambda d: [["convert", str(inputs.png_folder(d / "seq", {"fps": 1e300})),
                                                     "out.webm"]], _no_output("out.webm")),
    Case("meta.json fps 1e-300: convert", lambda d: [["convert", str(inputs.png_folder(d / "seq", {"fps": 1e-300})),
                                                      "out.webm"]], _no_output("out.webm")),
    Case("FIFO as input: info", lambda d: (os.mkfifo(d / "f.webm"), [["info", str(d / "f.webm")]])[1], timeout=90),
    Case("output parent is a file: convert", lambda d: ((d / "file").write_text("x"),
                                                        [["convert", str(_clip_zip(d)), "file/out.webm"]])[1]),
    Case("string .npy as --mask", lambda d: [_generate("--mask", str(inputs.string_npy(d / "s.npy")))],
         _no_output("g.webm")),
    Case("--seed 2**70", lambda d: [_generate("--seed", SEED_OVER)], _no_output("g.webm")),
    Case("--seed -1", lambda d: [_generate("--seed", "-1")], _no_output("g.webm")),
    Case("--size 16x16400 (past rotary range)", lambda d: [_generate("--size", "16x16400")], _no_output("g.webm")),
    *[Case(f"--model with {what}", lambda d, damage=damage: [_generate("--model", str(_broken_model(d, damage)))],
           _no_output("g.webm"))
      for what, damage in [("truncated safetensors", "truncated"), ("wrong-shape tensor", "shape"),
                           ("broken model_index.json", "index"), ("unknown config.json key", "key")]],
    Case("mask fit --threshold nan", lambda d: [["mask", "fit", str(_clip_zip(d)), "-o", "m.npy", "--threshold",
                                                 "nan"]], _no_output("m.npy")),
    Case("mask draw --preview x.jpg", lambda d: [["mask", "draw", "--ellipse", "0.5,0.5,0.4,0.4", "--frames", "5",
                                                  "--size", "64x64", "-o", "m.npy", "--preview", "x.jpg"]],
         _no_output("m.npy")),
    Case("generate --prompts-file /dev/null", lambda d: [["generate", "--prompts-file", "/dev/null", "-o", "outs"]]),
    Case("info x | head (reader gone)", lambda d: [["info", str(_clip_zip(d))]], close_stdout=True),
    Case("data build: c d.png + c_d.png + sub/e.png + sub__e.png",
         lambda d: ([inputs.rgba_png(p) for p in _paths(d, "in/c d.png", "in/c_d.png", "in/sub/e.png",
                                                           "in/sub__e.png")],
                    [["data", "build", "images", "in", "-o", "out", "--frames", "1", "--no-progress"]])[1],
         lambda d: _count(d)),
    Case("data build videos: -o inside the input, run twice",
         lambda d: ((d / "in").mkdir(), _clip_zip(d / "in", "a.zip"), _clip_zip(d / "in", "b.zip"),
                    [["data", "build", "videos", "in", "-o", "in/out", "--frames", "5", "--short-side", "0",
                      "--no-progress"]] * 2)[-1],
         lambda d: _count(d, "in/out")),
    Case("data build: failed build (no alpha), then with --alpha-dir",
         lambda d: _opaque_then_mattes(d), _count),
    Case("data build videos: truncated webm", lambda d: _truncated_webm_build(d), lambda d: _skips(d)),
    Case("two converts to one output at once",
         lambda d: [["convert", str(_clip_zip(d, frames=41, size=256)), "r.webm"]], _race, concurrent=True),
]


def _paths(d: Path, *names: str) -> list[Path]:
    paths = [d / n for n in names]
    for p in paths:
        p.parent.mkdir(parents=True, exist_ok=True)
    return paths


def _opaque_then_mattes(d: Path) -> list[list[str]]:
    """Colour images without alpha (every input skipped), then the corrected command that names their mattes."""
    from PIL import Image

    for folder, mode in (("in", "RGB"), ("mattes", "L")):
        (d / folder).mkdir()
        Image.new(mode, (32, 32), 128).save(d / folder / "a.png")
    build = ["data", "build", "images", "in", "-o", "out", "--frames", "1", "--no-progress"]
    return [build, [*build, "--alpha-dir", "mattes"]]


def _truncated_webm_build(d: Path) -> list[list[str]]:
    (d / "in").mkdir()
    for name in ("good", "cut"):
        code = subprocess.run([sys.executable, "-m", "wan_alpha", "convert", str(_clip_zip(d, f"{name}.zip", 9)),
                               str(d / "in" / f"{name}.webm")], capture_output=True, env=_env(str(ROOT / "src")))
        assert code.returncode == 0, code.stderr
    cut = d / "in" / "cut.webm"
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    return [["data", "build", "videos", "in", "-o", "out", "--frames", "5", "--short-side", "0", "--no-progress"]]


def _skips(d: Path) -> str:
    report = d / "out" / "build_report.json"
    return f"skipped {json.loads(report.read_text())['skipped']}" if report.exists() else "no report"


def _env(src: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if src:
        env["PYTHONPATH"] = src
    return env


def _limit(cap_bytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    return apply


def _start(argv: list[str], cwd: Path, src: str | None, cap: int, close_stdout: bool) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "wan_alpha", *argv], cwd=cwd, env=_env(src),
                            stdout=subprocess.PIPE if close_stdout else subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_limit(cap))


def _finish(proc: subprocess.Popen, timeout: float, stop_after: float | None, close_stdout: bool) -> Result:
    """Wait (SIGTERM at ``stop_after``, SIGKILL at ``timeout``) and read the child's own peak RSS via wait4."""
    if close_stdout:
        proc.stdout.close()
    start, note, status, usage = time.perf_counter(), "", None, None
    while status is None:
        pid, status_word, usage_now = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, usage = status_word, usage_now
            break
        elapsed = time.perf_counter() - start
        if stop_after is not None and elapsed > stop_after and not note:
            proc.send_signal(signal.SIGTERM)
            note = f"SIGTERM at {stop_after:g} s"
        if elapsed > timeout and "killed" not in note:
            proc.kill()
            note = f"killed at {timeout:g} s (hung)"
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace")
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and "%|" not in line]
    ours = [line for line in lines if line.startswith("wan-alpha:")]  # libraries' import noise left out
    if "Traceback" in stderr:
        said = f"TRACEBACK ({len(stderr.splitlines())} lines): {lines[-1][:150] if lines else ''}"
    else:
        said = " / ".join(ours)[:220]
    return Result(proc.returncode, usage.ru_maxrss / 1024, time.perf_counter() - start, said, note)


def run_case(case: Case, src: str | None, cap: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        d = Path(tmp)
        runs = case.setup(d)
        for argv in runs[:-1]:
            _finish(_start(argv, d, src, cap, False), case.timeout, None, False)
        if case.concurrent:
            procs = [_start(runs[-1], d, src, cap, False) for _ in range(2)]
            results = [_finish(p, case.timeout, None, False) for p in procs]
            result = Result(" & ".join(str(r.code) for r in results), max(r.rss_mb for r in results),
                            max(r.seconds for r in results), " / ".join(r.said or "-" for r in results))
        else:
            result = _finish(_start(runs[-1], d, src, cap, case.close_stdout), case.timeout, case.stop_after,
                             case.close_stdout)
        if case.check is not None:
            result.note = "; ".join(x for x in (result.note, case.check(d)) if x)
        result.said = result.said.replace(f"{d}/", "")  # paths relative to the case's folder
        return result


def _cell(r: Result) -> str:
    return f"exit {r.code}, {r.rss_mb:.0f} MB, {r.seconds:.1f} s: {r.said or '(nothing)'}" + (
        f" [{r.note}]" if r.note else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", metavar="SRC", help="another tree's src/ for a 'before' column ('installed': "
                        "the installed wan_alpha)")
    parser.add_argument("--only", default="", help="run only cases whose name contains this")
    parser.add_argument("--cap-gib", type=float, default=6.0, help="address-space cap of each child (default 6)")
    args = parser.parse_args()
    cap = int(args.cap_gib * 1024**3)
    after_src = str(ROOT / "src")
    before_src = None if args.before in (None, "installed") else args.before
    print("| case | " + ("before | " if args.before else "") + "after |")
    print("|---|" + ("---|" if args.before else "") + "---|")
    for case in CASES:
        if args.only not in case.name:
            continue
        cells = [_cell(run_case(case, before_src, cap))] if args.before else []
        cells.append(_cell(run_case(case, after_src, cap)))
        print("| " + " | ".join(c.replace("|", "/") for c in (case.name, *cells)) + " |", flush=True)


if __name__ == "__main__":
    main()
