from dataclasses import dataclass, field

import pytest

from wan_alpha.config import CONFIG_DIR, load_config, save_config
from wan_alpha.errors import WanAlphaError


@dataclass
class Inner:
    lr: float = 1e-4
    steps: int = 10


@dataclass
class Outer:
    name: str = "run"
    optim: Inner = field(default_factory=Inner)


def test_nested_config_round_trip_with_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\noptim:\n  lr: 0.5\n")
    config = load_config(Outer, path, overrides={"optim.steps": 3})
    assert config == Outer(name="x", optim=Inner(lr=0.5, steps=3))
    save_config(config, tmp_path / "resolved.yaml")
    assert load_config(Outer, tmp_path / "resolved.yaml") == config


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("optim:\n  lrr: 0.5\n")
    with pytest.raises(WanAlphaError, match="unknown key.*lrr"):
        load_config(Outer, path)


def test_missing_config_lists_shipped_ones():
    with pytest.raises(WanAlphaError, match="not found"):
        load_config(Outer, "no_such_config")


@dataclass
class WithOptional:
    section: Inner | None = None


def test_optional_section_is_built_from_its_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("section:\n  steps: 4\n")
    assert load_config(WithOptional, path).section == Inner(steps=4)
    path.write_text("section:\n  stepz: 4\n")
    with pytest.raises(WanAlphaError, match="section.*stepz"):
        load_config(WithOptional, path)


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
def test_every_shipped_config_loads_into_its_trainer(name):
    from wan_alpha.train.dit import DiTTrainConfig
    from wan_alpha.train.vae import VAETrainConfig

    cls = VAETrainConfig if name.startswith("vae_") else DiTTrainConfig
    assert name.startswith(("vae_", "dit_")), f"{name}: a shipped config names its stage (vae_* or dit_*)"
    assert isinstance(load_config(cls, name), cls)
