"""Loading real checkpoints from local files (SPEC section 5): Wan2.1 in diffusers or original layout, the
reference Wan-Alpha VAE file, DiT DoRA / step-distillation LoRA files, and ComfyUI-merged decoders.

Rules kept everywhere here:

* safe formats only: safetensors, or ``torch.load(weights_only=True)`` for ``.pth`` / ``.bin`` / ``.ckpt``;
* every key of a file is either used, or reported: keys that are frozen copies of weights we take from
  elsewhere (the reference VAE file carries its base decoder weights) or training-only state are listed
  in the :class:`LoadReport`; anything unknown, missing or mis-shaped raises :class:`CheckpointMismatch`
  naming the keys;
* big models are built on the ``meta`` device and the weights assigned, so a 14B DiT never exists twice.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
from accelerate import init_empty_weights
from diffusers import AutoencoderKLWan, WanTransformer3DModel
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import AutoTokenizer, UMT5Config, UMT5EncoderModel

from ..errors import WanAlphaError
from .dit import build_dit
from .key_maps import reference_fusion_name, umt5_name, wan_dit_names, wan_vae_names
from .rgba_vae import RGBAVAE
from .text_encoders import DEFAULT_MAX_LENGTH, TextEncoder, load_umt5

ORIGINAL_VAE_FILE = "Wan2.1_VAE.pth"
ORIGINAL_T5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"
ORIGINAL_TOKENIZER_DIR = "google/umt5-xxl"
REFERENCE_VAE_LORA_ALPHA = 1.0
"""The reference trains its decoder LoRA with ``lora_alpha=1.0`` (scale ``1 / rank``)."""
TRAINING_ONLY_PREFIXES = ("pipe.", "perceptual_loss.", "sobel_edge_loss.")
"""Modules of the reference VAE trainer (frozen DiT, loss networks) a raw training checkpoint may hold."""
_SHOWN = 8


class CheckpointMismatch(WanAlphaError):
    """A file does not fit the model: the full key lists are kept on the exception, the message names the first few."""

    def __init__(self, source: str, missing=(), unexpected=(), mismatched=(), hint: str = "") -> None:
        self.missing, self.unexpected, self.mismatched = sorted(missing), sorted(unexpected), sorted(mismatched)
        parts = [f"{label} [{_names(keys)}]" for label, keys in (
            ("missing keys", self.missing), ("unknown keys", self.unexpected), ("wrong shapes", self.mismatched)) if keys]
        super().__init__(f"{source} does not match the model: {'; '.join(parts)}" + (f" ({hint})" if hint else ""))


def _names(keys: list[str]) -> str:
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


@dataclass
class LoadReport:
    """What a loader did with a file: keys used, and keys deliberately not used, grouped by reason."""

    source: str
    used: int = 0
    ignored: dict[str, list[str]] = field(default_factory=dict)

    def ignore(self, reason: str, key: str) -> None:
        self.ignored.setdefault(reason, []).append(key)

    def summary(self) -> str:
        skipped = "; ".join(f"{len(keys)} {reason} (e.g. {keys[0]})" for reason, keys in self.ignored.items())
        return f"{self.source}: {self.used} tensors used" + (f"; not used: {skipped}" if skipped else "")


# --------------------------------------------------------------------------- files
def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors of a ``.safetensors`` file, or of a ``.pth/.pt/.bin/.ckpt`` file read with ``weights_only=True``
    (a Lightning ``{"state_dict": ...}`` wrapper is unwrapped)."""
    path = Path(path)
    if not path.is_file():
        raise WanAlphaError(f"checkpoint file {path} does not exist")
    if path.suffix == ".safetensors":
        return load_file(path)
    if path.suffix not in (".pth", ".pt", ".bin", ".ckpt"):
        raise WanAlphaError(f"{path}: unknown checkpoint format {path.suffix!r}: give a .safetensors, .pth, .pt, .bin or .ckpt file")
    try:
        data = _torch_load(path)
    except Exception as err:  # pickle refusing a non-tensor object is the common case
        raise WanAlphaError(f"{path} cannot be read safely (torch.load weights_only=True): {err}") from err
    data = data.get("state_dict", data) if isinstance(data, dict) else data
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WanAlphaError(f"{path} does not hold a flat dict of tensors")
    return data


def _torch_load(path: Path):
    """``weights_only`` always; memory-mapped when the file allows it (zip format), since a 11 GB T5 need not be read twice."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as err:
        if "mmap" not in str(err):
            raise
        return torch.load(path, map_location="cpu", weights_only=True)


def safetensors_metadata(path: str | os.PathLike) -> dict[str, str]:
    with safe_open(path, framework="pt") as f:
        return f.metadata() or {}


def check_keys(source: str, expected: Mapping[str, torch.Size], given: Mapping[str, torch.Tensor],
               optional: Iterable[str] = (), hint: str = "") -> None:
    """Raise :class:`CheckpointMismatch` unless ``given`` has exactly the ``expected`` keys (``optional``
    ones may be absent) with the expected shapes."""
    optional = set(optional)
    missing = [k for k in expected if k not in given and k not in optional]
    unexpected = [k for k in given if k not in expected]
    mismatched = [f"{k} {tuple(v.shape)} != {tuple(expected[k])}" for k, v in given.items()
                  if k in expected and v.shape != expected[k]]
    if missing or unexpected or mismatched:
        raise CheckpointMismatch(source, missing, unexpected, mismatched, hint)


def _shapes(module: nn.Module) -> dict[str, torch.Size]:
    return {k: v.shape for k, v in module.state_dict().items()}


def _fp32_names(model: nn.Module) -> tuple[str, ...]:
    return tuple(getattr(model, "_keep_in_fp32_modules", None) or ())


def assign_state_dict(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str,
                      dtype: torch.dtype | None = None, hint: str = "") -> nn.Module:
    """Strictly load ``state_dict`` into a (possibly ``meta``) model by assignment, casting to ``dtype``
    except the modules the model keeps in float32 (diffusers' ``_keep_in_fp32_modules``: norms, time embedder)."""
    check_keys(source, _shapes(model), state_dict, hint=hint)
    keep = _fp32_names(model)
    if dtype is not None:
        state_dict = {k: v.to(torch.float32 if keep and set(k.split(".")) & set(keep) else dtype)
                      for k, v in state_dict.items()}
    model.load_state_dict(state_dict, strict=True, assign=True)
    return model.eval()


# --------------------------------------------------------------------------- Wan2.1 DiT
def _is_diffusers_dir(path: Path, component: str) -> Path | None:
    for folder in (path / component, path):
        config = folder / "config.json"
        if config.is_file() and "_diffusers_version" in config.read_text() and "dim" not in json.loads(config.read_text()):
            return folder
    return None


def _original_dit_files(model_dir: Path) -> list[Path]:
    files = sorted(model_dir.glob("diffusion_pytorch_model*.safetensors"))
    if not files:
        raise WanAlphaError(
            f"{model_dir} has neither a diffusers transformer/ folder nor original diffusion_pytorch_model*.safetensors: "
            "give the local Wan2.1-T2V folder (diffusers or original layout)"
        )
    return files


def dit_config_from_original(config: dict, text_dim: int) -> dict:
    """Wan's own ``config.json`` (``dim``, ``num_heads``, ...) -> ``WanTransformer3DModel`` arguments."""
    if config.get("model_type", "t2v") != "t2v":
        raise WanAlphaError(f"only text-to-video Wan2.1 models are supported, got model_type {config['model_type']!r}")
    try:
        return dict(num_attention_heads=config["num_heads"], attention_head_dim=config["dim"] // config["num_heads"],
                    in_channels=config["in_dim"], out_channels=config["out_dim"], text_dim=text_dim,
                    freq_dim=config["freq_dim"], ffn_dim=config["ffn_dim"], num_layers=config["num_layers"],
                    eps=config.get("eps", 1e-6))
    except KeyError as err:
        raise WanAlphaError(f"Wan config.json lacks {err}: is this an original Wan2.1 model folder?") from err


def load_wan_transformer(model_dir: str | os.PathLike, dtype: torch.dtype = torch.bfloat16) -> WanTransformer3DModel:
    """The Wan2.1 DiT from a local folder: diffusers layout (``transformer/``) or original layout
    (``config.json`` + ``diffusion_pytorch_model*.safetensors`` with ``blocks.N.self_attn.q`` keys)."""
    model_dir = Path(model_dir)
    if _is_diffusers_dir(model_dir, "transformer"):
        return build_dit(path=model_dir, dtype=dtype)
    files = _original_dit_files(model_dir)
    if not (model_dir / "config.json").is_file():
        raise WanAlphaError(f"{model_dir} has DiT weights but no config.json next to them")
    state_dict = {}
    for file in files:  # shard by shard, cast as we go: peak RAM ~ one model in `dtype`
        for key, value in read_state_dict(file).items():
            state_dict[key] = value.to(dtype, copy=True)  # owned and aligned, not a view of the file buffer
    state_dict = {new: state_dict[old] for old, new in wan_dit_names(state_dict).items()}
    text_weight = state_dict.get("condition_embedder.text_embedder.linear_1.weight")
    config = dit_config_from_original(json.loads((model_dir / "config.json").read_text()),
                                      text_weight.shape[1] if text_weight is not None else 4096)
    with init_empty_weights():
        model = WanTransformer3DModel(**config)
    return assign_state_dict(model, state_dict, f"{model_dir} (original Wan DiT)", dtype)


# --------------------------------------------------------------------------- Wan2.1 VAE
def _vae_widths(state_dict: Mapping[str, torch.Tensor]) -> dict:
    """``base_dim`` and ``z_dim`` read off the weights (Wan2.1: 96 and 16); the rest of the layout is Wan2.1's."""
    conv_in = state_dict.get("encoder.conv_in.weight", state_dict.get("decoder.conv_out.weight"))
    post_quant = state_dict.get("post_quant_conv.weight")
    widths = {}
    if conv_in is not None:
        widths["base_dim"] = conv_in.shape[0] if "encoder.conv_in.weight" in state_dict else conv_in.shape[1]
    if post_quant is not None:
        widths["z_dim"] = post_quant.shape[0]
    return widths


def load_wan_vae(path: str | os.PathLike, config: dict | None = None, dtype: torch.dtype = torch.float32) -> AutoencoderKLWan:
    """The Wan2.1 VAE: a diffusers folder (``vae/``), a model folder holding ``Wan2.1_VAE.pth``, or that file
    (original layout, converted with diffusers' map; ``config`` defaults to Wan2.1's)."""
    path = Path(path)
    if path.is_dir() and (folder := _is_diffusers_dir(path, "vae")):
        return AutoencoderKLWan.from_pretrained(folder, local_files_only=True, torch_dtype=dtype).eval()
    file = path / ORIGINAL_VAE_FILE if path.is_dir() else path
    if not file.is_file():
        raise WanAlphaError(f"no Wan VAE at {path}: give a diffusers vae/ folder, a folder with {ORIGINAL_VAE_FILE}, or the file")
    state_dict = read_state_dict(file)
    if "decoder.conv1.weight" in state_dict:  # original layout
        state_dict = {new: state_dict[old] for old, new in wan_vae_names(state_dict).items()}
    with init_empty_weights():
        vae = AutoencoderKLWan(**(config or _vae_widths(state_dict)))
    return assign_state_dict(vae, state_dict, str(file), dtype, hint="the VAE must be Wan2.1's (z_dim 16)")


# --------------------------------------------------------------------------- UMT5 text encoder
def umt5_config_from_state_dict(state_dict: Mapping[str, torch.Tensor]) -> UMT5Config:
    """UMT5 sizes read off Wan's T5 encoder weights (umt5-xxl: 24 layers, 4096 wide, 64 heads, 32 buckets)."""
    vocab, d_model = state_dict["token_embedding.weight"].shape
    buckets, heads = state_dict["blocks.0.pos_embedding.embedding.weight"].shape
    layers = len({k.split(".")[1] for k in state_dict if k.startswith("blocks.")})
    return UMT5Config(vocab_size=vocab, d_model=d_model, d_kv=state_dict["blocks.0.attn.q.weight"].shape[0] // heads,
                      d_ff=state_dict["blocks.0.ffn.fc1.weight"].shape[0], num_layers=layers, num_heads=heads,
                      relative_attention_num_buckets=buckets, relative_attention_max_distance=128,
                      feed_forward_proj="gated-gelu", is_encoder_decoder=False)


def load_original_umt5(file: str | os.PathLike, dtype: torch.dtype = torch.bfloat16) -> UMT5EncoderModel:
    """Wan's ``models_t5_umt5-xxl-enc-bf16.pth`` as a ``transformers.UMT5EncoderModel``."""
    raw = read_state_dict(file)
    unknown = [k for k in raw if umt5_name(k) is None]
    if unknown:
        raise CheckpointMismatch(str(file), unexpected=unknown, hint="expected Wan's T5 encoder layout")
    state_dict = {umt5_name(k): v for k, v in raw.items()}
    state_dict["encoder.embed_tokens.weight"] = state_dict["shared.weight"]  # tied in transformers
    with init_empty_weights():
        model = UMT5EncoderModel(umt5_config_from_state_dict(raw))
    return assign_state_dict(model, state_dict, str(file), dtype)


def load_wan_text_encoder(model_dir: str | os.PathLike, dtype: torch.dtype = torch.bfloat16,
                          max_length: int = DEFAULT_MAX_LENGTH["umt5"]) -> TextEncoder:
    """UMT5-XXL + tokenizer from a Wan2.1 folder: diffusers (``text_encoder/``, ``tokenizer/``) or original
    (``models_t5_umt5-xxl-enc-bf16.pth`` + ``google/umt5-xxl/``)."""
    model_dir = Path(model_dir)
    if (model_dir / "text_encoder").is_dir():
        return load_umt5(model_dir, max_length, dtype=dtype)
    file, tokenizer_dir = model_dir / ORIGINAL_T5_FILE, model_dir / ORIGINAL_TOKENIZER_DIR
    if not file.is_file() or not tokenizer_dir.is_dir():
        raise WanAlphaError(f"{model_dir} has no text_encoder/ folder and no {ORIGINAL_T5_FILE} + {ORIGINAL_TOKENIZER_DIR}/")
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir, local_files_only=True)
    return TextEncoder(tokenizer, load_original_umt5(file, dtype), max_length)


# --------------------------------------------------------------------------- reference Wan-Alpha VAE file
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
    expected = {k: v for k, v in _shapes(vae).items() if k.startswith("fusion.") or ".lora_" in k}
    optional = [] if require_fusion or fusion else [k for k in expected if k.startswith("fusion.")]
    if optional:
        report.ignore("fusion weights absent: encode() is untrained, decode() is complete", "fusion.*")
    state_dict = {**fusion, **lora}
    check_keys(str(path), expected, state_dict, optional=optional, hint="reference Wan-Alpha VAE layout")
    vae.load_state_dict({k: v.to(vae.dtype) for k, v in state_dict.items()}, strict=False)
    report.used = len(state_dict)
    return vae, report


# --------------------------------------------------------------------------- ComfyUI merged decoders
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
    check_keys(str(path), _shapes(decoder), state_dict, hint=f"a full Wan2.1 VAE whose decoder is the {which} decoder")
    decoder.load_state_dict(state_dict)
    report.used = len(state_dict)
    return report


# --------------------------------------------------------------------------- DiT adapters (DoRA, LoRA, diffs)
_ADAPTER_KEY = re.compile(
    r"(?P<module>.+?)\.(?P<kind>lora_A|lora_B|lora_down|lora_up|lora_magnitude_vector|dora_scale|alpha|diff_b|diff_m|diff)"
    r"(?:\.default)?(?:\.weight)?"
)
_ADAPTER_PREFIXES = ("base_model.model.", "transformer.", "model.diffusion_model.", "diffusion_model.")
_KIND = {"lora_down": "lora_A", "lora_up": "lora_B", "dora_scale": "lora_magnitude_vector"}
_TARGET_PARAM = {"diff_b": "bias", "diff_m": "modulation"}


def _strip_prefix(key: str) -> str:
    for prefix in _ADAPTER_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _group_adapter(raw: Mapping[str, torch.Tensor], source: str) -> dict[str, dict[str, torch.Tensor]]:
    """``{target parameter name (file's naming): {kind: tensor}}``; unparseable keys raise."""
    groups, unknown = {}, []
    for key, value in raw.items():
        match = _ADAPTER_KEY.fullmatch(_strip_prefix(key))
        if not match:
            unknown.append(key)
            continue
        kind = _KIND.get(match["kind"], match["kind"])
        target = f"{match['module']}.{_TARGET_PARAM.get(kind, 'weight')}"
        groups.setdefault(target, {})[kind] = value
    if unknown:
        raise CheckpointMismatch(source, unexpected=unknown, hint="expected lora_A/lora_B, lora_down/lora_up, "
                                 "lora_magnitude_vector, alpha, diff, diff_b or diff_m keys")
    return groups


def _resolve_targets(groups: dict, params: Mapping[str, torch.Tensor], source: str) -> dict[str, dict]:
    """Rename targets to our parameter names (diffusers names pass through; original Wan names are mapped)."""
    original = [t for t in groups if t not in params]
    renamed = wan_dit_names(original)
    resolved = {renamed.get(t, t): parts for t, parts in groups.items()}
    unknown = [f"{t} (-> {renamed.get(t, t)})" for t in groups if renamed.get(t, t) not in params]
    if unknown:
        raise CheckpointMismatch(source, unexpected=unknown, hint="these modules are not in the transformer")
    return resolved


def _lora_scale(parts: dict, rank: int, metadata_scale: float | None) -> float:
    if "alpha" in parts:  # kohya / ComfyUI convention: scale alpha / rank
        return float(parts["alpha"]) / rank
    return 1.0 if metadata_scale is None else metadata_scale


def _metadata_scale(path: Path) -> float | None:
    """``lora_alpha / r`` from the peft config diffusers writes into a safetensors adapter's metadata."""
    if path.suffix != ".safetensors":
        return None
    meta = safetensors_metadata(path).get("lora_adapter_metadata")
    if not meta:
        return None
    config = json.loads(meta)
    return config["lora_alpha"] / config["r"] if config.get("r") else None


def dora_merge(weight: torch.Tensor, delta: torch.Tensor, magnitude: torch.Tensor | None) -> torch.Tensor:
    """``W + dW``, rescaled row by row to ``magnitude`` for DoRA: ``W' = m * (W + dW) / ||W + dW||_row``
    (the L2 norm of each output row, as peft's Linear DoRA; float32 in, float32 out)."""
    merged = weight + delta
    if magnitude is None:
        return merged
    norm = merged.flatten(1).norm(dim=1).clamp_min(1e-8)
    return merged * (magnitude.flatten() / norm).view(-1, *[1] * (merged.ndim - 1))


def _delta(parts: dict, weight: torch.Tensor, scale: float, strength: float, name: str, source: str) -> torch.Tensor:
    """``strength * (scale * B @ A + diff)`` shaped like ``weight`` (float32)."""
    delta = torch.zeros_like(weight)
    if ("lora_A" in parts) != ("lora_B" in parts):
        present = "lora_A" if "lora_A" in parts else "lora_B"
        raise CheckpointMismatch(source, missing=[f"{name}: the partner of {present}"])
    if "lora_A" in parts:
        a = parts["lora_A"].to(weight).flatten(1)
        b = parts["lora_B"].to(weight).flatten(1)
        if b.shape[1] != a.shape[0] or b.shape[0] * a.shape[1] != weight.numel():
            raise CheckpointMismatch(source, mismatched=[
                f"{name}: lora_B {tuple(parts['lora_B'].shape)} @ lora_A {tuple(parts['lora_A'].shape)} "
                f"!= weight {tuple(weight.shape)}"])
        delta += scale * (b @ a).view_as(weight)
    for kind in ("diff", "diff_b", "diff_m"):
        if kind in parts:
            if parts[kind].numel() != weight.numel():
                raise CheckpointMismatch(source, mismatched=[f"{name}: {kind} {tuple(parts[kind].shape)} != {tuple(weight.shape)}"])
            delta += parts[kind].to(weight).view_as(weight)
    return strength * delta


@torch.no_grad()
def merge_adapter_file(transformer: nn.Module, path: str | os.PathLike, strength: float = 1.0,
                       device: str | torch.device | None = None) -> LoadReport:
    """Merge a DiT adapter file into ``transformer``'s weights, in place.

    Reads DoRA (``lora_A``, ``lora_B``, ``lora_magnitude_vector`` or ``dora_scale``), LoRA (``lora_A/lora_B``
    or ``lora_down/lora_up``, optional ``alpha``), and full-weight differences (``diff``, ``diff_b`` for biases,
    ``diff_m`` for modulation), with original Wan names (``blocks.N.self_attn.q``, optional ``diffusion_model.``
    prefix) or diffusers names. DoRA: ``W' = m (W + s dW) / ||W + s dW||_row`` (the reference's ratio ``s``);
    LoRA: ``W' = W + s (alpha / r) B A``. Each merge runs in float32 on ``device`` (default: the weight's).
    """
    path = Path(path)
    source = str(path)
    params = dict(transformer.named_parameters())
    groups = _resolve_targets(_group_adapter(read_state_dict(path), source), params, source)
    metadata_scale = _metadata_scale(path)
    for name, parts in groups.items():
        param = params[name]
        weight = param.detach().to(device or param.device, torch.float32)
        rank = parts["lora_A"].shape[0] if "lora_A" in parts else 1
        delta = _delta(parts, weight, _lora_scale(parts, rank, metadata_scale), strength, name, source)
        magnitude = parts.get("lora_magnitude_vector")
        if magnitude is not None and magnitude.numel() != weight.shape[0]:
            raise CheckpointMismatch(source, mismatched=[f"{name}: magnitude {tuple(magnitude.shape)} != ({weight.shape[0]},)"])
        merged = dora_merge(weight, delta, None if magnitude is None else magnitude.to(weight))
        param.copy_(merged.to(param.device, param.dtype))
    return LoadReport(source, used=sum(len(p) for p in groups.values()))


# --------------------------------------------------------------------------- everything for generation
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
    base models'. Returns the components (``tokenizer``, ``text_encoder``, ``transformer``, ``vae``) and the
    load reports."""
    files.check()
    reports = []
    text = load_wan_text_encoder(files.model_dir, dtype)
    transformer = load_wan_transformer(files.model_dir, dtype)
    for path, strength in ((files.dora_file, files.dora_strength), (files.distill_lora, files.distill_strength)):
        if path is not None:
            reports.append(merge_adapter_file(transformer, path, strength, merge_device))
    base = load_wan_vae(files.model_dir)
    if files.vae_file is not None:
        vae, report = load_reference_rgba_vae(base, files.vae_file, require_fusion=False)
        reports.append(report)
        vae.merge_lora()
    else:
        vae = RGBAVAE.from_base(base, lora_rank=0)
        reports.append(LoadReport("RGBA VAE", ignored={"fusion block not given (no --vae-file): encode() is untrained, "
                                                       "decode() uses the merged decoders": ["fusion.*"]}))
    for which, path in (("rgb", files.rgb_decoder), ("alpha", files.alpha_decoder)):
        if path is not None:
            reports.append(load_merged_decoder(vae, which, path))
    vae = nn.Module.to(vae, vae_dtype)  # ModelMixin.to warns on every dtype cast, even with nothing to keep in float32
    components = dict(tokenizer=text.tokenizer, text_encoder=text.model, transformer=transformer,
                      vae=vae.eval(), max_sequence_length=text.max_length)
    return components, reports
