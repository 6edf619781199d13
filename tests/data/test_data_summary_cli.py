import json

import numpy as np
from PIL import Image

from wan_alpha.cli import main
from wan_alpha.data import ManifestRow, contact_sheet, manifest_stats, write_manifest
from wan_alpha.io import RGBAVideo, write_video


def test_stats_count_regions(tmp_path):
    frames = np.zeros((5, 4, 4, 4), np.uint8)
    frames[:, :2, :, 3] = 255  # half opaque
    frames[:, 2, :, 3] = 128  # a quarter semi, a quarter transparent
    write_video(tmp_path / "a.zip", RGBAVideo(frames, fps=16))
    rows = [ManifestRow(caption="x", rgba="a.zip", source="s"), ManifestRow(caption="y", rgba="gone.zip", source="s")]
    stats = manifest_stats(write_manifest(tmp_path / "m.jsonl", rows))
    assert stats["rows"] == 2 and stats["read"] == 1 and stats["unreadable"] == 1
    assert stats["pixels"] == {"opaque": 0.5, "semi": 0.25, "transparent": 0.25}
    assert stats["frames"] == {"total": 5, "min": 5, "max": 5} and stats["sources"] == {"s": 2}


def test_cli_build_preview_stats(tmp_path, capsys):
    out = tmp_path / "syn"
    assert (
        main(
            [
                "data",
                "build",
                "synthetic",
                "-o",
                str(out),
                "--count",
                "3",
                "--frames",
                "5",
                "--height",
                "32",
                "--width",
                "48",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "3 clips" in capsys.readouterr().out
    sheet = tmp_path / "sheet.png"
    assert (
        main(
            [
                "data",
                "preview",
                str(out / "manifest.jsonl"),
                "-o",
                str(sheet),
                "--frames-per-clip",
                "3",
                "--thumb",
                "32",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out == f"wrote {sheet}\n"  # says what it made
    with Image.open(sheet) as image:
        assert image.size == (3 * 36 + 4, 3 * (32 + 14 + 4) + 4)
    assert main(["data", "preview", str(out / "manifest.jsonl"), "-o", str(sheet)]) == 2  # no --overwrite
    assert "already exists" in capsys.readouterr().err
    assert main(["data", "stats", str(out / "manifest.jsonl"), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["rows"] == 3 and stats["semi_of_visible"] > 0.5
    # A build where every input is bad exits non-zero with the reasons.
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "flat" / "a.jpg")
    assert main(["data", "build", "images", str(tmp_path / "flat"), "-o", str(tmp_path / "o"), "--frames", "5"]) == 2
    assert "no_alpha 1" in capsys.readouterr().err


def test_preview_marks_unreadable_clips(tmp_path):
    write_manifest(tmp_path / "m.jsonl", [ManifestRow(caption="lost", rgba="missing.zip")])
    contact_sheet(tmp_path / "m.jsonl", tmp_path / "s.png", thumb=16)
    with Image.open(tmp_path / "s.png") as image:
        assert image.convert("RGB").getpixel((8, 8)) == (90, 20, 20)
