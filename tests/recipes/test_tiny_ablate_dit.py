"""``wan-alpha ablate dit`` end to end at a tiny size: two trainings that differ only in ``mu_shift``,
three scored rows, the mirrored-ellipse control metric, and a rerun that reads finished work back."""

import json

import pytest
import yaml

from recipes.tiny.__main__ import main
from recipes.tiny.ablate import DIT_COLUMNS, ELLIPSES, ROWS, TRAININGS
from tests.tiny import dit_train_config, save_training_assets, write_yaml
from wan_alpha.rgba import ellipse_region

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    root = tmp_path_factory.mktemp("ablate_dit")
    save_training_assets(root)
    # rgba_vae is replaced by --rgba-vae, as the recipe's command does
    write_yaml(root / "dit.yaml", dit_train_config(root), rgba_vae="not/used",
               dora={"r": 2, "alpha": 2}, mu_shift=1.0,
               data={"synthetic": {"num_clips": 2, "frames": 5, "height": 32, "width": 32, "seed": 0}, "validation_clips": 0},
               train={"max_steps": 1, "batch_size": 1, "checkpoint_every": 1000, "validate_every": 1000})
    (root / "prompts.txt").write_text("smoke\nfire\n")
    argv = ["ablate-dit", "--config", str(root / "dit.yaml"), "--output", str(root / "out"), "--prompts",
            str(root / "prompts.txt"), "--rgba-vae", str(root / "vae"), "--steps", "1"]
    assert main(argv) == 0
    return root / "out", argv


def test_two_trainings_three_rows(ablation):
    out, _ = ablation
    configs = {t: yaml.safe_load((out / "seed-0" / t / "config.yaml").read_text()) for t in TRAININGS}
    assert configs["mean-sampler"]["mu_shift"] == 1.0 and configs["no-mean-sampler"]["mu_shift"] == 0.0
    shared = [{k: v for k, v in c.items() if k not in ("mu_shift", "output_dir")} for c in configs.values()]
    assert shared[0] == shared[1]
    results = json.loads((out / "results.json").read_text())
    assert list(results) == list(ROWS)
    assert [results[row][0]["mu"] for row in ROWS] == [None, 0.0, None]
    for row in ROWS:
        scores = results[row][0]
        assert 0 <= scores["ellipse_iou"] <= 1 and 0 <= scores["ellipse_iou_mirror"] <= 1
        assert 0 <= scores["clean_background"] <= 1
    table = (out / "table.md").read_text()
    assert all(f"| {row} | 1 |" in table for row in ROWS) and all(title in table for title in DIT_COLUMNS.values())


def test_rerun_reads_finished_work(ablation, capsys):
    out, argv = ablation
    cached = out / "seed-0" / "mean-sampler" / "gen.json"
    stamp = cached.stat().st_mtime_ns
    trained = (out / "seed-0" / "no-mean-sampler" / "config.yaml").stat().st_mtime_ns  # not retrained
    before = (out / "results.json").read_text()
    assert main(argv) == 0
    assert cached.stat().st_mtime_ns == stamp and (out / "results.json").read_text() == before
    assert (out / "seed-0" / "no-mean-sampler" / "config.yaml").stat().st_mtime_ns == trained
    assert "no mean sampler" in capsys.readouterr().out


def test_the_ellipses_are_mirror_images():
    left, right = (ellipse_region(e, 16, 32) for e in ELLIPSES)
    assert left.any() and not (left & right).any() and (left[:, ::-1] == right).all()
