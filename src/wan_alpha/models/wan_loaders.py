"""Wan2.1's own models from local files: the DiT, the VAE and the UMT5 text encoder, in diffusers layout or
in the original release's layout (``config.json`` + ``diffusion_pytorch_model*.safetensors``, ``Wan2.1_VAE.pth``,
``models_t5_umt5-xxl-enc-bf16.pth``), renamed with :mod:`.key_maps` and checked key by key (:mod:`.state_dicts`)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import torch
from accelerate import init_empty_weights
from diffusers import AutoencoderKLWan, WanTransformer3DModel
from transformers import AutoTokenizer, UMT5Config, UMT5EncoderModel

from ..errors import WanAlphaError
from .dit import build_dit
from .key_maps import umt5_name, wan_dit_names, wan_vae_names
from .state_dicts import CheckpointMismatch, assign_state_dict, read_state_dict
from .text_encoders import DEFAULT_MAX_LENGTH, TextEncoder, load_umt5

ORIGINAL_VAE_FILE = "Wan2.1_VAE.pth"
ORIGINAL_T5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"
ORIGINAL_TOKENIZER_DIR = "google/umt5-xxl"


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
    keep = set(WanTransformer3DModel._keep_in_fp32_modules)  # norms, time embedder, modulation: float32, as diffusers
    state_dict = {}
    for file in files:  # shard by shard, cast as we go: peak RAM ~ one model in `dtype`
        shard = read_state_dict(file)
        for old, new in wan_dit_names(shard).items():  # owned and aligned copies, not views of the file buffer
            state_dict[new] = shard[old].to(torch.float32 if keep & set(new.split(".")) else dtype, copy=True)
    text_weight = state_dict.get("condition_embedder.text_embedder.linear_1.weight")
    config = dit_config_from_original(json.loads((model_dir / "config.json").read_text()),
                                      text_weight.shape[1] if text_weight is not None else 4096)
    with init_empty_weights():
        model = WanTransformer3DModel(**config)
    return assign_state_dict(model, state_dict, f"{model_dir} (original Wan DiT)", dtype)


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
