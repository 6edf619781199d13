"""The RGBA VAE (stage 1, SPEC section 2): one frozen Wan encoder, a trainable fusion block, and two
frozen Wan decoders (RGB and alpha) each with its own LoRA.

::

    rgb (hard-rendered) ─► frozen encoder trunk ─┐
    alpha (3 ch, [-1,1]) ─► frozen encoder trunk ─┴► concat ─► fusion ─► Z ─► (Z - mean) / std
    Z ─► post_quant_conv ─► decoder + LoRA_rgb   ─► rgb   in [-1, 1]
      └► post_quant_conv ─► decoder + LoRA_alpha ─► mean of 3 ch ─► alpha in [0, 1]

"Encoder trunk" is the base encoder up to and including ``mid_block`` (4*base_dim channels); its
head (``norm_out``/``conv_out``) and the KL ``quant_conv`` are dropped, the fusion block replaces them.
Encoding is causal and chunked over time like the base VAE (frame 0, then chunks of 4 frames, with a
feature cache), so clip length costs time, not memory. Each decoder is a decoder-only
``AutoencoderKLWan``, so decoding reuses diffusers' per-frame cache, tiling and slicing as they are.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from diffusers import AutoencoderKLWan
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.autoencoders.autoencoder_kl_wan import (
    CACHE_T,
    WanAttentionBlock,
    WanCausalConv3d,
    WanEncoder3d,
    WanResidualBlock,
    WanRMS_norm,
)
from diffusers.models.modeling_utils import ModelMixin
from diffusers.utils import BaseOutput
from diffusers.utils.accelerate_utils import apply_forward_hook
from peft import inject_adapter_in_model
from torch.utils.checkpoint import checkpoint

from ..errors import WanAlphaError, first_names
from ..rgba import (
    WAN21_TEMPORAL_DOWNSAMPLE,
    hard_render,
    latent_frame_count,
    latent_frame_spans,
    vae_spatial_stride,
)
from .lora_conv import conv_module_names, lora_config, merge_lora
from .onednn_conv import use_onednn_conv3d
from .quiet_loading import quiet_loading

TEMPORAL_CHUNK = 4
"""Frames per encoder chunk after the first frame (the base VAE's 4x temporal stride)."""


@dataclass
class RGBAVAEOutput(BaseOutput):
    """``latent``: normalised Z (what the DiT sees); ``rgb`` in [-1, 1]; ``alpha`` in [0, 1];
    ``alpha_channels``: in training mode, the alpha decoder's three channels before the clamp (else None)."""

    latent: torch.Tensor
    rgb: torch.Tensor
    alpha: torch.Tensor
    alpha_channels: torch.Tensor | None = None


def _cached_conv(conv: nn.Module, x: torch.Tensor, feat_cache: list | None, feat_idx: list[int]) -> torch.Tensor:
    """Run a causal conv on one chunk, feeding it the previous chunk's last frames (diffusers' scheme)."""
    if feat_cache is None:
        return conv(x)
    idx = feat_idx[0]
    cache_x = x[:, :, -CACHE_T:].clone()
    if cache_x.shape[2] < CACHE_T and feat_cache[idx] is not None:
        cache_x = torch.cat([feat_cache[idx][:, :, -1:].to(cache_x.device), cache_x], dim=2)
    out = conv(x, feat_cache[idx])
    feat_cache[idx] = cache_x
    feat_idx[0] += 1
    return out


def _new_cache(module: nn.Module) -> list:
    """One cache slot per causal conv, as the base VAE allocates them."""
    return [None] * sum(isinstance(m, WanCausalConv3d) for m in module.modules())


def encoder_trunk(encoder: WanEncoder3d, x: torch.Tensor, feat_cache: list, feat_idx: list[int]) -> torch.Tensor:
    """``WanEncoder3d.forward`` up to and including ``mid_block``: features before the head."""
    x = _cached_conv(encoder.conv_in, x, feat_cache, feat_idx)
    for layer in encoder.down_blocks:
        x = layer(x, feat_cache=feat_cache, feat_idx=feat_idx)
    return encoder.mid_block(x, feat_cache=feat_cache, feat_idx=feat_idx)


class FusionBlock(nn.Module):
    """concat(rgb, alpha features) -> 1x1x1 conv -> [ResBlock, Attn] x N -> ResBlock -> RMSNorm+SiLU -> 3x3x3 conv."""

    def __init__(self, dim: int, z_dim: int, num_layers: int = 2) -> None:
        super().__init__()
        self.conv_in = WanCausalConv3d(2 * dim, dim, 1)
        self.resnets = nn.ModuleList([WanResidualBlock(dim, dim) for _ in range(num_layers + 1)])
        self.attentions = nn.ModuleList([WanAttentionBlock(dim) for _ in range(num_layers)])
        self.norm_out = WanRMS_norm(dim, images=False)
        self.conv_out = WanCausalConv3d(dim, z_dim, 3, padding=1)

    def forward(
        self, rgb_feat: torch.Tensor, alpha_feat: torch.Tensor, feat_cache: list | None = None, feat_idx: list[int] | None = None
    ) -> torch.Tensor:
        feat_idx = [0] if feat_idx is None else feat_idx
        x = self.conv_in(torch.cat([rgb_feat, alpha_feat], dim=1))  # 1x1x1: no temporal context
        for resnet, attn in zip(self.resnets, self.attentions):
            x = attn(resnet(x, feat_cache=feat_cache, feat_idx=feat_idx))
        x = self.resnets[-1](x, feat_cache=feat_cache, feat_idx=feat_idx)
        x = F.silu(self.norm_out(x))
        return _cached_conv(self.conv_out, x, feat_cache, feat_idx)


def _decoder_only(base_config: dict) -> AutoencoderKLWan:
    """An ``AutoencoderKLWan`` without encoder and KL head: keeps diffusers' decode, tiling and slicing."""
    vae = AutoencoderKLWan(**base_config)
    del vae.encoder, vae.quant_conv
    return vae.requires_grad_(False)


def decode_unclamped(vae: AutoencoderKLWan, z: torch.Tensor) -> torch.Tensor:
    """diffusers' ``AutoencoderKLWan._decode`` (frame by frame with the causal cache) without its final
    clamp to [-1, 1]. Training decodes through this: the clamp passes no gradient to saturated outputs,
    and a decoder whose outputs saturate (an alpha decoder on mostly transparent clips does, within a
    few dozen steps) then never recovers."""
    vae.clear_cache()
    x = vae.post_quant_conv(z)
    checkpointed = vae.decoder.gradient_checkpointing and torch.is_grad_enabled()  # enable_gradient_checkpointing()
    step = partial(checkpoint, _decode_frame, use_reentrant=False) if checkpointed else _decode_frame
    frames, cache = [], vae._feat_map
    for i in range(x.shape[2]):
        frame, *cache = step(vae.decoder, i == 0, x[:, :, i : i + 1], *cache)
        frames.append(frame)
    vae.clear_cache()
    return torch.cat(frames, dim=2)


def _decode_frame(decoder: nn.Module, first_chunk: bool, x: torch.Tensor, *cache: torch.Tensor | str | None) -> tuple:
    """One latent frame through the decoder: ``(frames, *new causal cache)``. The cache goes in and out as
    arguments, not mutated in place, so the checkpoint's recomputation in the backward pass sees the cache this
    frame saw: only these inputs are kept per frame, the decoder's activations are recomputed."""
    cache = list(cache)
    return decoder(x, feat_cache=cache, feat_idx=[0], first_chunk=first_chunk), *cache


def clamp_straight_through(x: torch.Tensor) -> torch.Tensor:
    """``x.clamp(-1, 1)`` in the forward pass, the identity in the backward pass: training sees exactly the
    values inference gives (diffusers clamps each decoded channel), and outputs saturated on the wrong
    side still get a gradient. Without the forward clamp the alpha decoder learnt channels that average
    to -1 on transparent pixels (about -0.86, -1.17, -0.93), which clamp-then-average turns into a
    haze of alpha 0.03 with no pixel fully transparent."""
    return x + (x.clamp(-1, 1) - x).detach()


def _alpha_from_channels(x: torch.Tensor) -> torch.Tensor:
    """The alpha decoder's (clamped) three channels in [-1, 1] -> alpha (B, 1, T, H, W) in [0, 1]."""
    return (x.mean(dim=1, keepdim=True) + 1) / 2


class RGBAVAE(ModelMixin, ConfigMixin):
    """RGBA video VAE: ``encode(rgb, alpha) -> Z``, ``decode(Z) -> (rgb, alpha)``.

    Args:
        base_config: the ``AutoencoderKLWan`` config (init arguments) of the base VAE.
        lora_rank: rank of each decoder's LoRA (reference 128); 0 means no LoRA (e.g. after merging).
        lora_alpha: LoRA scale numerator; ``None`` means ``lora_rank`` (scale 1).
        fusion_layers: number of [ResBlock, Attn] pairs in the fusion block (reference 2).
        latents_mean, latents_std: per-channel statistics of the fused latents, for a DiT trained on them
            (the tiny recipe fits its own); ``None`` normalises with the base VAE's (the reference: Wan's
            statistics, which Wan2.1's DiT was trained on).
    """

    # enable_gradient_checkpointing() (diffusers') sets the decoders' flag: training's decode then keeps only each
    # latent frame's input and causal cache, and recomputes the decoder's activations frame by frame in backward
    _supports_gradient_checkpointing = True

    @register_to_config
    def __init__(
        self, base_config: dict, lora_rank: int = 128, lora_alpha: float | None = None, fusion_layers: int = 2,
        latents_mean: list[float] | None = None, latents_std: list[float] | None = None,
    ) -> None:
        super().__init__()
        base_config = {k: v for k, v in base_config.items() if not k.startswith("_")}
        if base_config.get("is_residual") or base_config.get("patch_size"):
            raise WanAlphaError("RGBAVAE supports Wan2.1-style VAEs only (is_residual=False, patch_size=None)")
        if sum(base_config.get("temperal_downsample", WAN21_TEMPORAL_DOWNSAMPLE)) != 2:
            raise WanAlphaError("RGBAVAE needs a base VAE that packs 4 frames per latent frame, as Wan2.1's "
                                f"(two True in temperal_downsample), got {base_config['temperal_downsample']}")
        trunk = AutoencoderKLWan(**base_config).encoder
        del trunk.norm_out, trunk.conv_out  # replaced by the fusion block
        self.encoder = trunk.requires_grad_(False)
        dim = trunk.dim * trunk.dim_mult[-1]
        self.fusion = FusionBlock(dim, base_config.get("z_dim", 16), fusion_layers)
        self.vae_rgb = _decoder_only(base_config)
        self.vae_alpha = _decoder_only(base_config)
        self.use_slicing = False
        self.parallel_decode = False  # RGB and alpha decoders on two CUDA streams (2x decode activations)
        if lora_rank:
            self._inject_lora(lora_rank, lora_alpha)
        use_onednn_conv3d(self)

    # ---------------------------------------------------------------- construction and weights
    @classmethod
    def from_base(
        cls, base_vae: AutoencoderKLWan, lora_rank: int = 128, lora_alpha: float | None = None, fusion_layers: int = 2,
    ) -> RGBAVAE:
        """A new RGBA VAE around ``base_vae``'s weights: frozen encoder trunk and decoders copied from it, a freshly
        initialised fusion block, and each decoder's LoRA at zero (so decoding starts as the base decoder)."""
        config = {k: v for k, v in base_vae.config.items() if not k.startswith("_")}
        model = cls(config, lora_rank=0, fusion_layers=fusion_layers)
        base = base_vae.state_dict()
        trunk = {k[len("encoder."):]: v for k, v in base.items()
                 if k.startswith("encoder.") and not k.startswith(("encoder.norm_out.", "encoder.conv_out."))}
        decoder = {k: v for k, v in base.items() if k.startswith(("decoder.", "post_quant_conv."))}
        model.encoder.load_state_dict(trunk)
        model.vae_rgb.load_state_dict(decoder)
        model.vae_alpha.load_state_dict(decoder)
        if lora_rank:
            model._inject_lora(lora_rank, lora_alpha)
            model.register_to_config(lora_rank=lora_rank, lora_alpha=lora_alpha)
        model.to(base_vae.device)
        return model if base_vae.dtype == model.dtype else model.to(dtype=base_vae.dtype)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, **kwargs) -> RGBAVAE:
        """Load a folder written by ``save_pretrained`` (local only); every weight must match exactly."""
        path = Path(path)
        if not (path / "config.json").is_file():
            raise WanAlphaError(f"{path} is not an RGBAVAE folder (no config.json): give the folder save_pretrained wrote")
        kwargs.update(local_files_only=True, output_loading_info=True)
        try:
            with quiet_loading():
                model, info = super().from_pretrained(str(path), **kwargs)
        except (OSError, ValueError, RuntimeError) as err:
            raise WanAlphaError(f"cannot load RGBAVAE from {path}: {err}") from err
        missing, unexpected = info["missing_keys"], info["unexpected_keys"]
        mismatched = [k for k, *_ in info.get("mismatched_keys", [])]
        if missing or unexpected or mismatched:
            raise WanAlphaError(
                f"checkpoint {path} does not match its config: missing keys [{first_names(missing, 5)}], unexpected keys "
                f"[{first_names(unexpected, 5)}], mismatched shapes [{first_names(mismatched, 5)}]"
            )
        return model

    def _inject_lora(self, rank: int, alpha: float | None) -> None:
        """One LoRA per decoder on every causal conv, attention projection and upsampler conv."""
        for vae in (self.vae_rgb, self.vae_alpha):
            inject_adapter_in_model(lora_config(rank, alpha, conv_module_names(vae.decoder)), vae.decoder)
        use_onednn_conv3d(self)  # the new LoRA layers too

    def merge_lora(self) -> None:
        """Fold both decoders' LoRA into their weights (inference graph == base decoder); config rank -> 0."""
        for vae in (self.vae_rgb, self.vae_alpha):
            merge_lora(vae.decoder)
        self.register_to_config(lora_rank=0, lora_alpha=None)

    # ---------------------------------------------------------------- memory options
    def enable_slicing(self) -> None:
        """Encode and decode one clip of the batch at a time."""
        self.use_slicing = True
        for vae in (self.vae_rgb, self.vae_alpha):
            vae.enable_slicing()

    def disable_slicing(self) -> None:
        self.use_slicing = False
        for vae in (self.vae_rgb, self.vae_alpha):
            vae.disable_slicing()

    def enable_tiling(self, **kwargs) -> None:
        """Decode in overlapping spatial tiles (diffusers' Wan tiling; same keyword arguments)."""
        for vae in (self.vae_rgb, self.vae_alpha):
            vae.enable_tiling(**kwargs)

    def disable_tiling(self) -> None:
        for vae in (self.vae_rgb, self.vae_alpha):
            vae.disable_tiling()

    # ---------------------------------------------------------------- latents
    @property
    def z_dim(self) -> int:
        return self.fusion.conv_out.out_channels

    @property
    def spatial_stride(self) -> int:
        """Pixels per latent cell, each way (see :func:`vae_spatial_stride`)."""
        return vae_spatial_stride(self.config.base_config)

    def _latent_stats(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        base, shape = self.config.base_config, (1, self.z_dim, 1, 1, 1)
        mean = self.config.latents_mean or base.get("latents_mean") or [0.0] * self.z_dim
        std = self.config.latents_std or base.get("latents_std") or [1.0] * self.z_dim
        return (torch.tensor(mean, device=z.device, dtype=z.dtype).view(shape),
                torch.tensor(std, device=z.device, dtype=z.dtype).view(shape))

    def normalize_latents(self, z: torch.Tensor) -> torch.Tensor:
        """Raw Z -> ``(Z - latents_mean) / latents_std``: the fitted statistics of the fused latents if
        any, else the base VAE's (as the DiT expects)."""
        mean, std = self._latent_stats(z)
        return (z - mean) / std

    def denormalize_latents(self, z: torch.Tensor) -> torch.Tensor:
        mean, std = self._latent_stats(z)
        return z * std + mean

    # ---------------------------------------------------------------- encode / decode
    def check_inputs(self, rgb: torch.Tensor, alpha: torch.Tensor) -> None:
        """Raise :class:`WanAlphaError` for clips the VAE cannot encode faithfully."""
        if rgb.ndim != 5 or rgb.shape[1] != 3 or alpha.ndim != 5 or alpha.shape[1] != 1:
            raise WanAlphaError(
                f"expected rgb (B,3,T,H,W) and alpha (B,1,T,H,W), got rgb {tuple(rgb.shape)} and alpha {tuple(alpha.shape)}"
            )
        if rgb.shape[0] != alpha.shape[0] or rgb.shape[2:] != alpha.shape[2:]:
            raise WanAlphaError(f"rgb {tuple(rgb.shape)} and alpha {tuple(alpha.shape)} differ in batch, frames or size")
        latent_frame_count(rgb.shape[2])
        stride = self.spatial_stride
        if rgb.shape[-2] % stride or rgb.shape[-1] % stride:
            raise WanAlphaError(
                f"frame size {rgb.shape[-1]}x{rgb.shape[-2]} (shape {tuple(rgb.shape)}) is not a multiple of {stride}: "
                "crop or resize the clip"
            )
        if alpha.numel() and not alpha.is_meta and (alpha.min() < 0 or alpha.max() > 1):  # meta: shapes only (estimates)
            raise WanAlphaError(
                f"alpha {tuple(alpha.shape)} has values in [{alpha.min():.3g}, {alpha.max():.3g}], outside [0, 1]: "
                "pass straight alpha scaled to [0, 1]"
            )

    def _encode_one(self, rgb: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """Raw Z for a batch, chunk by chunk with three feature caches (rgb trunk, alpha trunk, fusion)."""
        alpha3 = alpha.expand(-1, 3, -1, -1, -1) * 2 - 1
        rgb_cache, alpha_cache, fusion_cache = _new_cache(self.encoder), _new_cache(self.encoder), _new_cache(self.fusion)
        chunks = []
        for frames in latent_frame_spans(rgb.shape[2], TEMPORAL_CHUNK):
            with torch.no_grad():  # the encoder is frozen: keep no activations for it
                f_rgb = encoder_trunk(self.encoder, rgb[:, :, frames], rgb_cache, [0])
                f_alpha = encoder_trunk(self.encoder, alpha3[:, :, frames], alpha_cache, [0])
            chunks.append(self.fusion(f_rgb, f_alpha, fusion_cache, [0]))
        return torch.cat(chunks, dim=2)

    @apply_forward_hook  # CPU offload hooks wrap forward(); this moves the model for encode() as well
    def encode(
        self, rgb: torch.Tensor, alpha: torch.Tensor, background: torch.Tensor | None = None, normalized: bool = True
    ) -> torch.Tensor:
        """Latent Z of a clip; normalised (``(Z - mean) / std``) unless ``normalized=False``.

        ``rgb`` (B,3,T,H,W) in [-1, 1] is encoded as given, unless ``background`` (a colour broadcastable
        to rgb, e.g. from :func:`wan_alpha.rgba.random_palette_colors`) is passed: then the clip is
        first hard-rendered over it, which is what training does. ``alpha`` (B,1,T,H,W) in [0, 1].
        """
        self.check_inputs(rgb, alpha)
        if background is not None:
            rgb = hard_render(rgb, alpha, background.to(rgb))
        rgb, alpha = rgb.to(self.dtype), alpha.to(self.dtype)
        if self.use_slicing and rgb.shape[0] > 1:
            z = torch.cat([self._encode_one(r, a) for r, a in zip(rgb.split(1), alpha.split(1))])
        else:
            z = self._encode_one(rgb, alpha)
        return self.normalize_latents(z) if normalized else z

    @apply_forward_hook
    def decode(self, latent: torch.Tensor, normalized: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """``(rgb in [-1, 1], alpha in [0, 1])`` from a (normalised unless told otherwise) latent (B,z,T',h,w)."""
        rgb, alpha = self._decode_both(self._denormalized(latent, normalized))
        return rgb, _alpha_from_channels(alpha)

    def decode_straight_through(
        self, latent: torch.Tensor, normalized: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training's decode: ``(rgb, alpha, alpha_channels)``, rgb and alpha as :meth:`decode` gives them but
        clamped with a straight-through gradient (:func:`clamp_straight_through`), so saturated outputs still
        get gradients; ``alpha_channels``: the alpha decoder's three channels before the clamp. No tiling."""
        z = self._denormalized(latent, normalized)
        rgb, alpha_channels = decode_unclamped(self.vae_rgb, z), decode_unclamped(self.vae_alpha, z)
        alpha = _alpha_from_channels(clamp_straight_through(alpha_channels))
        return clamp_straight_through(rgb), alpha, alpha_channels

    def decoder_calls(self, latent: torch.Tensor) -> int:
        """How many decoder passes :meth:`decode` makes for ``latent`` (B,z,T',h,w), both decoders together: one per
        latent frame, per tile when diffusers tiles it, per clip when it slices the batch (its ``decode`` loops)."""
        vae, (batch, _, frames, height, width) = self.vae_rgb, latent.shape
        calls = frames * (batch if vae.use_slicing and batch > 1 else 1)
        ratio = vae.spatial_compression_ratio
        if vae.use_tiling and (width > vae.tile_sample_min_width // ratio or height > vae.tile_sample_min_height // ratio):
            calls *= (math.ceil(height / (vae.tile_sample_stride_height // ratio))
                      * math.ceil(width / (vae.tile_sample_stride_width // ratio)))
        return 2 * calls

    @contextmanager
    def on_decoder_call(self, callback: Callable[[], object]) -> Iterator[None]:
        """Within the block, ``callback()`` runs after each decoder pass (see :meth:`decoder_calls`): a progress bar
        for decoding, which takes longer than sampling with few steps."""
        def after_pass(*_) -> None:  # a hook's return value would replace the decoder's output
            callback()

        hooks = [vae.decoder.register_forward_hook(after_pass) for vae in (self.vae_rgb, self.vae_alpha)]
        try:
            yield
        finally:
            for hook in hooks:
                hook.remove()

    def _denormalized(self, latent: torch.Tensor, normalized: bool) -> torch.Tensor:
        if latent.ndim != 5 or latent.shape[1] != self.z_dim:
            raise WanAlphaError(f"expected a latent (B,{self.z_dim},T,h,w), got {tuple(latent.shape)}")
        z = self.denormalize_latents(latent) if normalized else latent
        return z.to(self.dtype)

    def _decode_both(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both decoders' outputs. One after the other by default, so only one decoder's activations are
        alive at a time; with ``parallel_decode`` on a GPU, the alpha decoder runs on a side stream
        concurrently with the RGB one (faster when the GPU has room for both)."""
        if not (self.parallel_decode and z.is_cuda):
            return self.vae_rgb.decode(z).sample, self.vae_alpha.decode(z).sample
        main, side = torch.cuda.current_stream(z.device), torch.cuda.Stream(z.device)
        side.wait_stream(main)
        with torch.cuda.stream(side):
            alpha = self.vae_alpha.decode(z).sample
        rgb = self.vae_rgb.decode(z).sample
        main.wait_stream(side)
        alpha.record_stream(main)  # allocated on the side stream, used on the main one from here on
        return rgb, alpha

    def forward(self, rgb: torch.Tensor, alpha: torch.Tensor, background: torch.Tensor | None = None) -> RGBAVAEOutput:
        """Encode and decode (training goes through here so DDP sees the call). In training mode the
        decoders' outputs are clamped straight-through, so saturated pixels keep their gradient."""
        latent = self.encode(rgb, alpha, background=background)
        if not self.training:
            rgb_hat, alpha_hat = self.decode(latent)
            return RGBAVAEOutput(latent=latent, rgb=rgb_hat, alpha=alpha_hat)
        rgb_hat, alpha_hat, channels = self.decode_straight_through(latent)
        return RGBAVAEOutput(latent=latent, rgb=rgb_hat, alpha=alpha_hat, alpha_channels=channels)
