"""The reference release's RGBA VAE files: its ``decoder.bin`` (fusion block + both decoders' LoRA, beside frozen
copies of Wan2.1's VAE and, in a raw training checkpoint, training-only modules) and the ComfyUI release's
merged RGB and alpha decoders, loaded onto :class:`~wan_alpha.models.rgba_vae.RGBAVAE`."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import torch
from diffusers import AutoencoderKLWan

from ..errors import WanAlphaError
from .key_maps import reference_fusion_name, wan_vae_names
from .rgba_vae import RGBAVAE
from .state_dicts import CheckpointMismatch, LoadReport, check_keys, read_state_dict, shapes

REFERENCE_VAE_LORA_ALPHA = 1.0
"""The reference trains its decoder LoRA with ``lora_alpha=1.0`` (scale ``1 / rank``)."""
TRAINING_ONLY_PREFIXES = ("pipe.", "perceptual_loss.", "sobel_edge_loss.")
"""Modules of the reference VAE trainer (frozen DiT, loss networks) a raw training checkpoint may hold."""

_FROZEN = ("encoder.", "decoder.", "conv1.", "conv2.")
"""Parts of the reference's two Wan VAEs that stay frozen in training (equal to ``Wan2.1_VAE.pth``)."""
_LORA_KEY = re.compile(r"(?P<module>.+?)(?:\.conv3D)?\.(?P<kind>lora_A|lora_B)(?:\.default)?\.weight")


def _decoder_lora_target(rest: str) -> str | None:
    """``decoder.upsamples.0.residual.2.conv3D.lora_A.default.weight`` -> our
    ``decoder.up_blocks.0.resnets.0.conv1.lora_A.default.weight`` (``None`` if not a decoder LoRA key)."""
    match = _LORA_KEY.fullmatch(rest)
    if not match or not match["module"].startswith("decoder."):
        return None
    module = wan_vae_names([match["module"] + ".weight"])[match["module"] + ".weight"][: -len(".weight")]
    return f"{module}.{match['kind']}.default.weight"


def _split_reference_vae(raw: Mapping[str, torch.Tensor], report: LoadReport, fusion_layers: int) -> tuple[dict, dict]:
    """Sort the reference file's keys into our fusion / LoRA names; everything else is reported or unknown."""
    fusion, lora, unknown = {}, {}, []
    ours = {"vae_fgr.": "vae_rgb.", "vae_pha.": "vae_alpha."}
    for key, value in raw.items():
        if key.startswith("middle."):
            name = reference_fusion_name(key[len("middle."):], fusion_layers)
            (fusion.__setitem__(f"fusion.{name}", value) if name else unknown.append(key))
        elif key[:8] in ours and (target := _decoder_lora_target(key[8:])):
            lora[ours[key[:8]] + target] = value
        elif key[:8] in ours and key[8:].startswith(_FROZEN) and "lora_" not in key:
            report.ignore("frozen Wan2.1 VAE weights (taken from the base VAE instead)", key)
        elif key.startswith(TRAINING_ONLY_PREFIXES):
            report.ignore("training-only weights", key)
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointMismatch("reference VAE file", unexpected=unknown,
                                 hint="expected middle.* (fusion) and vae_fgr./vae_pha. decoder LoRA keys")
    return fusion, lora


def load_reference_rgba_vae(base_vae: AutoencoderKLWan, path: str | os.PathLike, fusion_layers: int = 2,
                            require_fusion: bool = True) -> tuple[RGBAVAE, LoadReport]:
    """An :class:`RGBAVAE` from the base Wan VAE plus the reference Wan-Alpha VAE file (``decoder.bin``):
    fusion block (``middle.block.*``, the reference "Mapping" layout, renamed) and both decoders' LoRA
    (``vae_fgr.`` -> RGB decoder, ``vae_pha.`` -> alpha decoder; rank read from the file, ``lora_alpha`` 1.0).

    Without ``require_fusion`` a file holding only decoder LoRA (enough to generate) loads too; the report
    then says the encoder's fusion block is untrained.
    """
    report = LoadReport(str(path))
    fusion, lora = _split_reference_vae(read_state_dict(path), report, fusion_layers)
    ranks = {v.shape[0] for k, v in lora.items() if ".lora_A." in k}
    if len(ranks) != 1:
        raise WanAlphaError(f"{path}: expected decoder LoRA weights of one rank, found ranks {sorted(ranks) or 'none'}")
    vae = RGBAVAE.from_base(base_vae, lora_rank=ranks.pop(), lora_alpha=REFERENCE_VAE_LORA_ALPHA, fusion_layers=fusion_layers)
    expected = {k: v for k, v in shapes(vae).items() if k.startswith("fusion.") or ".lora_" in k}
    optional = [] if require_fusion or fusion else [k for k in expected if k.startswith("fusion.")]
    if optional:
        report.ignore("fusion weights absent: encode() is untrained, decode() is complete", "fusion.*")
    state_dict = {**fusion, **lora}
    check_keys(str(path), expected, state_dict, optional=optional, hint="reference Wan-Alpha VAE layout")
    vae.load_state_dict({k: v.to(vae.dtype) for k, v in state_dict.items()}, strict=False)
    report.used = len(state_dict)
    return vae, report


def load_merged_decoder(vae: RGBAVAE, which: str, path: str | os.PathLike) -> LoadReport:
    """Replace the ``"rgb"`` or ``"alpha"`` decoder of a LoRA-free ``vae`` with a merged full Wan VAE file
    (the ComfyUI release: ``wan_alpha_2.1_vae_{rgb,alpha}_channel.safetensors``, original or diffusers layout).
    Its encoder keys are reported, not used: the RGBA encoder is the base trunk plus the fusion block."""
    if vae.config.lora_rank:
        raise WanAlphaError("merge the VAE's LoRA before replacing a decoder with a merged file")
    decoder = {"rgb": vae.vae_rgb, "alpha": vae.vae_alpha}[which]
    report = LoadReport(str(path))
    raw = {k.removeprefix("first_stage_model.").removeprefix("vae."): v for k, v in read_state_dict(path).items()}
    if "decoder.conv1.weight" in raw:
        raw = {new: raw[old] for old, new in wan_vae_names(raw).items()}
    state_dict = {}
    for key, value in raw.items():
        if key.startswith(("encoder.", "quant_conv.")):
            report.ignore("encoder weights (the RGBA VAE encodes with its own trunk and fusion block)", key)
        else:
            state_dict[key] = value.to(decoder.dtype)
    check_keys(str(path), shapes(decoder), state_dict, hint=f"a full Wan2.1 VAE whose decoder is the {which} decoder")
    decoder.load_state_dict(state_dict)
    report.used = len(state_dict)
    return report
