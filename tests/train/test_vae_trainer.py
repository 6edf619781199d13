import shutil

import pytest
import torch
from safetensors.torch import load_file

from tests.tiny import VAE_TRAIN, train_log, write_yaml
from wan_alpha.cli import main
from wan_alpha.errors import WanAlphaError
from wan_alpha.models import RGBAVAE
from wan_alpha.train.vae import train_vae

pytestmark = pytest.mark.usefixtures("one_thread")


def write_config(tmp_path, **sections):
    return write_yaml(tmp_path / "vae.yaml", VAE_TRAIN, **sections)


def test_training_lowers_reconstruction_loss_and_writes_a_run_folder(tmp_path):
    output = tmp_path / "run"
    saved = train_vae(write_config(tmp_path), output)
    losses, validations = train_log(output)
    recon = [losses[s]["alpha"] + losses[s]["soft"] + losses[s]["hard"] for s in sorted(losses)]
    assert len(recon) == 30
    first, last = sum(recon[:5]) / 5, sum(recon[-5:]) / 5
    assert last < 0.8 * first, (first, last)
    assert "tabd" in losses[30]
    assert (output / "config.yaml").is_file() and (output / "previews" / "step-0000030.mp4").stat().st_size > 0
    assert validations and {"val_alpha", "val_soft", "val_hard", "val_loss"} <= set(validations[-1])
    model = RGBAVAE.from_pretrained(saved)
    trained = load_file(output / "checkpoints" / "step-0000030" / "trainable_0.safetensors")
    assert all(k.startswith("fusion.") or ".lora_" in k for k in trained)
    torch.testing.assert_close(model.state_dict()["fusion.conv_out.weight"], trained["fusion.conv_out.weight"])


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    config = write_config(tmp_path, train={"max_steps": 5})
    train_vae(config, tmp_path / "whole")
    train_vae(config, tmp_path / "split", max_steps=3)
    train_vae(config, tmp_path / "split", resume=True)
    whole, _ = train_log(tmp_path / "whole")
    split, _ = train_log(tmp_path / "split")
    for step in (4, 5):
        for term in ("loss", "alpha", "soft", "hard", "tabd"):
            assert split[step][term] == pytest.approx(whole[step][term], rel=1e-5, abs=1e-6), (step, term)
    assert sorted(p.name for p in (tmp_path / "split" / "checkpoints").iterdir()) == ["step-0000003", "step-0000005"]


def test_an_interrupted_run_resumes_its_learning_rate_schedule(tmp_path):
    config = write_config(tmp_path, train={"max_steps": 5, "lr_schedule": "cosine", "warmup_steps": 1})
    train_vae(config, tmp_path / "whole")
    whole, _ = train_log(tmp_path / "whole")
    # warm-up to 3e-3 over one step, then a half cosine to 0 at step 5
    assert [whole[s]["lr"] for s in range(1, 6)] == pytest.approx([1.5e-3, 3e-3, 2.56e-3, 1.5e-3, 0.44e-3], abs=1e-5)
    # killed after the step-3 checkpoint: the resumed steps must use the schedule's rates, not the checkpoint's
    shutil.copytree(tmp_path / "whole", tmp_path / "killed")
    shutil.rmtree(tmp_path / "killed" / "checkpoints" / "step-0000005")
    train_vae(config, tmp_path / "killed", resume=True)
    resumed, _ = train_log(tmp_path / "killed")
    for step in (4, 5):
        for term in ("loss", "alpha", "lr"):
            assert resumed[step][term] == pytest.approx(whole[step][term], rel=1e-5, abs=1e-6), (step, term)


def test_cli_trains_and_refuses_to_mix_runs(tmp_path, capsys):
    config = str(write_config(tmp_path, train={"max_steps": 1}))
    output = str(tmp_path / "run")
    assert main(["train", "vae", "--config", config, "--output", output]) == 0
    assert "RGBA VAE saved to" in capsys.readouterr().out
    assert main(["train", "vae", "--config", config, "--output", output]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(["train", "vae", "--config", config, "--output", str(tmp_path / "new"), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize(
    "sections, needle",
    [
        ({"tabd": {"mode": "push"}}, "tabd.mode"),
        ({"model": {"base_vae": "x"}}, "exactly one of base_vae"),
        ({"model": {"init_from": "x"}}, "exactly one of base_vae"),
        ({"model": {"init_from": "missing-folder", "base_vae_config": None}}, "missing-folder is not an RGBAVAE"),
        ({"data": {"synthetic": None}}, "give synthetic"),
        ({"train": {"batch_size": 0}}, "train.batch_size"),
        ({"train": {"lr_schedule": "linear"}}, "train.lr_schedule"),
        ({"train": {"warmup_steps": 30}}, "train.warmup_steps"),
        ({"model": {"base_vae": "missing-folder", "base_vae_config": None}}, "missing-folder is not a diffusers"),
        ({"loss": {"ssim_weight": 1.0}}, "ssim_weight"),
        ({"loss": {"alpha_balance": 0.5}}, "alpha_balance"),  # a recipe's key: unknown to the method's config
        ({"decode_scale_min": 0.5}, "decode_scale_min"),
    ],
)
def test_bad_configs_are_user_errors(tmp_path, sections, needle):
    with pytest.raises(WanAlphaError, match=needle):
        train_vae(write_config(tmp_path, **sections), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_init_from_continues_a_saved_rgba_vae_with_the_same_trainable_parts(tmp_path):
    first = train_vae(write_config(tmp_path, train={"max_steps": 2}), tmp_path / "first")
    saved = RGBAVAE.from_pretrained(first).state_dict()
    # a second phase on larger clips, as the tiny recipe's later stages continue earlier ones; at learning rate 0
    # it must hand back exactly what it started from
    config = write_config(tmp_path, model={"base_vae_config": None, "init_from": str(first)},
                          data={"synthetic": {**VAE_TRAIN["data"]["synthetic"], "height": 64, "width": 64}},
                          train={"max_steps": 2, "learning_rate": 0.0})
    second = RGBAVAE.from_pretrained(train_vae(config, tmp_path / "second")).state_dict()
    trained = load_file(tmp_path / "second" / "checkpoints" / "step-0000002" / "trainable_0.safetensors")
    assert trained and all(k.startswith("fusion.") or ".lora_" in k for k in trained)
    assert any(".lora_B." in k and saved[k].abs().sum() > 0 for k in trained)  # phase 1 left LoRA non-zero
    assert set(second) == set(saved)
    for key, value in second.items():
        torch.testing.assert_close(value, saved[key])


def test_init_from_a_merged_rgba_vae_is_refused(tmp_path):
    vae = RGBAVAE.from_pretrained(train_vae(write_config(tmp_path, train={"max_steps": 1}), tmp_path / "first"))
    vae.merge_lora()
    vae.save_pretrained(tmp_path / "merged")
    config = write_config(tmp_path, model={"base_vae_config": None, "init_from": str(tmp_path / "merged")})
    with pytest.raises(WanAlphaError, match="LoRA merged"):
        train_vae(config, tmp_path / "second")
    assert not (tmp_path / "second").exists()
