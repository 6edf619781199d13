import dataclasses
import json
import shutil

import pytest
import torch
import yaml
from safetensors.torch import load_file

from wan_alpha.cli import main
from wan_alpha.data import SyntheticClips
from wan_alpha.errors import WanAlphaError
from wan_alpha.losses import ReconLossConfig
from wan_alpha.models import RGBAVAE
from wan_alpha.rgba import random_palette_colors
from wan_alpha.train.vae import fit_rgba_latent_stats, train_vae, vae_loss

TINY = {
    "model": {
        "base_vae_config": {"base_dim": 8, "z_dim": 4, "dim_mult": [1, 2, 4, 4], "num_res_blocks": 1,
                            "latents_mean": [0.0] * 4, "latents_std": [1.0] * 4},
        "lora_rank": 4,
        "fusion_layers": 1,
    },
    "data": {"synthetic": {"num_clips": 2, "frames": 5, "height": 32, "width": 32, "seed": 0}, "validation_clips": 1},
    "tabd": {
        "mode": "paper", "weight": 0.1, "text_encoder": "none",
        "dit_config": {"patch_size": [1, 2, 2], "num_attention_heads": 2, "attention_head_dim": 8, "in_channels": 4,
                       "out_channels": 4, "text_dim": 16, "freq_dim": 16, "ffn_dim": 32, "num_layers": 1,
                       "rope_max_seq_len": 64},
    },
    "train": {"max_steps": 30, "learning_rate": 3e-3, "weight_decay": 0.0, "checkpoint_every": 3,
              "validate_every": 1000, "log_every": 1, "seed": 0},
}


pytestmark = pytest.mark.usefixtures("one_thread")


def write_config(tmp_path, **sections):
    config = {k: dict(v) for k, v in TINY.items()}
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    path = tmp_path / "vae.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def train_log(output):
    rows = [json.loads(line) for line in (output / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in rows if "loss" in r}, [r for r in rows if "val_rgb_psnr" in r]


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
    assert validations and {"val_rgb_ssim", "val_alpha_psnr", "val_alpha_ssim"} <= set(validations[-1])
    model = RGBAVAE.from_pretrained(saved)
    trained = load_file(output / "checkpoints" / "step-0000030" / "trainable_0.safetensors")
    assert all(k.startswith("fusion.") or ".lora_" in k for k in trained)
    torch.testing.assert_close(model.state_dict()["fusion.conv_out.weight"], trained["fusion.conv_out.weight"])


def test_saturation_margin_term_is_logged_and_trained_down(tmp_path):
    output = tmp_path / "run"
    train_vae(write_config(tmp_path, loss={"saturation": 5.0, "saturation_margin": 0.2}, tabd={"weight": 0.0},
                           train={"max_steps": 20}), output)
    losses, _ = train_log(output)
    saturation = [losses[s]["saturation"] for s in sorted(losses)]
    assert sum(saturation[-5:]) < 0.8 * sum(saturation[:5]), saturation


def test_saturation_term_on_a_model_in_eval_mode_is_a_user_error(tmp_path):
    vae = RGBAVAE.from_pretrained(train_vae(write_config(tmp_path, train={"max_steps": 1}), tmp_path / "run")).eval()
    clip = SyntheticClips(1, 5, 32, 32, seed=3)[0]
    batch = {"rgb": clip["rgb"][None], "alpha": clip["alpha"][None]}
    with pytest.raises(WanAlphaError, match="training mode"):
        vae_loss(vae, batch, torch.Generator().manual_seed(0), ReconLossConfig(saturation=1.0))
    assert "saturation" in vae_loss(vae.train(), batch, torch.Generator().manual_seed(0), ReconLossConfig(saturation=1.0))


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
    ],
)
def test_bad_configs_are_user_errors(tmp_path, sections, needle):
    with pytest.raises(WanAlphaError, match=needle):
        train_vae(write_config(tmp_path, **sections), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_latent_stats_refit_makes_the_fused_latents_unit_scale(tmp_path):
    path = tmp_path / "vae.yaml"
    path.write_text(yaml.safe_dump({**TINY, "latent_stats_clips": 2, "train": {**TINY["train"], "max_steps": 1}}))
    model = RGBAVAE.from_pretrained(train_vae(path, tmp_path / "run")).eval()
    assert len(model.config.latents_mean) == 4 and model.config.latents_mean != [0.0] * 4  # refitted, not the base's

    clips = SyntheticClips(2, 5, 32, 32, seed=3)
    fit_rgba_latent_stats(model, clips, clips=2, seed=0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        z = torch.cat([model.encode(c["rgb"][None], c["alpha"][None], background=random_palette_colors(1, generator))
                       for c in (clips[0], clips[1])])
    per_channel = z.transpose(0, 1).flatten(1)
    torch.testing.assert_close(per_channel.mean(1), torch.zeros(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(per_channel.std(1), torch.ones(4), atol=1e-4, rtol=0)

    with torch.no_grad():  # encode and decode use the same statistics: reconstructions do not change
        fitted = model(clips[0]["rgb"][None], clips[0]["alpha"][None])
        model.register_to_config(latents_mean=None, latents_std=None)
        base = model(clips[0]["rgb"][None], clips[0]["alpha"][None])
    torch.testing.assert_close(fitted.alpha, base.alpha, atol=1e-4, rtol=0)


def test_init_from_continues_a_saved_rgba_vae_with_the_same_trainable_parts(tmp_path):
    first = train_vae(write_config(tmp_path, train={"max_steps": 2}), tmp_path / "first")
    saved = RGBAVAE.from_pretrained(first).state_dict()
    # a second phase on larger clips, as tiny-all's base_vae_long continues the base VAE; at learning rate 0
    # it must hand back exactly what it started from
    config = write_config(tmp_path, model={"base_vae_config": None, "init_from": str(first)},
                          data={"synthetic": {**TINY["data"]["synthetic"], "height": 64, "width": 64}},
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


def test_a_saved_tabd_context_replaces_the_text_encoder_and_is_checked_against_the_dit(tmp_path):
    from safetensors.torch import save_file

    from wan_alpha.train.vae import TABDConfig, build_tabd, encode_tabd_context, write_tabd_context

    dit_config = {**TINY["tabd"]["dit_config"], "text_dim": 384}  # MiniLM's width
    minilm = TABDConfig(dit_config=dit_config, text_encoder="minilm")
    path = write_tabd_context(minilm, tmp_path / "context.safetensors")
    _, context = build_tabd(TABDConfig(dit_config=dit_config, text_encoder="minilm", context_file=str(path)))
    expected = encode_tabd_context(minilm, 384)
    assert context.shape == expected.shape and context.abs().sum() > 0
    torch.testing.assert_close(context, expected)

    narrow = TABDConfig(dit_config=TINY["tabd"]["dit_config"], context_file=str(path))  # text_dim 16
    with pytest.raises(WanAlphaError, match=r"\(1, L, 16\).*found \(1, 128, 384\)"):
        build_tabd(narrow)
    save_file({"other": torch.zeros(1, 2, 16)}, str(tmp_path / "wrong_key.safetensors"))
    with pytest.raises(WanAlphaError, match="found None"):
        build_tabd(dataclasses.replace(narrow, context_file=str(tmp_path / "wrong_key.safetensors")))
    with pytest.raises(WanAlphaError, match="does not exist"):
        build_tabd(dataclasses.replace(narrow, context_file=str(tmp_path / "missing.safetensors")))
    with pytest.raises(WanAlphaError, match="no context to save"):
        write_tabd_context(TABDConfig(dit_config=dit_config, text_encoder="none"), tmp_path / "none.safetensors")


def test_decoder_only_training_on_scaled_latents_leaves_the_fusion_block(tmp_path):
    output = tmp_path / "run"
    config = write_config(tmp_path, train={"max_steps": 2, "checkpoint_every": 2},
                          model={"freeze_fusion": True}, tabd={"mode": "off"})
    config.write_text(config.read_text() + "decode_scale_min: 0.5\n")
    train_vae(config, output)
    trained = load_file(output / "checkpoints" / "step-0000002" / "trainable_0.safetensors")
    assert trained and not any(k.startswith("fusion.") for k in trained)
    assert all("lora" in k for k in trained)


@pytest.mark.parametrize(("extra", "needle"), [("decode_scale_min: 0.0", "must be in"),
                                              ("decode_scale_min: 1.5", "must be in"),
                                              ("decode_scale_min: 0.5\nrendering: false", "rendering: true")])
def test_bad_decode_scale_min_is_refused(tmp_path, extra, needle):
    config = write_config(tmp_path)
    config.write_text(config.read_text() + extra + "\n")
    with pytest.raises(WanAlphaError, match=needle):
        train_vae(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()
