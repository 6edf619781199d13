"""The real-scale model from local files: Wan2.1's DiT, VAE and UMT5 with the Wan-Alpha VAE file and adapters
merged in, as the components of a :class:`~wan_alpha.pipelines.WanAlphaPipeline` (see ``docs/gpu.md``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from ..errors import WanAlphaError
from ..models.adapters import merge_adapter_file
from ..models.quiet_loading import quiet_loading
from ..models.reference_vae import load_merged_decoder, load_reference_rgba_vae
from ..models.rgba_vae import RGBAVAE
from ..models.state_dicts import LoadReport
from ..models.wan_loaders import load_wan_text_encoder, load_wan_transformer, load_wan_vae


@dataclass
class WanAlphaFiles:
    """Local files of a real-scale Wan-Alpha setup (what ``wan-alpha generate --model-dir ...`` takes)."""

    model_dir: str | os.PathLike
    vae_file: str | os.PathLike | None = None
    dora_file: str | os.PathLike | None = None
    dora_strength: float = 1.0
    distill_lora: str | os.PathLike | None = None
    distill_strength: float = 1.0
    rgb_decoder: str | os.PathLike | None = None
    alpha_decoder: str | os.PathLike | None = None

    def check(self) -> None:
        """Every named file exists (before anything heavy loads)."""
        if not Path(self.model_dir).is_dir():
            raise WanAlphaError(f"--model-dir {self.model_dir} is not a folder: give the local Wan2.1-T2V-14B folder")
        for flag, value in (("--vae-file", self.vae_file), ("--dora-file", self.dora_file),
                            ("--distill-lora", self.distill_lora), ("--rgb-decoder", self.rgb_decoder),
                            ("--alpha-decoder", self.alpha_decoder)):
            if value is not None and not Path(value).is_file():
                raise WanAlphaError(f"{flag} {value} does not exist")
        if self.vae_file is None and (self.rgb_decoder is None or self.alpha_decoder is None):
            raise WanAlphaError("give --vae-file (the Wan-Alpha VAE decoder.bin) or both --rgb-decoder and --alpha-decoder")


def load_wan_alpha_components(files: WanAlphaFiles, dtype: torch.dtype = torch.bfloat16,
                              merge_device: str | torch.device | None = None,
                              vae_dtype: torch.dtype = torch.float32) -> tuple[dict, list[LoadReport]]:
    """Text encoder, DiT (DoRA and distill LoRA merged) in ``dtype``, RGBA VAE (LoRA merged) in ``vae_dtype``
    (float32 by default: the reference decodes in float32; 0.9 GB of weights): the inference graph is the
    base models'. ``merge_device``: where the DiT is moved before the adapters are merged into it (it stays
    there). Returns the components (``tokenizer``, ``text_encoder``, ``transformer``, ``vae``) and the
    load reports."""
    files.check()
    reports = []
    adapters = [(path, strength) for path, strength in ((files.dora_file, files.dora_strength),
                                                        (files.distill_lora, files.distill_strength)) if path is not None]
    decoders = [(which, path) for which, path in (("rgb", files.rgb_decoder), ("alpha", files.alpha_decoder))
                if path is not None]
    # one bar over the parts (minutes for a 14B model) instead of the libraries' per-file ones
    with quiet_loading(), tqdm(total=3 + len(adapters) + len(decoders), desc="load model", unit="part") as bar:
        bar.set_postfix_str("text encoder")
        text = load_wan_text_encoder(files.model_dir, dtype)
        bar.update()
        bar.set_postfix_str("DiT")
        transformer = load_wan_transformer(files.model_dir, dtype)
        if merge_device is not None:  # peft merges the adapters where the layers are
            transformer.to(merge_device)
        bar.update()
        for path, strength in adapters:
            bar.set_postfix_str(Path(path).name)
            reports.append(merge_adapter_file(transformer, path, strength))
            bar.update()
        bar.set_postfix_str("VAE")
        base = load_wan_vae(files.model_dir)
        if files.vae_file is not None:
            vae, report = load_reference_rgba_vae(base, files.vae_file, require_fusion=False)
            reports.append(report)
            vae.merge_lora()
        else:
            vae = RGBAVAE.from_base(base, lora_rank=0)
            reports.append(LoadReport("RGBA VAE", ignored={"fusion block not given (no --vae-file): encode() is "
                                                           "untrained, decode() uses the merged decoders": ["fusion.*"]}))
        bar.update()
        for which, path in decoders:
            bar.set_postfix_str(Path(path).name)
            reports.append(load_merged_decoder(vae, which, path))
            bar.update()
    vae = nn.Module.to(vae, vae_dtype)  # ModelMixin.to warns on every dtype cast, even with nothing to keep in float32
    components = dict(tokenizer=text.tokenizer, text_encoder=text.model, transformer=transformer,
                      vae=vae.eval(), max_sequence_length=text.max_length)
    return components, reports
