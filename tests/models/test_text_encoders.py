import pytest
import torch
from transformers import UMT5Config, UMT5EncoderModel

from wan_alpha.errors import WanAlphaError
from wan_alpha.models.text_encoders import clean_prompt, load_minilm, load_text_encoder, load_umt5


@pytest.fixture(scope="module")
def minilm():
    return load_minilm(max_length=16)


def test_minilm_gives_padded_384d_token_states(minilm):
    emb, mask = minilm.encode(["a puff of white smoke", "glass"])
    assert emb.shape == (2, 16, 384) and mask.shape == (2, 16)
    assert minilm.dim == 384
    n = int(mask[0].sum())
    assert 3 < n < 16
    assert torch.all(emb[0, n:] == 0) and emb[0, :n].abs().sum(-1).min() > 0
    # deterministic, and different prompts give different states
    again, _ = minilm.encode(["a puff of white smoke"])
    assert torch.equal(again[0], emb[0])
    assert not torch.allclose(emb[0], emb[1])


def test_long_prompt_is_truncated_with_a_warning(minilm):
    with pytest.warns(UserWarning, match="truncated"):
        emb, mask = minilm.encode(["fire " * 40])
    assert emb.shape == (1, 16, 384) and mask.sum() == 16


def test_empty_prompt_is_refused_except_for_the_unconditional_branch(minilm):
    with pytest.raises(WanAlphaError, match="empty"):
        minilm.encode(["   "])
    emb, mask = minilm.encode([""], allow_empty=True)
    assert emb.shape == (1, 16, 384) and mask.sum() == 2  # [CLS] [SEP]


def test_umt5_from_a_local_folder_in_bf16(tmp_path, minilm):
    # a tiny UMT5 encoder (random weights) with any tokenizer of matching vocabulary
    config = UMT5Config(vocab_size=minilm.tokenizer.vocab_size, d_model=32, d_kv=8, num_heads=4,
                        d_ff=64, num_layers=2, relative_attention_num_buckets=8)
    UMT5EncoderModel(config).save_pretrained(tmp_path / "text_encoder")
    minilm.tokenizer.save_pretrained(tmp_path / "tokenizer")
    enc = load_umt5(tmp_path, max_length=12)
    assert enc.model.dtype == torch.bfloat16 and enc.dim == 32
    emb, mask = enc.encode(["a glass sphere"])
    assert emb.shape == (1, 12, 32) and emb.dtype == torch.bfloat16
    with pytest.warns(UserWarning, match="truncated"):
        enc.encode(["smoke " * 20])


def test_bad_text_encoder_choices(tmp_path):
    with pytest.raises(WanAlphaError, match="unknown text encoder"):
        load_text_encoder("clip")
    with pytest.raises(WanAlphaError, match="needs a path"):
        load_text_encoder("umt5")
    with pytest.raises(WanAlphaError, match="does not exist"):
        load_umt5(tmp_path / "nope")
    with pytest.raises(WanAlphaError, match="could not load"):
        load_umt5(tmp_path)


@pytest.mark.parametrize("raw, clean", [
    ("a cat &amp; a dog，“fire”  at\u3000night", 'a cat & a dog,"fire" at night'),  # entities, fullwidth, curly
    ("smoke &amp;amp; ash\n\tover ‘glass’", "smoke & ash over 'glass'"),  # unescaped twice, as Wan does
    ("cafÃ© neon sign", "café neon sign"),  # mojibake repaired
    ("一只猫，在草地上奔跑。", "一只猫,在草地上奔跑。"),
])
def test_prompts_are_cleaned_as_wan_cleans_them(raw, clean, minilm):
    assert clean_prompt(raw) == clean
    # the encoder sees the cleaned prompt: the same token ids, so the same states
    assert torch.equal(minilm.encode([raw])[0], minilm.encode([clean])[0])
