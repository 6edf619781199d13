"""The embedded default model loads from the package and generates a (1-step, tiny) transparent clip."""

import json
from pathlib import Path

import pytest
import torch

from wan_alpha import EMBEDDED_MODEL
from wan_alpha.cli import main
from wan_alpha.io import read_video
from wan_alpha.pipelines import WanAlphaPipeline

pytestmark = pytest.mark.usefixtures("one_thread")


def test_shipped_model_is_small_and_names_its_text_encoder():
    index = json.loads((EMBEDDED_MODEL / "model_index.json").read_text())
    assert index["text_encoder"] == [None, None] and index["text_encoder_kind"] == "minilm"
    size = sum(p.stat().st_size for p in EMBEDDED_MODEL.rglob("*") if p.is_file())
    assert size < 60e6
    card = EMBEDDED_MODEL / "README.md"  # the model card travels with the weights, the same as docs/model_card.md
    docs = Path(__file__).resolve().parents[1] / "docs" / "model_card.md"
    assert card.is_file() and (not docs.exists() or card.read_text() == docs.read_text())


def test_shipped_model_generates_a_clip_with_a_varying_alpha():
    pipe = WanAlphaPipeline.from_pretrained(EMBEDDED_MODEL)
    pipe.set_progress_bar_config(disable=True)
    out = pipe("a red balloon floating up", num_inference_steps=1, num_frames=5, height=64, width=64,
               generator=torch.Generator().manual_seed(0))
    assert out.rgb.shape == (1, 3, 5, 64, 64) and out.alpha.shape == (1, 1, 5, 64, 64)
    assert torch.isfinite(out.rgb).all() and out.alpha.std() > 0.01  # 0.17 measured; an empty alpha gives 0


def test_generate_without_model_uses_the_shipped_one(tmp_path):
    target = tmp_path / "clip.zip"
    assert main(["generate", "a glowing orb", "-o", str(target), "--steps", "1", "--frames", "5", "--size", "64x64"]) == 0
    video = read_video(target)
    assert video.frames.shape == (5, 64, 64, 4)
