"""The ComfyUI nodes: transparency-guided noise for ``SamplerCustomAdvanced``, ellipses fitted to an alpha
video, the RGBA VAE (load and decode) and an RGBA video writer in every format of :mod:`wan_alpha.io`.

Nodes follow ComfyUI's classic interface: an ``INPUT_TYPES`` classmethod, ``RETURN_TYPES``, ``FUNCTION`` (called
with the inputs as keyword arguments; it returns a tuple, or for an output node ``{"ui": ..., "result": ...}``)
and ``CATEGORY``. Tensor layouts are converted in :mod:`.layouts`. ``comfy`` and ``folder_paths`` (ComfyUI's own
modules) are used when ComfyUI runs the nodes and are optional otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..errors import WanAlphaError
from ..io import DEFAULT_FPS, FORMATS, RGBAVideo, write_video
from ..io.masks import load_mask
from ..rgba import Ellipse
from ..sampling import (
    DEFAULT_ELLIPSE,
    DEFAULT_MU_SHIFT,
    MASK_FITS,
    check_mask,
    fit_alpha_ellipses,
    render_ellipses,
    resolve_mask,
    shift_noise,
)
from .layouts import (
    COMFY_MASK,
    MASK_MEANS,
    alpha_of,
    check_video_latent,
    clip_to_frames,
    frames_to_clip,
    normalize_comfy_latent,
)

if TYPE_CHECKING:
    from ..models.rgba_vae import RGBAVAE

CATEGORY = "wan-alpha"
ELLIPSES = "WAN_ALPHA_ELLIPSES"
"""Fitted ellipses: one list per clip, one :class:`~wan_alpha.rgba.Ellipse` (or ``None``) per latent frame."""
RGBA_VAE = "WAN_ALPHA_RGBA_VAE"

ELLIPSE, MOVING_ELLIPSE, FITTED, MASK_FILE = "ellipse", "moving ellipse", "fitted ellipses", "mask file"
NOISE_SOURCES = (ELLIPSE, MOVING_ELLIPSE, FITTED, MASK_FILE)
SHIFT_DTYPES = {"bfloat16": torch.bfloat16, "float32": torch.float32}
"""The reference computes the shift in bfloat16 (its DiT's dtype) before adding it to float32 noise."""

RGBA_VAE_FOLDER, REFERENCE_FILE, COMFY_PAIR = "rgba_vae folder", "reference decoder.bin", "comfyui rgb+alpha pair"
VAE_SOURCES = (RGBA_VAE_FOLDER, REFERENCE_FILE, COMFY_PAIR)
VAE_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}

WRITABLE_FORMATS = tuple(name for name, fmt in FORMATS.items() if fmt.write is not None)
BROWSER_PREVIEWS = ("webm", "webp", "apng", "gif")
"""Formats ComfyUI's page can show as an animated preview."""


def _ellipse_inputs(prefix: str, what: str) -> dict:
    e = DEFAULT_ELLIPSE
    fraction = {"min": 0.0, "max": 1.0, "step": 0.01}
    axis = {"min": 0.01, "max": 4.0, "step": 0.01}
    return {
        f"{prefix}center_x": ("FLOAT", {"default": e.cx, **fraction, "tooltip": f"{what}: centre, fraction of the width"}),
        f"{prefix}center_y": ("FLOAT", {"default": e.cy, **fraction, "tooltip": f"{what}: centre, fraction of the height"}),
        f"{prefix}width": ("FLOAT", {"default": e.w, **axis, "tooltip": f"{what}: full axis, fraction of the width"}),
        f"{prefix}height": ("FLOAT", {"default": e.h, **axis, "tooltip": f"{what}: full axis, fraction of the height"}),
        f"{prefix}angle": ("FLOAT", {"default": e.angle, "min": -180.0, "max": 180.0, "step": 1.0,
                                     "tooltip": f"{what}: degrees from +x towards +y (clockwise on screen)"}),
    }


class MeanShiftedNoise:
    """A ComfyUI ``NOISE``: the wrapped noise (``RandomNoise``'s, with its seed and batch handling) plus the
    transparency mean shift ``mu * (1 - G)``, with ``G`` built for the latent's grid when it is generated."""

    def __init__(self, noise: Any, maps: Callable[[int, int, int], torch.Tensor], mu: float, dtype: torch.dtype) -> None:
        self.noise, self.maps, self.mu, self.dtype = noise, maps, mu, dtype
        self.seed = noise.seed  # SamplerCustomAdvanced passes noise.seed on to the sampler

    def generate_noise(self, input_latent: dict) -> torch.Tensor:
        samples = input_latent["samples"]
        check_video_latent(samples)
        noise = self.noise.generate_noise(input_latent)
        maps = self.maps(*samples.shape[2:])
        if maps.shape[0] not in (1, noise.shape[0]):
            raise WanAlphaError(f"{maps.shape[0]} fitted clips for a batch of {noise.shape[0]}: fit one clip per "
                                "latent in the batch, or one for all")
        return shift_noise(noise, maps, self.mu, self.dtype)


def _fitted_maps(clips: list[list[Ellipse | None]], latent_frames: int, height: int, width: int) -> torch.Tensor:
    maps = torch.cat([render_ellipses(clip, height, width) for clip in clips])
    return check_mask(maps, latent_frames, source="the fitted ellipses")


class WanAlphaMeanShiftNoise:
    """Shift a NOISE (e.g. ``RandomNoise``) towards transparency outside an ellipse, for ``SamplerCustomAdvanced``."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "noise": ("NOISE",),
                "source": (list(NOISE_SOURCES), {"default": ELLIPSE, "tooltip": "where the transparency map G comes "
                                                 "from: the ellipse below (moving: to the end ellipse), the "
                                                 "ellipses input, or mask_file"}),
                **_ellipse_inputs("", "object ellipse (start)"),
                **_ellipse_inputs("end_", "end ellipse (moving ellipse)"),
                "mu_shift": ("FLOAT", {"default": DEFAULT_MU_SHIFT, "min": 0.0, "max": 1.0, "step": 0.005,
                                       "tooltip": "noise mean shift on the transparent side: the model's own "
                                       "(0.05 for the released Wan-Alpha, 1.0 for the embedded tiny model)"}),
                "shift_dtype": (list(SHIFT_DTYPES), {"default": "bfloat16"}),
            },
            "optional": {
                "ellipses": (ELLIPSES,),
                "mask_file": ("STRING", {"default": "", "tooltip": "a mask file (.npy, .pt, the reference's "
                                         "gauss_mask, or a grayscale video), one map per latent frame"}),
            },
        }

    RETURN_TYPES = ("NOISE",)
    FUNCTION = "shift"
    CATEGORY = CATEGORY
    DESCRIPTION = "Wan-Alpha's transparency-guided mean shift of the initial noise (SPEC section 3)."

    def shift(self, noise: Any, source: str, center_x: float, center_y: float, width: float, height: float,
              angle: float, end_center_x: float, end_center_y: float, end_width: float, end_height: float,
              end_angle: float, mu_shift: float, shift_dtype: str, ellipses: list | None = None,
              mask_file: str = "") -> tuple[MeanShiftedNoise]:
        if source not in NOISE_SOURCES:
            raise WanAlphaError(f"unknown source {source!r}: choose one of {', '.join(NOISE_SOURCES)}")
        start = Ellipse(center_x, center_y, width, height, angle)
        if source == ELLIPSE:
            maps = partial(resolve_mask, ellipse=start)
        elif source == MOVING_ELLIPSE:
            maps = partial(resolve_mask, ellipse=start,
                           ellipse_end=Ellipse(end_center_x, end_center_y, end_width, end_height, end_angle))
        elif source == FITTED:
            if not ellipses:
                raise WanAlphaError("source is 'fitted ellipses' but nothing is connected to ellipses: connect "
                                    "Wan-Alpha Fit Ellipses")
            maps = partial(_fitted_maps, ellipses)
        else:
            maps = partial(resolve_mask, mask=load_mask(_comfy_file(mask_file, "mask_file", "input")))
        return (MeanShiftedNoise(noise, maps, mu_shift, SHIFT_DTYPES[shift_dtype]),)


class WanAlphaFitEllipses:
    """Fit one ellipse per latent frame to an alpha video (an IMAGE batch with alpha, or a MASK batch)."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "fit": (list(MASK_FITS), {"default": MASK_FITS[0], "tooltip": "reference: the release's "
                                          "gen_gaussian_mask.py; moments: tighter axes"}),
                "threshold": ("FLOAT", {"default": -1.0, "min": -1.0, "max": 1.0, "step": 0.01, "tooltip":
                                        "alpha above this is object; negative: the fit's own (0.1 reference, 0.3 moments)"}),
                "vae_stride": ("INT", {"default": 8, "min": 1, "max": 64, "tooltip": "pixels per latent cell "
                                       "(8 for Wan2.1)"}),
                "mask_means": (list(MASK_MEANS), {"default": COMFY_MASK}),
            },
            "optional": {"image": ("IMAGE",), "mask": ("MASK",)},
        }

    RETURN_TYPES = (ELLIPSES, "IMAGE")
    RETURN_NAMES = ("ellipses", "preview")
    FUNCTION = "fit"
    CATEGORY = CATEGORY
    DESCRIPTION = "Ellipses for the transparency noise from an alpha video of 1 + 4k frames; preview: G per latent frame."

    def fit(self, fit: str, threshold: float, vae_stride: int, mask_means: str, image: torch.Tensor | None = None,
            mask: torch.Tensor | None = None) -> tuple[list, torch.Tensor]:
        alpha = alpha_of(image, mask, mask_means)
        clips = fit_alpha_ellipses(alpha[None, None], vae_stride, fit, None if threshold < 0 else threshold)
        h, w = alpha.shape[-2] // vae_stride, alpha.shape[-1] // vae_stride
        maps = render_ellipses(clips[0], h, w)[0, 0]  # (F, h, w): G, white on the object
        return clips, maps[..., None].expand(-1, -1, -1, 3).contiguous()


def _comfy_file(path: str, what: str, kind: str = "vae") -> Path:
    """``path`` as given, else (when ComfyUI runs the node) a name in its ``models/vae`` folder (``kind`` "vae")
    or its ``input`` folder (``kind`` "input")."""
    path = path.strip()
    if not path:
        raise WanAlphaError(f"give the {what}")
    if Path(path).exists():
        return Path(path)
    try:
        import folder_paths  # ComfyUI's own module: only there when ComfyUI runs the node

        found = (folder_paths.get_full_path("vae", path) if kind == "vae"
                 else os.path.join(folder_paths.get_input_directory(), path))
    except ImportError:
        found = None
    if found is None or not Path(found).exists():
        where = "models/vae" if kind == "vae" else "input"
        raise WanAlphaError(f"{what} {path} does not exist (neither as a path nor in ComfyUI's {where} folder)")
    return Path(found)


def load_rgba_vae(source: str, path: str, alpha_path: str = "", base_vae: str = "") -> RGBAVAE:
    """The RGBA VAE for decoding, LoRA merged: a folder ``RGBAVAE.save_pretrained`` wrote (or a model folder with
    one in ``vae/``); the reference ``decoder.bin`` on the Wan2.1 VAE ``base_vae``; or ComfyUI's repackaged
    ``wan_alpha_2.1_vae_rgb_channel`` (``path``) / ``_alpha_channel`` (``alpha_path``) pair, two full Wan2.1
    VAEs in the original key layout whose decoders are the merged RGB and alpha decoders (the RGB file also
    serves as the base unless ``base_vae`` is given)."""
    # diffusers and peft load here, not when ComfyUI imports the nodes at start-up
    from ..models.reference_vae import load_merged_decoder, load_reference_rgba_vae
    from ..models.rgba_vae import RGBAVAE
    from ..models.state_dicts import CheckpointMismatch
    from ..models.wan_loaders import load_wan_vae

    if source == RGBA_VAE_FOLDER:
        folder = _comfy_file(path, "RGBA VAE folder")
        vae = RGBAVAE.from_pretrained(folder / "vae" if (folder / "vae" / "config.json").is_file() else folder)
        if vae.config.lora_rank:
            vae.merge_lora()
        return vae
    if source == REFERENCE_FILE:
        base = load_wan_vae(_comfy_file(base_vae, "Wan2.1 VAE in base_vae (wan_2.1_vae.safetensors or Wan2.1_VAE.pth): "
                                                  "decoder.bin holds only what Wan-Alpha changes"))
        vae, _ = load_reference_rgba_vae(base, _comfy_file(path, "reference decoder.bin"), require_fusion=False)
        vae.merge_lora()
        return vae
    if source == COMFY_PAIR:
        rgb = _comfy_file(path, "RGB decoder (wan_alpha_2.1_vae_rgb_channel)")
        alpha = _comfy_file(alpha_path, "alpha decoder (wan_alpha_2.1_vae_alpha_channel) in alpha_path")
        base_file = _comfy_file(base_vae, "Wan2.1 VAE in base_vae") if base_vae.strip() else rgb
        try:
            base = load_wan_vae(base_file)
        except CheckpointMismatch as err:
            if base_file != rgb:
                raise
            raise WanAlphaError(f"{rgb} is not a whole Wan2.1 VAE, so it cannot serve as the base ({err}): give the "
                                "Wan2.1 VAE (wan_2.1_vae.safetensors) in base_vae") from err
        vae = RGBAVAE.from_base(base, lora_rank=0)
        if base_file != rgb:
            load_merged_decoder(vae, "rgb", rgb)
        load_merged_decoder(vae, "alpha", alpha)
        return vae
    raise WanAlphaError(f"unknown VAE source {source!r}: choose one of {', '.join(VAE_SOURCES)}")


class WanAlphaVAELoader:
    """Load the Wan-Alpha RGBA VAE (both decoders) from our folder, the reference file or ComfyUI's pair."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "source": (list(VAE_SOURCES), {"default": COMFY_PAIR}),
                "path": ("STRING", {"default": "wan_alpha_2.1_vae_rgb_channel.safetensors", "tooltip":
                                    "the RGBA VAE folder, decoder.bin, or the rgb_channel file (a path, or a "
                                    "name in models/vae)"}),
                "dtype": (list(VAE_DTYPES), {"default": "float32", "tooltip": "the reference decodes in float32"}),
            },
            "optional": {
                "alpha_path": ("STRING", {"default": "wan_alpha_2.1_vae_alpha_channel.safetensors"}),
                "base_vae": ("STRING", {"default": "", "tooltip": "Wan2.1 VAE (wan_2.1_vae.safetensors): needed "
                                        "for decoder.bin"}),
            },
        }

    RETURN_TYPES = (RGBA_VAE,)
    RETURN_NAMES = ("rgba_vae",)
    FUNCTION = "load"
    CATEGORY = CATEGORY

    def load(self, source: str, path: str, dtype: str, alpha_path: str = "", base_vae: str = "") -> tuple[RGBAVAE]:
        vae = load_rgba_vae(source, path, alpha_path, base_vae)
        return (torch.nn.Module.to(vae, VAE_DTYPES[dtype]).eval(),)  # ModelMixin.to warns on dtype casts


def _torch_device() -> torch.device:
    try:
        import comfy.model_management  # ComfyUI's device choice when it runs the node

        return comfy.model_management.get_torch_device()
    except ImportError:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class WanAlphaDecode:
    """Decode a Wan LATENT with the RGBA VAE into IMAGE (RGB) + MASK (alpha)."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "samples": ("LATENT",),
                "rgba_vae": (RGBA_VAE,),
                "tiled": ("BOOLEAN", {"default": False, "tooltip": "decode in spatial tiles (less memory)"}),
                "mask_means": (list(MASK_MEANS), {"default": COMFY_MASK, "tooltip": "1 - alpha feeds "
                                                  "JoinImageWithAlpha directly"}),
            },
        }

    RETURN_TYPES = ("IMAGE", "MASK")
    RETURN_NAMES = ("image", "mask")
    FUNCTION = "decode"
    CATEGORY = CATEGORY

    def decode(self, samples: dict, rgba_vae: RGBAVAE, tiled: bool, mask_means: str) -> tuple[torch.Tensor, torch.Tensor]:
        latent = normalize_comfy_latent(samples["samples"])  # undo ComfyUI's Wan21 scaling; the VAE applies its own
        device, home = _torch_device(), rgba_vae.device
        if tiled:
            rgba_vae.enable_tiling()
        else:
            rgba_vae.disable_tiling()
        rgba_vae.to(device)
        try:
            with torch.no_grad():
                rgb, alpha = rgba_vae.decode(latent.to(device))
        finally:
            rgba_vae.to(home)  # give the GPU back to the DiT between runs
        return clip_to_frames(rgb, alpha, mask_means)


def _output_dir(output_dir: str) -> tuple[Path, bool]:
    """The folder to write in, and whether it is ComfyUI's output folder (then the page can preview files)."""
    if output_dir.strip():
        return Path(output_dir.strip()), False
    try:
        import folder_paths  # ComfyUI's own module

        return Path(folder_paths.get_output_directory()), True
    except ImportError:
        raise WanAlphaError("not running inside ComfyUI: give output_dir, the folder to write in") from None


def numbered_path(folder: Path, prefix: str, suffix: str) -> Path:
    """``folder/prefix_00001_<suffix>``, the first number not taken (ComfyUI's naming); ``prefix`` may name
    subfolders, which are created, but must stay inside ``folder``."""
    base = (folder / prefix).resolve()
    if folder.resolve() not in base.parents:
        raise WanAlphaError(f"filename_prefix {prefix!r} leads outside the output folder {folder}")
    base.parent.mkdir(parents=True, exist_ok=True)
    counter = 1
    while (path := base.parent / f"{base.name}_{counter:05}_{suffix}").exists():
        counter += 1
    return path


class WanAlphaSaveVideo:
    """Write an RGBA video (IMAGE frames + alpha) in any format of wan_alpha.io, never over an existing file."""

    @classmethod
    def INPUT_TYPES(cls) -> dict:
        return {
            "required": {
                "images": ("IMAGE",),
                "filename_prefix": ("STRING", {"default": "wan_alpha/clip"}),
                "format": (list(WRITABLE_FORMATS), {"default": "webm", "tooltip": "webm: browsers; mov: ProRes 4444 "
                                                    "for editors; png/zip: frames; apng/webp/gif: web"}),
                "fps": ("FLOAT", {"default": DEFAULT_FPS, "min": 0.01, "max": 240.0, "step": 0.01}),
                "quality": ("INT", {"default": -1, "min": -1, "max": 100, "tooltip": "-1: the format's default"}),
                "mask_means": (list(MASK_MEANS), {"default": COMFY_MASK}),
            },
            "optional": {
                "mask": ("MASK",),
                "output_dir": ("STRING", {"default": "", "tooltip": "empty: ComfyUI's output folder"}),
            },
        }

    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    FUNCTION = "save"
    OUTPUT_NODE = True
    CATEGORY = CATEGORY

    def save(self, images: torch.Tensor, filename_prefix: str, format: str, fps: float, quality: int, mask_means: str,
             mask: torch.Tensor | None = None, output_dir: str = "") -> dict:
        alpha = alpha_of(images, mask, mask_means)
        video = RGBAVideo.from_tensors(*frames_to_clip(images, alpha), fps)
        folder, comfy_output = _output_dir(output_dir)
        fmt = FORMATS.get(format)
        if fmt is None or fmt.write is None:
            raise WanAlphaError(f"unknown format {format!r}: choose one of {', '.join(WRITABLE_FORMATS)}")
        path = write_video(numbered_path(folder, filename_prefix, fmt.suffix), video, format=format,
                           quality=None if quality < 0 else quality)
        ui = {}
        if comfy_output and format in BROWSER_PREVIEWS:
            subfolder = os.path.relpath(path.parent, folder.resolve())
            ui = {"images": [{"filename": path.name, "subfolder": "" if subfolder == "." else subfolder,
                              "type": "output"}], "animated": (True,)}
        return {"ui": ui, "result": (str(path),)}


NODE_CLASS_MAPPINGS = {
    "WanAlphaMeanShiftNoise": WanAlphaMeanShiftNoise,
    "WanAlphaFitEllipses": WanAlphaFitEllipses,
    "WanAlphaVAELoader": WanAlphaVAELoader,
    "WanAlphaDecode": WanAlphaDecode,
    "WanAlphaSaveVideo": WanAlphaSaveVideo,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "WanAlphaMeanShiftNoise": "Wan-Alpha Transparency Noise",
    "WanAlphaFitEllipses": "Wan-Alpha Fit Ellipses",
    "WanAlphaVAELoader": "Wan-Alpha Load RGBA VAE",
    "WanAlphaDecode": "Wan-Alpha RGBA Decode",
    "WanAlphaSaveVideo": "Wan-Alpha Save RGBA Video",
}
