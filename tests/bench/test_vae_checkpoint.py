"""bench/vae_checkpoint.py: a run's final RGBA VAE with a checkpoint's trainable tensors put back."""

import pytest
import torch
from safetensors.torch import save_file

from tests.pipelines.tiny import tiny_vae
from wan_alpha.errors import WanAlphaError
from wan_alpha.train.loop import trainable_state_dict


@pytest.fixture(scope="module")
def bench(load_bench_script):
    return load_bench_script("vae_checkpoint")


def test_checkpoint_tensors_replace_the_final_ones_and_nothing_else(bench, tmp_path):
    final = tiny_vae()
    final.save_pretrained(tmp_path / "final")
    name = next(n for n in final.state_dict() if n.startswith("fusion."))
    frozen = next(n for n in final.state_dict() if n.startswith("encoder."))
    earlier = final.state_dict()[name] + 1.0
    (tmp_path / "step-0000100").mkdir()
    checkpoint = {**trainable_state_dict(final), name: earlier.contiguous()}
    save_file(checkpoint, tmp_path / "step-0000100" / "trainable_0.safetensors")

    vae = bench.vae_at_checkpoint(tmp_path / "final", tmp_path / "step-0000100")
    assert torch.equal(vae.state_dict()[name], earlier)
    assert torch.equal(vae.state_dict()[frozen], final.state_dict()[frozen])


def test_a_foreign_or_missing_checkpoint_is_refused(bench, tmp_path):
    tiny_vae().save_pretrained(tmp_path / "final")
    with pytest.raises(WanAlphaError, match="no trainable_0"):
        bench.vae_at_checkpoint(tmp_path / "final", tmp_path)
    save_file({"not.a.tensor.of.this.vae": torch.zeros(1)}, tmp_path / "trainable_0.safetensors")
    with pytest.raises(WanAlphaError, match="unexpected not.a.tensor.of.this.vae"):
        bench.vae_at_checkpoint(tmp_path / "final", tmp_path)
