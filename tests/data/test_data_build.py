import json
import os

import numpy as np
import pytest

from wan_alpha.data import (
    build_emoji,
    build_from_images,
    build_from_videos,
    build_synthetic,
    read_manifest,
)
from wan_alpha.data.build import REPORT_NAME
from wan_alpha.data.matting import list_files
from wan_alpha.errors import WanAlphaError
from wan_alpha.io import read_video, write_video


def _clips(out):
    """(row, video) for every manifest row of a build folder, with the invariants every clip keeps."""
    result = []
    for row in read_manifest(out / "manifest.jsonl"):
        video = read_video(out / row.rgba)
        assert (video.num_frames - 1) % 4 == 0 and video.num_frames == row.frames
        assert (video.height, video.width) == (row.height, row.width)
        assert row.caption.strip()
        assert video.alpha.max() > 0
        result.append((row, video))
    assert not [p for p in (out / "clips").iterdir() if ".part" in p.name]  # atomic writes leave no temp files
    return result


def test_images_builder_clips_and_skip_report(tmp_path, make_png, soft_disc):
    src = tmp_path / "images"
    make_png(src / "red_fox_01.png", soft_disc(60, 80)[0])
    make_png(src / "sub" / "glass.png", soft_disc(90, 40, seed=1)[0])
    (src / "sub" / "glass.txt").write_text("A wine glass.")
    make_png(src / "opaque.jpg", soft_disc(30, 30)[0, ..., :3])
    full = soft_disc(30, 30)[0]
    full[..., 3] = 255
    make_png(src / "solid.png", full)
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    out = tmp_path / "out"
    report = build_from_images(src, out, frames=9, height=32, width=48, clips_per_image=2, seed=3, license="CC0-1.0")
    assert (report.written, report.skipped) == (4, {"corrupt": 1, "no_alpha": 2})
    clips = _clips(out)
    assert {r.caption for r, _ in clips} == {"This video has a transparent background. A red fox.", "A wine glass."}
    assert all(v.frames.shape == (9, 32, 48, 4) and r.license == "CC0-1.0" and r.source == "images" for r, v in clips)
    # The window moves: a still image becomes a clip whose frames differ.
    assert not np.array_equal(clips[0][1].frames[0], clips[0][1].frames[-1])
    saved = json.loads((out / REPORT_NAME).read_text())
    assert saved["skipped"] == {"corrupt": 1, "no_alpha": 2} and "broken.png" in saved["examples"]["corrupt"][0]


def test_image_pairs_and_their_mismatches(tmp_path, make_png, soft_disc):
    rgba = soft_disc(40, 40)[0]
    make_png(tmp_path / "fg" / "cat.jpg", rgba[..., :3])
    make_png(tmp_path / "alpha" / "cat.png", rgba[..., 3])
    make_png(tmp_path / "fg" / "dog.jpg", rgba[..., :3])
    make_png(tmp_path / "alpha" / "dog.png", rgba[:30, :, 3])
    make_png(tmp_path / "fg" / "lonely.jpg", rgba[..., :3])
    report = build_from_images(
        tmp_path / "fg", tmp_path / "out", alpha_dir=tmp_path / "alpha", frames=5, height=16, width=16
    )
    assert (report.written, report.skipped) == (1, {"mismatched_pair": 1, "missing_pair": 1})
    ((row, video),) = _clips(tmp_path / "out")
    assert 0 < (video.alpha == 0).mean() < 1 and row.caption.endswith("A cat.")


def test_nothing_usable_fails_but_writes_the_report(tmp_path, make_png, soft_disc):
    make_png(tmp_path / "in" / "flat.jpg", soft_disc(20, 20)[0, ..., :3])
    with pytest.raises(WanAlphaError, match="no usable clip.*no_alpha 1"):
        build_from_images(tmp_path / "in", tmp_path / "out", frames=5, height=16, width=16)
    assert json.loads((tmp_path / "out" / REPORT_NAME).read_text())["usable"] == 0
    with pytest.raises(WanAlphaError, match="does not exist"):
        build_from_images(tmp_path / "nowhere", tmp_path / "out2", frames=5)
    with pytest.raises(WanAlphaError, match="1 \\+ 4k"):
        build_from_images(tmp_path / "in", tmp_path / "out3", frames=8)


def test_unreadable_subfolder_is_counted(tmp_path, monkeypatch, make_png, soft_disc):
    make_png(tmp_path / "in" / "a.png", soft_disc(20, 20)[0])
    (tmp_path / "in" / "locked").mkdir()
    real = os.scandir

    def scandir(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    files, problems = list_files(tmp_path / "in", (".png",))
    assert [f.name for f in files] == ["a.png"]
    assert problems[0][0] == "unreadable_folder" and problems[0][1].endswith("locked")


def test_videos_builder_pairs_stride_and_skips(tmp_path, disc_video):
    fg, pha = tmp_path / "fgr", tmp_path / "pha"
    fg.mkdir(), pha.mkdir()

    def matte(video):
        grey = video.frames.copy()
        grey[..., :3] = grey[..., 3:]
        grey[..., 3] = 255
        return type(video)(grey, video.fps)

    long = disc_video(14, 24, 40)
    write_video(fg / "walk.mov", long, format="mov-png")
    write_video(pha / "walk.zip", matte(long))
    (fg / "walk.txt").write_text("A person walking.")
    write_video(fg / "short.zip", disc_video(3))
    write_video(pha / "short.zip", matte(disc_video(3)))
    write_video(fg / "uneven.zip", disc_video(9))
    write_video(pha / "uneven.zip", matte(disc_video(7)))
    (fg / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 garbage")
    (pha / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 garbage")
    out = tmp_path / "out"
    report = build_from_videos(fg, out, alpha_dir=pha, frames=5, stride=4, short_side=16)
    assert report.written == 3  # starts 0, 4, 8 of 14 frames
    assert report.skipped == {"corrupt": 1, "mismatched_pair": 1, "too_short": 1}
    clips = _clips(out)
    assert all(v.frames.shape == (5, 16, 32, 4) and r.caption == "A person walking." for r, v in clips)
    # The matte's luma became the alpha (up to resampling), the colour came from the foreground file.
    alpha = clips[0][1].alpha.astype(float) / 255
    assert 0.05 < (alpha > 0.5).mean() and 0.05 < (alpha == 0).mean() and ((alpha > 0) & (alpha < 1)).any()


def test_videos_from_reference_csv(tmp_path, disc_video):
    (tmp_path / "fgr").mkdir(), (tmp_path / "pha").mkdir()
    video = disc_video(9)
    write_video(tmp_path / "fgr" / "a.zip", video)
    write_video(tmp_path / "pha" / "a.zip", video)
    (tmp_path / "meta.csv").write_text(
        "video_fgr,video_pha,prompt\nfgr/a.zip,pha/a.zip,A bird.\nfgr/b.zip,pha/b.zip,Gone.\n"
    )
    report = build_from_videos(tmp_path / "meta.csv", tmp_path / "out", frames=9, short_side=None)
    assert report.written == 1 and report.skipped == {"missing_pair": 1}
    ((row, clip),) = _clips(tmp_path / "out")
    assert row.caption == "A bird." and clip.frames.shape == (9, 24, 32, 4)


def test_resume_skips_finished_rows_and_redoes_broken_ones(tmp_path):
    out = tmp_path / "syn"
    first = build_synthetic(out, count=4, seed=5, frames=5, height=16, width=16)
    assert (first.written, first.already_done) == (4, 0)
    manifest = out / "manifest.jsonl"
    keys = [r.rgba for r in read_manifest(manifest)]
    before = {k: (out / k).stat().st_mtime_ns for k in keys}
    (out / keys[1]).unlink()  # a finished row whose file vanished is redone
    with open(manifest, "a") as handle:  # an interrupted append leaves a torn line
        handle.write('{"caption": "torn", "rgba": "clips/synthetic_0000')
    second = build_synthetic(out, count=6, seed=5, frames=5, height=16, width=16)  # and extend to 6
    # Redone: the clip whose file vanished, the job before the torn line (its group may be short),
    # and the two new ones; kept: the other two.
    assert (second.written, second.already_done) == (4, 2)
    rows = read_manifest(manifest)
    assert sorted(r.rgba for r in rows) == [f"clips/synthetic_{i:06d}.000.zip" for i in range(6)]
    assert all((out / keys[i]).stat().st_mtime_ns == before[keys[i]] for i in (0, 2))
    # Same seed, same clips: the redone file equals what a fresh build makes.
    fresh = tmp_path / "fresh"
    build_synthetic(fresh, count=2, seed=5, frames=5, height=16, width=16)
    assert np.array_equal(read_video(out / keys[1]).frames, read_video(fresh / keys[1]).frames)
    with pytest.raises(WanAlphaError, match="other options \\(seed differ\\)"):
        build_synthetic(out, count=6, seed=6, frames=5, height=16, width=16)


@pytest.fixture
def fake_emoji_package(tmp_path, make_png, soft_disc):
    package = tmp_path / "node_modules" / "emoji-datasource-google"
    sprite = soft_disc(64, 64)[0]
    make_png(package / "img" / "google" / "64" / "1f600.png", sprite)
    make_png(package / "img" / "google" / "64" / "1f34e.png", sprite[::-1])
    make_png(package / "img" / "google" / "64" / "1f3fb.png", sprite)
    entries = [
        {
            "name": "GRINNING FACE",
            "category": "Smileys & Emotion",
            "subcategory": "face-smiling",
            "image": "1f600.png",
            "has_img_google": True,
        },
        {
            "name": "RED APPLE",
            "category": "Food & Drink",
            "subcategory": "food-fruit",
            "image": "1f34e.png",
            "has_img_google": True,
        },
        {
            "name": "SKIN TONE",
            "category": "Component",
            "subcategory": "skin-tone",
            "image": "1f3fb.png",
            "has_img_google": True,
        },
        {
            "name": "GHOST",
            "category": "Smileys & Emotion",
            "subcategory": "face-costume",
            "image": "1f47b.png",
            "has_img_google": True,
        },
    ]
    (package / "emoji.json").write_text(json.dumps(entries))
    return tmp_path


def test_emoji_builder_with_a_fake_package(tmp_path, fake_emoji_package):
    out = tmp_path / "emoji_out"
    report = build_emoji(fake_emoji_package, out, count=6, seed=1, frames=9, height=48, width=64, two_sprite_share=0.5)
    assert report.written == 6 and report.skipped == {"missing_file": 1}  # the ghost's image is not installed
    clips = _clips(out)
    captions = [r.caption for r, _ in clips]
    assert all(("grinning face emoji" in c or "red apple emoji" in c) and "skin tone" not in c for c in captions)
    assert any(" and a" in c for c in captions)  # some clips combine two sprites
    assert all(r.license.startswith("Apache-2.0") and v.frames.shape == (9, 48, 64, 4) for r, v in clips)
    assert all(not np.array_equal(v.frames[0], v.frames[-1]) for _, v in clips)
    with pytest.raises(WanAlphaError, match="no usable emoji.*known: Component"):
        build_emoji(fake_emoji_package, tmp_path / "o2", count=1, categories=["Flags"])
    with pytest.raises(WanAlphaError, match="npm install --prefix"):
        build_emoji(tmp_path / "empty", tmp_path / "o3", count=1)
