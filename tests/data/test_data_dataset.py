import pytest
import torch

from wan_alpha.data import ManifestRow, RGBAClipDataset, SyntheticClips, write_manifest
from wan_alpha.errors import WanAlphaError
from wan_alpha.io import RGBAVideo, write_video


@pytest.fixture
def manifest(tmp_path, soft_disc, make_png):
    """Three clips of different aspect ratios and lengths, one still image, one too-short clip."""
    rows = []
    for name, (t, h, w) in {
        "wide": (13, 32, 64),
        "tall": (9, 64, 32),
        "square": (9, 40, 40),
        "short": (5, 32, 32),
    }.items():
        write_video(tmp_path / f"{name}.zip", RGBAVideo(soft_disc(h, w, t), fps=16))
        rows.append(ManifestRow(caption=f"a {name} disc", rgba=f"{name}.zip", frames=t, width=w, height=h))
    make_png(tmp_path / "still.png", soft_disc(48, 48)[0])
    rows.append(ManifestRow(caption="a still", rgba="still.png", frames=1, width=48, height=48))
    return write_manifest(tmp_path / "manifest.jsonl", rows)


def test_items_are_cropped_to_one_size_and_match_synthetic_layout(manifest):
    data = RGBAClipDataset(manifest, frames=9, height=32, width=64, seed=1)
    assert len(data) == 4 and data.dropped == {"too_short": 1}
    reference = SyntheticClips(1, 9, 32, 64)[0]
    for index in range(4):  # wide, tall, square and a still: each scaled to cover 32x64, then cropped
        item = data[index]
        assert set(item) == set(reference)
        assert item["rgb"].shape == (3, 9, 32, 64) and item["alpha"].shape == (1, 9, 32, 64)
        assert item["rgb"].dtype == reference["rgb"].dtype == torch.float32
        assert (
            -1 <= item["rgb"].min() and item["rgb"].max() <= 1 and 0 <= item["alpha"].min() and item["alpha"].max() <= 1
        )
    still = data[3]["alpha"]
    assert torch.equal(still[:, 0], still[:, -1])  # a still image is repeated


def test_augmentation_is_a_function_of_seed_epoch_index(manifest):
    data = RGBAClipDataset(manifest, frames=5, height=16, width=16, seed=3)
    a = data[0]
    assert torch.equal(a["rgb"], RGBAClipDataset(manifest, frames=5, height=16, width=16, seed=3)[0]["rgb"])
    starts = set()
    for epoch in range(6):
        data.set_epoch(epoch)
        starts.add(data[0]["alpha"].sum().item())
    assert len(starts) > 1  # window start / crop change with the epoch
    loaded = next(iter(torch.utils.data.DataLoader(data, batch_size=4, num_workers=2)))
    data_inline = [data[i]["rgb"] for i in range(4)]
    assert all(torch.equal(loaded["rgb"][i], data_inline[i]) for i in range(4))


def test_bad_settings_are_clear(manifest):
    with pytest.raises(WanAlphaError, match="clip size must be positive"):
        RGBAClipDataset(manifest, height=0)
    with pytest.raises(WanAlphaError, match="1 \\+ 4k"):
        RGBAClipDataset(manifest, frames=10)
    only_short = write_manifest(manifest.parent / "short.jsonl", [ManifestRow(caption="s", rgba="short.zip", frames=5)])
    with pytest.raises(WanAlphaError, match="no clip .* has 9 frames or more"):
        RGBAClipDataset(only_short, frames=9)
    unknown_length = write_manifest(manifest.parent / "unknown.jsonl", [ManifestRow(caption="s", rgba="short.zip")])
    with pytest.raises(WanAlphaError, match="short.zip has 5 frames, the dataset asks for 9"):
        RGBAClipDataset(unknown_length, frames=9)[0]
