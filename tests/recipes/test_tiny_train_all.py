"""The whole tiny recipe at toy sizes (`python -m recipes.tiny train`): every stage runs, resumes, logs its time and
exports a model; the shipped stage configs parse into their trainers."""

import json

import pytest
import torch
import yaml
from safetensors.torch import load_file

from recipes.tiny import config_path
from recipes.tiny.__main__ import main
from recipes.tiny.base_dit import BaseDiTConfig, train_base_dit
from recipes.tiny.base_vae import BaseVAETrainConfig
from recipes.tiny.rgba_vae import TinyRGBAVAEConfig
from recipes.tiny.train_all import TinyAllConfig, train_tiny_all
from tests.tiny import DATA, DIT_Z4, VAE_Z4
from wan_alpha.config import load_config
from wan_alpha.errors import WanAlphaError
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.train.dit import DiTTrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")

VAE = VAE_Z4
DIT = {**DIT_Z4, "text_dim": 384}  # MiniLM's width
TRAIN = {"max_steps": 2, "batch_size": 1, "learning_rate": 1.0e-3, "checkpoint_every": 1, "validate_every": 2,
         "log_every": 1}
STAGES = {
    "base_vae": {"vae_config": VAE, "data": DATA, "stats_clips": 2, "train": TRAIN},
    "base_vae_long": {"init_from": "", "data": {**DATA, "synthetic": {**DATA["synthetic"], "frames": 9}},
                      "stats_clips": 2, "train": TRAIN},
    "base_vae_128": {"init_from": "",
                     "data": {**DATA, "synthetic": {**DATA["synthetic"], "height": 48, "width": 48}},
                     "stats_clips": 2, "train": TRAIN},
    "base_dit": {"dit_config": DIT, "mu_shift": 0.0,
                 "text_encoder": {"kind": "minilm", "max_length": 16}, "data": DATA, "train": TRAIN},
    "rgba_vae": {"model": {"base_vae": "", "lora_rank": 2, "fusion_layers": 1}, "data": DATA,
                 "tabd": {"mode": "paper", "weight": 0.1, "dit": "", "text_encoder": "minilm"}, "train": TRAIN},
    "rgba_vae_long": {"model": {"init_from": ""},
                      "data": {**DATA, "synthetic": {**DATA["synthetic"], "height": 64, "width": 64}},
                      "tabd": {"mode": "paper", "weight": 0.1, "dit": "", "text_encoder": "minilm"}, "train": TRAIN},
    "rgba_vae_shrink": {"model": {"init_from": ""}, "decode_scale_min": 0.75,
                        "data": {**DATA, "synthetic": {**DATA["synthetic"], "height": 64, "width": 64}},
                        "tabd": {"mode": "paper", "weight": 0.1, "dit": "", "text_encoder": "minilm"},
                        "train": {**TRAIN, "lr_schedule": "cosine"}},
    "dora": {"dit_config": None, "dora": {"r": 2, "alpha": 2}, "mu_shift": 1.0, "fps": 8.0,
             "text_encoder": {"kind": "minilm", "max_length": 16}, "data": DATA, "train": TRAIN,
             "samples": {"steps": 3}},
}


def write_recipe(tmp_path):
    names = {}
    for stage, config in STAGES.items():
        names[stage] = str(tmp_path / f"{stage}.yaml")
        (tmp_path / f"{stage}.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "all.yaml").write_text(yaml.safe_dump(names))
    return tmp_path / "all.yaml"


def test_tiny_all_trains_every_stage_and_exports_a_small_model(tmp_path):
    recipe, out = write_recipe(tmp_path), tmp_path / "run"
    model = train_tiny_all(out, config=recipe)
    times = json.loads((out / "stages.json").read_text())
    assert list(times) == ["base_vae", "base_vae_long", "base_vae_128", "base_dit", "rgba_vae", "rgba_vae_long",
                           "rgba_vae_shrink", "dora", "model"]
    long_run = yaml.safe_load((out / "base_vae_long" / "config.yaml").read_text())
    assert long_run["init_from"] == str(out / "base_vae" / "vae")  # continued, not rebuilt
    assert yaml.safe_load((out / "base_vae_128" / "config.yaml").read_text())["init_from"] == str(
        out / "base_vae_long" / "vae")
    assert yaml.safe_load((out / "base_dit" / "config.yaml").read_text())["base_vae"] == str(
        out / "base_vae_128" / "vae")
    assert yaml.safe_load((out / "rgba_vae" / "config.yaml").read_text())["model"]["base_vae"] == str(
        out / "base_vae_128" / "vae")
    long_rgba = yaml.safe_load((out / "rgba_vae_long" / "config.yaml").read_text())["model"]
    assert long_rgba["init_from"] == str(out / "rgba_vae" / "rgba_vae") and long_rgba["base_vae"] is None
    shrink_run = yaml.safe_load((out / "rgba_vae_shrink" / "config.yaml").read_text())
    assert shrink_run["model"]["init_from"] == str(out / "rgba_vae_long" / "rgba_vae")
    assert shrink_run["tabd"]["dit"] == str(out / "base_dit" / "transformer")
    assert yaml.safe_load((out / "dora" / "config.yaml").read_text())["rgba_vae"] == str(out / "rgba_vae_shrink" / "rgba_vae")
    assert "| total |" in (out / "stages.md").read_text()
    index = json.loads((model / "model_index.json").read_text())
    assert index["text_encoder"] == [None, None] and index["text_encoder_kind"] == "minilm"
    assert index["mu_shift"] == 1.0 and index["num_inference_steps"] == 3 and index["fps"] == 8.0
    stored = load_file(next((model / "transformer").glob("*.safetensors")))
    assert {t.dtype for t in stored.values()} == {torch.float16}  # shipped small; loads as float32
    pipe = WanAlphaPipeline.from_pretrained(model)
    assert pipe.vae.config.lora_rank == 0
    result = pipe("a red ball", num_inference_steps=1, generator=torch.Generator().manual_seed(0))
    assert result.rgb.shape == (1, 3, 5, 32, 32) and result.alpha.shape == (1, 1, 5, 32, 32)

    assert main(["train", "--output", str(out), "--config", str(recipe)]) == 2  # not empty, no --resume
    assert main(["train", "--output", str(out), "--config", str(recipe), "--resume"]) == 0  # all done


def test_base_dit_without_base_vae_is_a_user_error(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(STAGES["base_dit"]))
    with pytest.raises(WanAlphaError, match="base_vae"):
        train_base_dit(tmp_path / "c.yaml", tmp_path / "run")
    assert not (tmp_path / "run").exists()


_STAGE_TRAINERS = {  # the overrides are the folders the recipe fills in from earlier stages
    "base_vae": (BaseVAETrainConfig, {}),
    "base_vae_long": (BaseVAETrainConfig, {"init_from": "VAE"}),
    "base_vae_128": (BaseVAETrainConfig, {"init_from": "VAE"}),
    "base_dit": (BaseDiTConfig, {"base_vae": "VAE"}),
    "rgba_vae": (TinyRGBAVAEConfig, {"model.base_vae": "VAE", "tabd.dit": "DIT"}),
    "rgba_vae_long": (TinyRGBAVAEConfig, {"model.init_from": "RGBA_VAE", "tabd.dit": "DIT"}),
    "rgba_vae_shrink": (TinyRGBAVAEConfig, {"model.init_from": "RGBA_VAE", "tabd.dit": "DIT"}),
    "dora": (DiTTrainConfig, {"rgba_vae": "RGBA_VAE", "base_dit": "DIT"}),
}


def _assert_stage_configs_parse(recipe: TinyAllConfig) -> None:
    """Each stage config the recipe names loads into its trainer."""
    for stage, (cls, overrides) in _STAGE_TRAINERS.items():
        name = getattr(recipe, stage)
        if name is not None:
            assert isinstance(load_config(cls, config_path(name), overrides), cls), stage


@pytest.mark.parametrize("name", ["tiny_all", "tiny_all_gpu"])
def test_shipped_recipe_stage_configs_parse_into_their_trainers(name):
    # A typo in a shipped stage config would only surface hours into the recipe.
    recipe = load_config(TinyAllConfig, config_path(name))
    assert recipe.rgba_vae_long is not None  # both recipes have the 128x128 RGBA VAE stage
    # the GPU stages only where named
    assert (recipe.base_vae_128 is not None) == (recipe.rgba_vae_shrink is not None) == (name == "tiny_all_gpu")
    _assert_stage_configs_parse(recipe)
