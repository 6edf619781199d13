import json

import pytest

from wan_alpha.data import ManifestRow, read_manifest, read_reference_csv, read_rows, write_manifest
from wan_alpha.errors import WanAlphaError


def test_round_trip_and_relative_paths(tmp_path):
    rows = [
        ManifestRow(
            caption="a cat", rgba="clips/a.zip", fps=16.0, frames=17, width=64, height=32, source="s", license="MIT"
        ),
        ManifestRow(caption="smoke", rgb="fg/b.mp4", alpha="pha/b.mp4"),
    ]
    path = write_manifest(tmp_path / "manifest.jsonl", rows)
    assert read_manifest(path) == rows
    assert rows[1].paths(tmp_path) == (tmp_path / "fg/b.mp4", tmp_path / "pha/b.mp4")
    assert "alpha" not in json.loads(path.read_text().splitlines()[0])  # empty fields are left out
    with pytest.raises(WanAlphaError, match="exists"):
        write_manifest(path, rows)


@pytest.mark.parametrize(
    "fields,match",
    [
        ({"caption": " ", "rgba": "a.zip"}, "empty caption"),
        ({"caption": "x"}, "either 'rgba'"),
        ({"caption": "x", "rgba": "a.zip", "rgb": "b.mp4", "alpha": "c.mp4"}, "either 'rgba'"),
        ({"caption": "x", "rgb": "b.mp4"}, "either 'rgba'"),
    ],
)
def test_bad_rows_are_refused(fields, match):
    with pytest.raises(WanAlphaError, match=match):
        ManifestRow(**fields)


def test_reader_names_the_bad_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"caption": "a", "rgba": "a.zip"}\n\n{"caption": "b", "rgba": "b.zip", "tags": 1}\n')
    with pytest.raises(WanAlphaError, match=r"m.jsonl:3: unknown key\(s\) tags"):
        read_manifest(path)
    path.write_text('{"caption": "a", "rgba": "a.zip"}\n{"caption": "b", "rgba\n{"caption": "c", "rgba": "c.zip"}\n')
    with pytest.raises(WanAlphaError, match="m.jsonl:2 is not valid JSON"):
        read_manifest(path)
    with pytest.raises(WanAlphaError, match="does not exist"):
        read_manifest(tmp_path / "missing.jsonl")


def test_torn_last_line_is_dropped_only_when_allowed(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"caption": "a", "rgba": "a.zip"}\n{"caption": "b", "rgb')
    with pytest.raises(WanAlphaError, match="not valid JSON"):
        read_manifest(path)
    assert [r.key for r in read_manifest(path, partial_tail_ok=True)] == ["a.zip"]


def test_reference_csv(tmp_path):
    path = tmp_path / "metadata.csv"
    path.write_text('video_fgr,video_pha,prompt,extra\nfgr/1.mp4,pha/1.mp4,"A bird, flying.",x\n')
    (row,) = read_reference_csv(path, license="CC-BY-4.0")
    assert (row.rgb, row.alpha, row.caption, row.source, row.license) == (
        "fgr/1.mp4",
        "pha/1.mp4",
        "A bird, flying.",
        "metadata",
        "CC-BY-4.0",
    )
    assert [r.caption for r in read_rows(path)] == ["A bird, flying."]
    path.write_text("video,prompt\na.mp4,x\n")
    with pytest.raises(WanAlphaError, match="lacks column\\(s\\) video_fgr, video_pha"):
        read_reference_csv(path)
    path.write_text("video_fgr,video_pha,prompt\n")
    with pytest.raises(WanAlphaError, match="lists no clips"):
        read_rows(path)
