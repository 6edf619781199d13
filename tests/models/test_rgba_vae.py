import pytest
import torch
from diffusers import AutoencoderKLWan
from diffusers.models.autoencoders.autoencoder_kl_wan import WanCausalConv3d
from safetensors.torch import load_file, save_file

from tests.tiny import VAE_STRIDE_4, VAE_Z4
from wan_alpha.errors import WanAlphaError
from wan_alpha.models import RGBAVAE

TINY_BASE = {**VAE_Z4, "latents_mean": [0.1, -0.2, 0.3, 0.0], "latents_std": [1.5, 0.5, 2.0, 1.0]}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def base():
    torch.manual_seed(0)
    return AutoencoderKLWan(**TINY_BASE).eval()


@pytest.fixture()
def vae(base):
    torch.manual_seed(1)
    return RGBAVAE.from_base(base, lora_rank=4)


def clip(frames=5, size=16, batch=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    rgb = torch.rand(batch, 3, frames, size, size, generator=g) * 2 - 1
    alpha = torch.rand(batch, 1, frames, size, size, generator=g)
    alpha[..., : size // 2, :] = 0.0  # a transparent half, like real clips
    return rgb, alpha


def perturb_lora(model, seed=2):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.05)


@pytest.mark.parametrize("frames", [1, 5, 9, 17])
def test_shapes_and_one_alpha_from_three_channels(vae, frames):
    rgb, alpha = clip(frames)
    with torch.no_grad():
        z = vae.encode(rgb, alpha)
        rgb_hat, alpha_hat = vae.decode(z)
        channels = vae.vae_alpha.decode(vae.denormalize_latents(z)).sample
    assert z.shape == (1, 4, 1 + (frames - 1) // 4, 2, 2)
    assert rgb_hat.shape == rgb.shape and alpha_hat.shape == alpha.shape
    assert channels.shape == rgb.shape  # the alpha decoder gives three channels ...
    torch.testing.assert_close(alpha_hat, (channels.mean(dim=1, keepdim=True) + 1) / 2)  # ... averaged into one alpha


def test_encoding_is_causal_and_chunked(vae):
    """Latent frames of a 9-frame clip equal those of its first 5 frames: the feature cache carries context."""
    rgb, alpha = clip(9)
    with torch.no_grad():
        z9 = vae.encode(rgb, alpha)
        z5 = vae.encode(rgb[:, :, :5], alpha[:, :, :5])
    torch.testing.assert_close(z9[:, :, :2], z5, atol=1e-5, rtol=0)


def test_latents_are_normalised_with_base_statistics(vae):
    rgb, alpha = clip(1)
    with torch.no_grad():
        raw = vae.encode(rgb, alpha, normalized=False)
        z = vae.encode(rgb, alpha)
    mean = torch.tensor(TINY_BASE["latents_mean"]).view(1, 4, 1, 1, 1)
    std = torch.tensor(TINY_BASE["latents_std"]).view(1, 4, 1, 1, 1)
    torch.testing.assert_close(z, (raw - mean) / std)


def test_background_hard_renders_before_encoding(vae):
    from wan_alpha.rgba import hard_render

    rgb, alpha = clip(1)
    colour = torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(vae.encode(rgb, alpha, background=colour), vae.encode(hard_render(rgb, alpha, colour), alpha))


def test_fresh_lora_decoders_equal_the_base_decoder(vae, base):
    z = torch.randn(1, 4, 2, 2, 2)
    with torch.no_grad():
        expected = base.decode(z).sample
        rgb, alpha = vae.decode(z, normalized=False)
    torch.testing.assert_close(rgb, expected)
    torch.testing.assert_close(alpha, (expected.mean(1, keepdim=True) + 1) / 2)


def test_training_decode_clamps_straight_through_so_saturated_pixels_keep_gradients(vae):
    z = torch.randn(1, 4, 2, 2, 2)
    out_bias = vae.vae_rgb.decoder.conv_out.bias
    with torch.no_grad():
        out_bias.add_(1.5)  # push most outputs past +1
    try:
        with torch.no_grad():
            clamped, _ = vae.decode(z, normalized=False)
        z.requires_grad_(True)
        rgb, _, _ = vae.decode_straight_through(z, normalized=False)
    finally:
        with torch.no_grad():
            out_bias.sub_(1.5)
    saturated = (rgb == 1).float()
    assert saturated.mean() > 0.5
    torch.testing.assert_close(rgb.detach(), clamped)  # the values inference gives
    (rgb * saturated).sum().backward()
    assert z.grad.abs().sum() > 0  # through the clamp this gradient would be exactly zero


def test_training_alpha_is_the_mean_of_clamped_channels_as_at_inference(vae):
    # channels that average to -1 but do not all saturate are a haze at inference, so they must be in training too
    z = torch.randn(1, 4, 2, 2, 2)
    out = vae.vae_alpha.decoder.conv_out
    with torch.no_grad():
        out.bias.copy_(torch.tensor([-0.1, -2.0, 0.0]) + out.bias)
    with torch.no_grad():
        _, inference = vae.decode(z, normalized=False)
        _, training, _ = vae.decode_straight_through(z, normalized=False)
    torch.testing.assert_close(training, inference)
    assert inference.min() > 0.1  # the clamped -2.0 channel cannot hide the other two


def test_forward_clamps_straight_through_in_training_mode(vae):
    rgb, alpha = clip(5)
    perturb_lora(vae)
    out_bias = vae.vae_rgb.decoder.conv_out.bias
    with torch.no_grad():
        out_bias.add_(1.5)
    try:
        train_out = vae.train()(rgb, alpha)
        eval_out = vae.eval()(rgb, alpha)
    finally:
        with torch.no_grad():
            out_bias.sub_(1.5)
    torch.testing.assert_close(train_out.rgb.detach(), eval_out.rgb)
    saturated = train_out.rgb == 1
    assert saturated.float().mean() > 0.5
    (train_out.rgb * saturated).sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for n, p in vae.named_parameters() if "vae_rgb" in n)


def test_training_forward_exposes_the_unclamped_alpha_channels(vae):
    rgb, alpha = clip(5)
    perturb_lora(vae)
    out_bias = vae.vae_alpha.decoder.conv_out.bias
    with torch.no_grad():
        out_bias.add_(torch.tensor([1.5, 0.0, -1.5]))  # channels past both ends of the clamp
    try:
        train_out = vae.train()(rgb, alpha)
        eval_out = vae.eval()(rgb, alpha)
    finally:
        with torch.no_grad():
            out_bias.sub_(torch.tensor([1.5, 0.0, -1.5]))
    channels = train_out.alpha_channels
    assert channels.shape == (1, 3, *alpha.shape[2:]) and channels.max() > 1 and channels.min() < -1
    torch.testing.assert_close(train_out.alpha.detach(), (channels.detach().clamp(-1, 1).mean(1, keepdim=True) + 1) / 2)
    torch.testing.assert_close(train_out.alpha.detach(), eval_out.alpha)
    assert eval_out.alpha_channels is None


def test_only_fusion_and_lora_receive_gradients(vae):
    rgb, alpha = clip(5)
    perturb_lora(vae)  # so that gradients reach lora_A too (B starts at zero)
    out = vae(rgb, alpha)
    (out.rgb.square().mean() + out.alpha.mean() + out.latent.square().mean()).backward()
    with_grad = {n for n, p in vae.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    trainable = {n for n, p in vae.named_parameters() if p.requires_grad}
    assert with_grad and with_grad <= trainable
    assert all(n.startswith("fusion.") or ".lora_A." in n or ".lora_B." in n for n in trainable)
    assert any(n.startswith("fusion.") for n in with_grad)
    assert any(n.startswith("vae_rgb.") for n in with_grad) and any(n.startswith("vae_alpha.") for n in with_grad)
    assert not any(p.grad is not None for n, p in vae.named_parameters() if not p.requires_grad)


def test_merge_lora_matches_unmerged_and_restores_plain_layers(vae):
    perturb_lora(vae)
    z = torch.randn(1, 4, 3, 2, 2)
    with torch.no_grad():
        before = vae.decode(z)
        vae.merge_lora()
        after = vae.decode(z)
    assert vae.config.lora_rank == 0
    assert not any("lora" in n for n, _ in vae.named_parameters())
    assert type(vae.vae_rgb.decoder.conv_in) is WanCausalConv3d
    for x, y in zip(before, after):
        torch.testing.assert_close(x, y, atol=1e-5, rtol=0)


@pytest.mark.parametrize("merge", [False, True])
def test_save_load_round_trip(vae, tmp_path, merge):
    perturb_lora(vae)
    if merge:
        vae.merge_lora()
    vae.save_pretrained(tmp_path / "rgba_vae")
    loaded = RGBAVAE.from_pretrained(tmp_path / "rgba_vae")
    assert loaded.config.lora_rank == vae.config.lora_rank
    rgb, alpha = clip(5)
    with torch.no_grad():
        for x, y in zip(vae.eval()(rgb, alpha).to_tuple(), loaded.eval()(rgb, alpha).to_tuple()):
            torch.testing.assert_close(x, y)


def counted_decode(vae, z, expected_calls):
    """decode(z), checking that the progress callback runs once per decoder pass, as decoder_calls predicts."""
    calls = []
    with vae.on_decoder_call(lambda: calls.append(1)):
        out = vae.decode(z)
    assert len(calls) == vae.decoder_calls(z) == expected_calls
    return out


def test_slicing_and_tiling_keep_results(vae):
    rgb, alpha = clip(5, size=32, batch=2)
    with torch.no_grad():
        z = vae.encode(rgb, alpha)
        full = counted_decode(vae, z, 2 * 2)  # 2 decoders x 2 latent frames
        vae.enable_slicing()
        torch.testing.assert_close(vae.encode(rgb, alpha), z, atol=1e-5, rtol=0)
        torch.testing.assert_close(counted_decode(vae, z, 2 * 2 * 2)[1], full[1], atol=1e-5, rtol=0)  # x 2 clips
        vae.disable_slicing()
        vae.enable_tiling(tile_sample_min_height=16, tile_sample_min_width=16,
                          tile_sample_stride_height=8, tile_sample_stride_width=8)
        tiled = counted_decode(vae, z, 2 * 2 * (32 // 8) ** 2)  # x 4x4 tiles
        assert counted_decode(vae, z[..., :2, :2], 2 * 2)[0].shape[-1] == 16  # one 16-px tile: not tiled
    assert tiled[0].shape == full[0].shape and tiled[1].shape == full[1].shape
    assert torch.isfinite(tiled[0]).all()


@pytest.mark.parametrize(
    "rgb_shape, alpha_shape, alpha_value, needle",
    [
        ((1, 3, 5, 16, 16), (1, 1, 5, 16, 16), 1.5, "outside [0, 1]"),
        ((1, 3, 5, 16, 16), (1, 1, 5, 16, 16), -0.1, "outside [0, 1]"),
        ((1, 3, 6, 16, 16), (1, 1, 6, 16, 16), 0.5, "6 frames is not 1 + 4k"),
        ((1, 3, 5, 16, 16), (1, 1, 5, 16, 8), 0.5, "(1, 1, 5, 16, 8)"),
        ((1, 3, 5, 16, 16), (1, 3, 5, 16, 16), 0.5, "(1, 3, 5, 16, 16)"),
        ((1, 3, 5, 20, 16), (1, 1, 5, 20, 16), 0.5, "(1, 3, 5, 20, 16)"),
    ],
)
def test_bad_inputs_raise_clear_errors(vae, rgb_shape, alpha_shape, alpha_value, needle):
    with pytest.raises(WanAlphaError) as err:
        vae.encode(torch.zeros(rgb_shape), torch.full(alpha_shape, alpha_value))
    assert needle in str(err.value)


def test_bad_latent_raises(vae):
    with pytest.raises(WanAlphaError, match=r"\(1, 3, 2, 2, 2\)"):
        vae.decode(torch.zeros(1, 3, 2, 2, 2))


@pytest.mark.parametrize("edit", ["drop", "add"])
def test_loading_checkpoint_with_wrong_keys_names_them(vae, tmp_path, edit):
    folder = tmp_path / "rgba_vae"
    vae.save_pretrained(folder)
    weights = folder / "diffusion_pytorch_model.safetensors"
    state = load_file(weights)
    key = "fusion.conv_out.bias"
    if edit == "drop":
        del state[key]
    else:
        state[key := "fusion.extra.weight"] = torch.zeros(1)
    save_file(state, weights)
    with pytest.raises(WanAlphaError, match=key.replace(".", r"\.")):
        RGBAVAE.from_pretrained(folder)


def test_loading_a_missing_folder_is_a_user_error(tmp_path):
    with pytest.raises(WanAlphaError, match="no config.json"):
        RGBAVAE.from_pretrained(tmp_path / "nowhere")


def test_spatial_stride_is_read_from_the_base_config(vae):
    assert vae.spatial_stride == 8
    model = RGBAVAE.from_base(AutoencoderKLWan(**VAE_STRIDE_4), lora_rank=2)
    assert model.spatial_stride == 4
    z = model.encode(*clip(frames=5, size=16))
    assert z.shape == (1, 16, 2, 4, 4)


def test_base_vae_must_pack_four_frames_per_latent_frame():
    with pytest.raises(WanAlphaError, match="4 frames per latent frame"):
        RGBAVAE(dict(TINY_BASE, dim_mult=[1, 2, 4], temperal_downsample=[False, True]))
