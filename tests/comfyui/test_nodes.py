"""The ComfyUI nodes, called as ComfyUI calls them (tests/comfyui/harness.py), with its tensor layouts:
the transparency noise, the ellipse fit, the RGBA VAE from each of its three file layouts, the writer."""

import importlib.util
import inspect
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKLWan
from safetensors.torch import load_file, save_file

from tests.comfyui.harness import (
    Link,
    RandomNoise,
    call,
    declared_inputs,
    is_widget,
    run,
    widget_defaults,
)
from tests.models.reference_layouts import original_vae_name, reference_vae_file
from tests.tiny import VAE_WAN21, tiny_vae
from wan_alpha import EMBEDDED_MODEL
from wan_alpha.comfyui import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from wan_alpha.comfyui import nodes as comfy_nodes
from wan_alpha.comfyui.layouts import (
    ALPHA_MASK,
    COMFY_MASK,
    WAN21_LATENTS_MEAN,
    WAN21_LATENTS_STD,
)
from wan_alpha.errors import WanAlphaError
from wan_alpha.io import FORMATS, read_video
from wan_alpha.io.masks import save_mask
from wan_alpha.models.rgba_vae import RGBAVAE
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.rgba import Ellipse
from wan_alpha.sampling import (
    ellipse_masks,
    fit_alpha_ellipses,
    guided_velocity,
    sample_flow,
)

pytestmark = pytest.mark.usefixtures("one_thread")
REPO = Path(__file__).resolve().parents[2]
Noise, Fit, Loader, Decode, Save = (NODE_CLASS_MAPPINGS[n] for n in (
    "WanAlphaMeanShiftNoise", "WanAlphaFitEllipses", "WanAlphaVAELoader", "WanAlphaDecode", "WanAlphaSaveVideo"))


# ---------------------------------------------------------------- registration and conventions
@pytest.mark.parametrize("name", sorted(NODE_CLASS_MAPPINGS))
def test_every_node_declares_what_comfyui_reads(name):
    node = NODE_CLASS_MAPPINGS[name]
    assert name in NODE_DISPLAY_NAME_MAPPINGS and node.CATEGORY == "wan-alpha"
    assert isinstance(inspect.getattr_static(node, "INPUT_TYPES"), classmethod)
    assert isinstance(node.RETURN_TYPES, tuple) and callable(getattr(node, node.FUNCTION))
    assert len(getattr(node, "RETURN_NAMES", node.RETURN_TYPES)) == len(node.RETURN_TYPES)
    function = inspect.signature(getattr(node, node.FUNCTION))
    assert list(function.parameters)[1:] == list(declared_inputs(node))  # ComfyUI passes every input by name
    defaults = widget_defaults(node)
    for widget, (_, kind, options) in declared_inputs(node).items():  # the page's defaults obey their own limits
        if isinstance(kind, list):
            assert defaults[widget] in kind
        elif is_widget(kind):
            assert options.get("min", defaults[widget]) <= defaults[widget] <= options.get("max", defaults[widget])


def test_wan21_statistics_are_comfyuis_and_diffusers():
    # comfy/latent_formats.py Wan21 (scale_factor 1.0), copied from ComfyUI's source
    comfy_mean = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
                  0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]
    comfy_std = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
                 3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]
    assert list(WAN21_LATENTS_MEAN) == comfy_mean and list(WAN21_LATENTS_STD) == comfy_std
    defaults = inspect.signature(AutoencoderKLWan.__init__).parameters
    assert defaults["latents_mean"].default == comfy_mean and defaults["latents_std"].default == comfy_std


def load_like_comfyui(folder: Path):
    """ComfyUI's ``load_custom_node`` for a folder: import its __init__.py under the folder's name."""
    spec = importlib.util.spec_from_file_location(folder.name, folder / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[folder.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[folder.name]
    return module


def test_the_documented_installs_load_in_comfyuis_loader(tmp_path):
    """Both ways docs/comfyui.md gives: the package folder symlinked into custom_nodes, or the shim it prints."""
    link = tmp_path / "custom_nodes" / "wan_alpha_nodes"
    link.parent.mkdir()
    link.symlink_to(Path(comfy_nodes.__file__).parent, target_is_directory=True)
    (shim_text,) = re.findall(r"```python\n(.*?)```", (REPO / "docs" / "comfyui.md").read_text(), re.DOTALL)
    shim = tmp_path / "shim" / "wan_alpha_nodes"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(shim_text)
    for folder in (link, shim):
        module = load_like_comfyui(folder)
        assert module.NODE_CLASS_MAPPINGS == NODE_CLASS_MAPPINGS
        assert module.NODE_DISPLAY_NAME_MAPPINGS == NODE_DISPLAY_NAME_MAPPINGS


def test_the_harness_refuses_what_comfyui_refuses():
    with pytest.raises(AssertionError, match="required input 'noise' missing"):
        run(Noise)
    with pytest.raises(AssertionError, match="LATENT output cannot feed a NOISE"):
        run(Noise, noise=Link(RandomNoise(0), "LATENT"))
    with pytest.raises(AssertionError, match="> max"):
        run(Noise, noise=Link(RandomNoise(0), "NOISE"), center_x=1.5)
    with pytest.raises(AssertionError, match="is not one of"):
        run(Save, images=Link(torch.zeros(1, 8, 8, 4), "IMAGE"), format="mp4")


# ---------------------------------------------------------------- the transparency noise
def empty_latent(batch=1, frames=3, height=6, width=10):
    """EmptyHunyuanLatentVideo's LATENT: zeros [B, 16, 1 + (length - 1) // 4, H // 8, W // 8]."""
    return {"samples": torch.zeros(batch, 16, frames, height, width)}


def shifted(**inputs):
    (noise,) = run(Noise, noise=Link(RandomNoise(7), "NOISE"), **inputs)
    return noise


def test_ellipse_noise_is_randomnoise_plus_the_shift_outside_the_ellipse():
    latent = empty_latent()
    noise = shifted(center_x=0.25, width=0.3, height=0.6, shift_dtype="float32")
    assert noise.seed == 7  # SamplerCustomAdvanced hands noise.seed to the sampler
    shift = noise.generate_noise(latent) - RandomNoise(7).generate_noise(latent)
    expected = 0.05 * (1 - ellipse_masks(Ellipse(0.25, 0.5, 0.3, 0.6), None, 3, 6, 10))
    assert torch.allclose(shift, expected.expand_as(shift), atol=1e-6)
    assert shift[..., 3, 2].abs().max() < 1e-6 and shift[..., 3, 9].min() > 0.04  # object left, transparent right


def test_bfloat16_shift_rounds_like_the_reference():
    latent = empty_latent()
    eps = shifted(shift_dtype="bfloat16").generate_noise(latent)
    mask = ellipse_masks(Ellipse(0.5, 0.5, 0.5, 0.5), None, 3, 6, 10)
    reference = RandomNoise(7).generate_noise(latent) + ((1 - mask.bfloat16()) * torch.tensor(0.05, dtype=torch.bfloat16))
    assert eps.dtype == torch.float32 and torch.equal(eps, reference)


def test_moving_ellipse_starts_and_ends_where_asked():
    latent = empty_latent(frames=5)
    noise = shifted(source="moving ellipse", center_x=0.25, width=0.2, end_center_x=0.75, end_width=0.2, shift_dtype="float32")
    shift = (noise.generate_noise(latent) - RandomNoise(7).generate_noise(latent))[0, 0, :, 3]  # (F, w) middle row
    columns = shift.argmin(dim=-1)  # least shift = the ellipse's centre
    assert columns[0] == 2 and columns[-1] == 7 and (columns.diff() >= 0).all()


def test_mask_file_noise_and_a_mask_with_the_wrong_frame_count(tmp_path, monkeypatch):
    mask = torch.rand(3, 6, 10)
    save_mask(tmp_path / "g.npy", mask)
    noise = shifted(source="mask file", mask_file=str(tmp_path / "g.npy"), shift_dtype="float32")
    latent = empty_latent(batch=2)
    shift = noise.generate_noise(latent) - RandomNoise(7).generate_noise(latent)
    assert torch.allclose(shift, (0.05 * (1 - mask)).expand_as(shift), atol=1e-6)
    with pytest.raises(WanAlphaError, match="has 3 latent frames .* but the video has 5"):
        noise.generate_noise(empty_latent(frames=5))
    with pytest.raises(WanAlphaError, match="give the mask_file"):
        shifted(source="mask file")

    class FolderPaths:  # ComfyUI's folder_paths: a bare name is looked up in ComfyUI's input folder
        @staticmethod
        def get_input_directory():
            return str(tmp_path)

    monkeypatch.setitem(sys.modules, "folder_paths", FolderPaths)
    assert torch.equal(shifted(source="mask file", mask_file="g.npy", shift_dtype="float32").generate_noise(latent), noise.generate_noise(latent))
    with pytest.raises(WanAlphaError, match="nope.npy does not exist .* ComfyUI's input folder"):
        shifted(source="mask file", mask_file="nope.npy")


def test_the_noise_keeps_randomnoises_batch_index():
    latent = {**empty_latent(batch=2), "batch_index": [3, 1]}
    noise = shifted(shift_dtype="float32")
    shift = noise.generate_noise(latent) - RandomNoise(7).generate_noise(latent)
    assert torch.allclose(shift[0], shift[1], atol=1e-6)  # the same map for every latent of the batch
    assert not torch.equal(noise.generate_noise(latent)[0], noise.generate_noise(latent)[1])


def test_noise_refuses_image_latents():
    with pytest.raises(WanAlphaError, match=r"video latent \[B, C, F, h, w\], got \(1, 4, 8, 8\)"):
        shifted().generate_noise({"samples": torch.zeros(1, 4, 8, 8)})


# ---------------------------------------------------------------- fitting ellipses to an alpha video
def alpha_video(frames=9, height=32, width=48):
    """A soft disc moving right across the frame: alpha [T, H, W] in 0..1."""
    ys, xs = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
    centres = torch.linspace(12, 36, frames)
    return torch.stack([((64 - (xs - c) ** 2 - (ys - 16) ** 2) / 16).clamp(0, 1) for c in centres])


def test_fit_from_an_rgba_image_or_either_mask_convention_agree_with_the_sampler():
    alpha = alpha_video()
    rgba = torch.cat([torch.rand(*alpha.shape, 3), alpha[..., None]], dim=-1)
    by_image, preview = run(Fit, image=Link(rgba, "IMAGE"))
    by_comfy_mask, _ = run(Fit, mask=Link(1 - alpha, "MASK"), mask_means=COMFY_MASK)  # LoadImage: 1 - alpha
    by_alpha, _ = run(Fit, mask=Link(alpha, "MASK"), mask_means=ALPHA_MASK)
    expected = fit_alpha_ellipses(alpha[None, None], 8)
    assert by_image == by_comfy_mask == by_alpha == expected
    xs = [e.cx for e in by_image[0]]
    assert len(xs) == 3 and xs[0] < 0.4 and xs[-1] > 0.6  # it follows the disc
    assert preview.shape == (3, 4, 6, 3) and preview[0, 2, 1:3].min() > 0.5 > preview[0, 2, 5].max()


def test_fit_needs_alpha_and_names_the_fix():
    with pytest.raises(WanAlphaError, match="no alpha: connect a MASK, or an RGBA IMAGE"):
        run(Fit, image=Link(torch.rand(9, 32, 48, 3), "IMAGE"))
    with pytest.raises(WanAlphaError, match="connect one of them"):
        run(Fit, image=Link(torch.rand(9, 32, 48, 4), "IMAGE"), mask=Link(torch.rand(9, 32, 48), "MASK"))
    with pytest.raises(WanAlphaError, match="not 1 \\+ 4k"):
        run(Fit, mask=Link(torch.rand(8, 32, 48), "MASK"))


def test_fitted_ellipses_drive_the_noise():
    (ellipses, _) = run(Fit, mask=Link(alpha_video(), "MASK"), mask_means=ALPHA_MASK)
    (noise,) = run(Noise, noise=Link(RandomNoise(1), "NOISE"), source="fitted ellipses",
                   ellipses=Link(ellipses, "WAN_ALPHA_ELLIPSES"), shift_dtype="float32")
    latent = empty_latent(frames=3, height=4, width=6)
    shift = (noise.generate_noise(latent) - RandomNoise(1).generate_noise(latent))[0, 0, :, 2]
    assert shift[0].argmin() < shift[-1].argmin()  # the unshifted spot moves right with the disc
    with pytest.raises(WanAlphaError, match="fitted ellipses has 3 latent frames"):
        noise.generate_noise(empty_latent(frames=2))
    with pytest.raises(WanAlphaError, match="connect Wan-Alpha Fit Ellipses"):
        shifted(source="fitted ellipses")


# ---------------------------------------------------------------- the RGBA VAE: load and decode
def comfy_latent(normalised: torch.Tensor) -> dict:
    """What a ComfyUI sampler hands on: the DiT's latent with latent_formats.Wan21.process_out applied."""
    shape = (1, -1, 1, 1, 1)
    return {"samples": normalised * torch.tensor(WAN21_LATENTS_STD).view(shape) + torch.tensor(WAN21_LATENTS_MEAN).view(shape)}


def decoded(vae: RGBAVAE, latent: torch.Tensor, **inputs):
    return run(Decode, samples=Link(comfy_latent(latent), "LATENT"), rgba_vae=Link(vae, "WAN_ALPHA_RGBA_VAE"), **inputs)


def test_decode_gives_comfyuis_image_and_mask_of_the_vaes_own_decode(tmp_path):
    torch.manual_seed(0)
    vae = tiny_vae()  # its own latent statistics differ from Wan2.1's: the node must undo ComfyUI's scaling
    vae.register_to_config(latents_mean=(torch.randn(16) * 0.3).tolist(), latents_std=(torch.rand(16) + 0.5).tolist())
    vae.save_pretrained(tmp_path / "model" / "vae")
    (loaded,) = run(Loader, source="rgba_vae folder", path=str(tmp_path / "model"))
    latent = torch.randn(2, 16, 2, 2, 3)
    image, mask = decoded(loaded, latent)
    with torch.no_grad():
        rgb, alpha = vae.decode(latent)
    assert image.shape == (2 * 5, 16, 24, 3) and mask.shape == (2 * 5, 16, 24)  # [B*T, H, W, C] as VAEDecode
    assert torch.allclose(image[5:10], ((rgb[1] + 1) / 2).clamp(0, 1).permute(1, 2, 3, 0), atol=1e-5)
    assert torch.allclose(mask, 1 - alpha[:, 0].flatten(0, 1), atol=1e-5)  # ComfyUI's 1 - alpha
    _, alpha_mask = decoded(loaded, latent, mask_means=ALPHA_MASK, tiled=True)
    assert torch.allclose(alpha_mask, alpha[:, 0].flatten(0, 1), atol=1e-5)
    with pytest.raises(WanAlphaError, match=r"Wan2.1 video latent \[B, 16, F, h, w\]"):
        run(Decode, samples=Link({"samples": torch.zeros(1, 4, 8, 8)}, "LATENT"), rgba_vae=Link(loaded, "WAN_ALPHA_RGBA_VAE"))


@pytest.fixture(scope="module")
def reference_files(tmp_path_factory):
    """A Wan2.1-layout RGBA VAE with trained-looking LoRA and fusion, written as the reference ``decoder.bin``,
    as ComfyUI's merged rgb/alpha pair (original key names) and its base as ``wan_2.1_vae.safetensors``."""
    folder = tmp_path_factory.mktemp("reference")
    torch.manual_seed(0)
    base = AutoencoderKLWan(**VAE_WAN21).eval()
    vae = RGBAVAE.from_base(base, lora_rank=4, lora_alpha=1.0).eval()
    with torch.no_grad():
        for name, p in vae.named_parameters():
            if "lora_B" in name or name.startswith("fusion."):
                p.add_(torch.randn(p.shape) * 0.05)
    torch.save(reference_vae_file(vae), folder / "decoder.bin")
    save_file({original_vae_name(k): v.contiguous() for k, v in base.state_dict().items()}, folder / "wan_2.1_vae.safetensors")
    merged = RGBAVAE.from_base(base, lora_rank=4, lora_alpha=1.0)
    merged.load_state_dict(vae.state_dict())
    merged.merge_lora()
    encoder = {original_vae_name(k): v for k, v in base.state_dict().items() if k.startswith(("encoder.", "quant_conv."))}
    for which, decoder in (("rgb", merged.vae_rgb), ("alpha", merged.vae_alpha)):
        full = {**encoder, **{original_vae_name(k): v.contiguous() for k, v in decoder.state_dict().items()}}
        assert "decoder.middle.0.residual.0.gamma" in full  # the key ComfyUI's VAELoader detects a Wan VAE by
        save_file(full, folder / f"wan_alpha_2.1_vae_{which}_channel.safetensors")
    return folder, vae


@pytest.mark.parametrize("inputs", [
    {"source": "reference decoder.bin", "path": "decoder.bin", "base_vae": "wan_2.1_vae.safetensors"},
    {"source": "comfyui rgb+alpha pair", "path": "wan_alpha_2.1_vae_rgb_channel.safetensors",
     "alpha_path": "wan_alpha_2.1_vae_alpha_channel.safetensors"},
    {"source": "comfyui rgb+alpha pair", "path": "wan_alpha_2.1_vae_rgb_channel.safetensors",
     "alpha_path": "wan_alpha_2.1_vae_alpha_channel.safetensors", "base_vae": "wan_2.1_vae.safetensors"},
], ids=["decoder.bin", "comfyui-pair", "comfyui-pair-and-base"])
def test_reference_and_comfyui_files_decode_as_the_native_model(reference_files, inputs):
    folder, vae = reference_files
    paths = {k: str(folder / v) if k != "source" else v for k, v in inputs.items()}
    (loaded,) = run(Loader, **paths)
    assert loaded.config.lora_rank == 0 and loaded.dtype == torch.float32
    latent = torch.randn(1, 16, 2, 2, 2)
    image, mask = decoded(loaded, latent)
    with torch.no_grad():
        rgb, alpha = vae.decode(latent)
    assert torch.allclose(image, ((rgb[0] + 1) / 2).clamp(0, 1).permute(1, 2, 3, 0), atol=1e-5)
    assert torch.allclose(mask, 1 - alpha[0, 0], atol=1e-5)


def test_a_decoder_only_pair_needs_the_base_vae(reference_files, tmp_path):
    """Should ComfyUI's files hold only the decoders, the RGB file cannot be the base: the node says what to give."""
    folder, vae = reference_files
    for which in ("rgb", "alpha"):
        full = load_file(folder / f"wan_alpha_2.1_vae_{which}_channel.safetensors")
        save_file({k: v for k, v in full.items() if not k.startswith(("encoder.", "conv1."))}, tmp_path / f"{which}.safetensors")
    pair = {"source": "comfyui rgb+alpha pair", "path": str(tmp_path / "rgb.safetensors"),
            "alpha_path": str(tmp_path / "alpha.safetensors")}
    with pytest.raises(WanAlphaError, match="is not a whole Wan2.1 VAE.*give the Wan2.1 VAE .* in base_vae"):
        run(Loader, **pair)
    (loaded,) = run(Loader, **pair, base_vae=str(folder / "wan_2.1_vae.safetensors"))
    latent = torch.randn(1, 16, 1, 2, 2)
    with torch.no_grad():
        assert torch.allclose(decoded(loaded, latent)[1], 1 - vae.decode(latent)[1][0, 0], atol=1e-5)


def test_loader_names_missing_files_and_finds_names_in_comfyuis_vae_folder(reference_files, monkeypatch):
    folder, _ = reference_files
    with pytest.raises(WanAlphaError, match="give the Wan2.1 VAE in base_vae"):
        run(Loader, source="reference decoder.bin", path=str(folder / "decoder.bin"))  # no base_vae
    with pytest.raises(WanAlphaError, match="nope.safetensors does not exist"):
        run(Loader, source="comfyui rgb+alpha pair", path="nope.safetensors")

    class FolderPaths:  # ComfyUI's folder_paths: names resolved in models/vae
        @staticmethod
        def get_full_path(kind, name):
            return str(folder / name) if kind == "vae" and (folder / name).exists() else None

    monkeypatch.setitem(sys.modules, "folder_paths", FolderPaths)
    (loaded,) = run(Loader, source="comfyui rgb+alpha pair")  # the widget defaults: ComfyUI's file names
    assert isinstance(loaded, RGBAVAE)


# ---------------------------------------------------------------- writing RGBA video
def rgba_frames(frames=5, height=16, width=16):
    torch.manual_seed(0)
    alpha = torch.zeros(frames, height, width)
    alpha[:, 4:12, 2:10] = 1.0
    alpha[:, 4:12, 10:14] = 0.5
    return torch.rand(frames, height, width, 3), alpha


@pytest.mark.parametrize("format", comfy_nodes.WRITABLE_FORMATS)
def test_save_writes_every_io_format_with_its_alpha(tmp_path, format):
    image, alpha = rgba_frames()
    (path,), ui = call(Save, images=Link(image, "IMAGE"), mask=Link(1 - alpha, "MASK"), format=format,
                       output_dir=str(tmp_path), filename_prefix="clips/fire")
    suffix = FORMATS[format].suffix  # "" for the folder formats
    assert Path(path) == tmp_path / "clips" / f"fire_00001_{suffix}" and ui == {}
    video = read_video(path, format=format)
    written = torch.from_numpy(video.alpha.astype(np.float32) / 255)
    fmt = FORMATS[format]
    if fmt.alpha_bits == 1:  # GIF: 1-bit alpha
        assert torch.equal(written > 0.5, alpha >= 0.5)
    else:
        # uint8 rounding; the stacked MP4's alpha is H.264 luma, which rings at hard edges (docs/formats.md)
        lossy = 16 if format == "mp4-stacked" else 8
        assert (written - alpha).abs().max() <= (0.5 if fmt.lossless else lossy) / 255 + 1e-6
    assert video.num_frames == 5 and video.fps == pytest.approx(16)


def test_save_never_overwrites_and_takes_alpha_from_an_rgba_image(tmp_path):
    image, alpha = rgba_frames()
    rgba = Link(torch.cat([image, alpha[..., None]], dim=-1), "IMAGE")  # JoinImageWithAlpha's output
    first = run(Save, images=rgba, format="zip", output_dir=str(tmp_path))[0]
    second = run(Save, images=rgba, format="zip", output_dir=str(tmp_path))[0]
    assert first.endswith("clip_00001_.zip") and second.endswith("clip_00002_.zip")
    assert np.array_equal(read_video(first).frames, read_video(second).frames)
    assert np.array_equal(read_video(first).alpha, np.rint(alpha.numpy() * 255).astype(np.uint8))
    with pytest.raises(WanAlphaError, match="leads outside the output folder"):
        run(Save, images=rgba, output_dir=str(tmp_path), filename_prefix="../escape")
    with pytest.raises(WanAlphaError, match="give output_dir"):
        run(Save, images=rgba)  # not inside ComfyUI and no folder given


def test_save_goes_to_comfyuis_output_folder_with_a_preview(tmp_path, monkeypatch):
    class FolderPaths:
        @staticmethod
        def get_output_directory():
            return str(tmp_path)

    monkeypatch.setitem(sys.modules, "folder_paths", FolderPaths)
    image, alpha = rgba_frames()
    (path,), ui = call(Save, images=Link(image, "IMAGE"), mask=Link(alpha, "MASK"), mask_means=ALPHA_MASK, format="webp")
    assert Path(path) == tmp_path / "wan_alpha" / "clip_00001_.webp"
    assert ui == {"images": [{"filename": "clip_00001_.webp", "subfolder": "wan_alpha", "type": "output"}],
                  "animated": (True,)}
    assert np.array_equal(read_video(path).alpha, np.rint(alpha.numpy() * 255).astype(np.uint8))


# ---------------------------------------------------------------- the example workflow's chain, end to end
def test_the_node_chain_puts_the_embedded_models_subject_where_the_ellipse_says(tmp_path):
    """RandomNoise -> Transparency Noise -> sampler -> RGBA Decode -> Save RGBA Video with the embedded tiny model.
    Our flow sampler stands in for SamplerCustomAdvanced + BasicGuider (ComfyUI cannot run here): it starts from
    the NOISE at sigma 1 in the normalised space, and its result reaches the decoder as ComfyUI hands it on
    (Wan21 ``process_out``), though the tiny VAE normalises with statistics of its own."""
    pipe = WanAlphaPipeline.from_pretrained(EMBEDDED_MODEL)
    cond, _ = pipe.encode_prompt(["a red ball"], None, False)
    velocity = guided_velocity(pipe.transformer, cond)
    (vae,) = run(Loader, source="rgba_vae folder", path=str(EMBEDDED_MODEL))
    centres = []
    for center_x in (0.25, 0.75):
        (noise,) = run(Noise, noise=Link(RandomNoise(0), "NOISE"), center_x=center_x, width=0.4, height=0.6,
                       mu_shift=pipe.config.mu_shift)
        initial = noise.generate_noise(empty_latent(frames=2, height=8, width=8))  # 5 frames of 64x64
        image, mask = decoded(vae, sample_flow(velocity, initial, pipe.scheduler, pipe.config.num_inference_steps))
        (path,) = run(Save, images=Link(image, "IMAGE"), mask=Link(mask, "MASK"), format="webm", output_dir=str(tmp_path))
        alpha = read_video(path).alpha.astype(np.float64) / 255
        assert 0.005 < alpha.mean() < 0.9, alpha.mean()  # a real matte, neither empty nor full
        centres.append((alpha.sum(axis=(0, 1)) * (np.arange(64) + 0.5)).sum() / alpha.sum() / 64)
    assert centres[0] < 0.4 and centres[1] > 0.6, centres
