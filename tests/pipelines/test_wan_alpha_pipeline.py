import numpy as np
import pytest
import torch

from wan_alpha.errors import WanAlphaError
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.rgba import Ellipse
from wan_alpha.sampling import SAMPLERS, flow_scheduler
from wan_alpha.sampling.schedules import scheduler_shift

from tests.tiny import tiny_pipeline


@pytest.fixture(scope="module")
def pipe():
    pipe = tiny_pipeline()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def gen(pipe, seed=0, **kwargs):
    kwargs.setdefault("num_inference_steps", 4)
    kwargs.setdefault("guidance_scale", 1.0)
    return pipe("a puff of white smoke", generator=torch.Generator().manual_seed(seed), **kwargs)


def test_output_shapes_dtypes_and_ranges(pipe):
    out = gen(pipe, num_frames=9, height=32, width=48)
    assert out.rgb.shape == (1, 3, 9, 32, 48) and out.rgb.dtype == torch.float32
    assert out.alpha.shape == (1, 1, 9, 32, 48) and out.alpha.dtype == torch.float32
    assert out.rgb.min() >= -1 and out.rgb.max() <= 1 and out.alpha.min() >= 0 and out.alpha.max() <= 1
    (video,) = out.videos
    assert video.frames.shape == (9, 32, 48, 4) and video.frames.dtype.name == "uint8" and video.fps == 16
    assert out.mask.shape == (1, 1, 3, 4, 6)
    # defaults come from the model's config (the size it was trained at)
    assert gen(pipe).rgb.shape == (1, 3, 5, 32, 32)


def test_seeds_are_reproducible(pipe):
    a, b, c = gen(pipe, seed=1), gen(pipe, seed=1), gen(pipe, seed=2)
    assert torch.equal(a.rgb, b.rgb) and torch.equal(a.alpha, b.alpha)
    assert not torch.allclose(a.rgb, c.rgb)


@pytest.mark.parametrize("guidance,passes_per_step", [(1.0, 1), (5.0, 2)])
def test_guidance_one_runs_one_transformer_pass_per_step(pipe, guidance, passes_per_step):
    calls = []
    handle = pipe.transformer.register_forward_hook(lambda *args: calls.append(1))
    try:
        gen(pipe, num_inference_steps=3, guidance_scale=guidance)
    finally:
        handle.remove()
    assert len(calls) == 3 * passes_per_step


@pytest.mark.parametrize("sampler", SAMPLERS)
@pytest.mark.parametrize("steps", [4, 50])
def test_few_and_many_steps_with_every_sampler(pipe, sampler, steps):
    pipe.scheduler = flow_scheduler(sampler)
    seen = []
    try:
        out = gen(pipe, num_inference_steps=steps, guidance_scale=5.0 if steps == 50 else 1.0,
                  callback_on_step_end=lambda p, i, t, kw: seen.append(i))
    finally:
        pipe.scheduler = flow_scheduler("euler")
    assert seen == list(range(steps))
    assert torch.isfinite(out.rgb).all()


def test_initial_noise_is_shifted_on_the_transparent_side(pipe):
    grid = (3, 4, 6)
    mask = torch.zeros(1, 1, *grid)
    mask[..., 1:3, 2:4] = 1
    g = torch.Generator().manual_seed(0)
    latents = pipe.prepare_latents(256, grid, mask, mu=3.0, generator=g)
    assert latents[..., 0, 0].mean().item() == pytest.approx(3.0, abs=0.1)
    assert latents[..., 1:3, 2:4].mean().item() == pytest.approx(0.0, abs=0.1)


def test_mask_and_ellipse_inputs_change_the_result(pipe):
    base = gen(pipe)
    left = gen(pipe, ellipse=Ellipse(0.2, 0.5, 0.3, 0.3), ellipse_end=Ellipse(0.8, 0.5, 0.3, 0.3))
    assert left.mask[0, 0, 0].argmax() != left.mask[0, 0, 1].argmax()
    assert not torch.allclose(base.rgb, left.rgb)
    same = gen(pipe, mask=left.mask[0, 0])
    assert torch.equal(same.rgb, left.rgb)
    assert torch.equal(gen(pipe, mu=0.0).rgb, gen(pipe, mask=torch.ones(2, 4, 4)).rgb)  # G=1: no shift anywhere


def test_latent_grid_follows_the_vae_stride():
    pipe = tiny_pipeline(stride=4)
    pipe.set_progress_bar_config(disable=True)
    assert pipe.vae.spatial_stride == 4
    seen = []
    out = gen(pipe, num_frames=9, height=32, width=48, num_inference_steps=2,
              callback_on_step_end=lambda p, i, t, kw: seen.append(kw["latents"].shape))
    assert seen[0] == (1, 16, 3, 8, 12) and out.mask.shape == (1, 1, 3, 8, 12)
    assert out.rgb.shape == (1, 3, 9, 32, 48) and out.alpha[0, 0].std() > 0
    # a mask on another grid (the reference's published one is 96x170) is resized to the clip's, as the reference does
    assert gen(pipe, mask=torch.ones(2, 8, 8), height=16, width=16).mask.shape == (1, 1, 2, 4, 4)
    with pytest.raises(WanAlphaError, match=r"multiple of 16 \(VAE stride 4 x patch 4\)"):
        gen(pipe, height=40)


def test_callback_can_replace_latents(pipe):
    out = gen(pipe, num_inference_steps=2, callback_on_step_end=lambda p, i, t, kw: {"latents": kw["latents"] * 0})
    ref = pipe.vae.decode(torch.zeros(1, 16, 2, 4, 4))
    assert torch.allclose(out.rgb, ref[0].clamp(-1, 1), atol=1e-5)


def test_batch_of_prompts(pipe):
    out = pipe(["smoke", "a glass sphere"], num_inference_steps=2, guidance_scale=3.0,
               negative_prompt="blurry", generator=torch.Generator().manual_seed(0))
    assert out.rgb.shape[0] == 2 and len(out.videos) == 2


def test_the_config_names_the_default_negative_prompt(pipe):
    run = lambda **kw: gen(pipe, num_inference_steps=2, guidance_scale=3.0, **kw).rgb
    pipe.register_to_config(negative_prompt="blurry")
    try:
        by_default = run()
    finally:
        pipe.register_to_config(negative_prompt="")
    assert torch.equal(by_default, run(negative_prompt="blurry"))
    assert not torch.allclose(by_default, run(), atol=1e-4)  # "" really is another prompt


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(num_frames=6), r"1 \+ 4k"),
        (dict(height=40), "multiple of 16"),
        (dict(width=8), "multiple of 16"),
        (dict(num_inference_steps=0), "at least 1"),
        (dict(guidance_scale=0.5), ">= 1"),
        (dict(mask=torch.zeros(3, 4, 4)), "latent frames"),
        (dict(mask=torch.zeros(2, 4, 4), ellipse=Ellipse(0.5, 0.5, 0.2, 0.2)), "not both"),
        (dict(mu=float("nan")), "finite"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(pipe, kwargs, match):
    with pytest.raises(WanAlphaError, match=match):
        gen(pipe, **kwargs)


def test_bad_prompts(pipe):
    with pytest.raises(WanAlphaError, match="empty"):
        pipe("  ", num_inference_steps=1, guidance_scale=1.0)
    with pytest.warns(UserWarning, match="truncated"):
        pipe("smoke " * 40, num_inference_steps=1, guidance_scale=1.0)


def test_save_and_load_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "model")
    loaded = WanAlphaPipeline.from_pretrained(tmp_path / "model")
    loaded.set_progress_bar_config(disable=True)
    assert type(loaded.vae) is type(pipe.vae) and loaded.config.default_num_frames == 5
    assert torch.allclose(gen(loaded).rgb, gen(pipe).rgb, atol=1e-4)
    with pytest.raises(WanAlphaError, match="not a wan-alpha model folder"):
        WanAlphaPipeline.from_pretrained(tmp_path / "missing")


@pytest.mark.parametrize("sampler", ["unipc", "dpm++"])
def test_a_saved_model_keeps_wan_spacing(pipe, tmp_path, sampler):
    pipe.scheduler = flow_scheduler(sampler, 3.0)
    try:
        pipe.save_pretrained(tmp_path / "model")
    finally:
        pipe.scheduler = flow_scheduler("euler")
    loaded = WanAlphaPipeline.from_pretrained(tmp_path / "model").scheduler
    assert type(loaded) is type(flow_scheduler(sampler)) and scheduler_shift(loaded) == 3.0
    loaded.set_timesteps(4)
    reference = flow_scheduler(sampler, 3.0)
    reference.set_timesteps(4)
    assert torch.equal(loaded.timesteps, reference.timesteps)


def test_loading_shows_no_library_bars_and_decoding_shows_its_own(tmp_path, capsys):
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    tiny_pipeline().save_pretrained(tmp_path / "model")
    settings = lambda: [(lib.get_verbosity(), lib.is_progress_bar_enabled())  # noqa: E731
                        for lib in (diffusers_logging, transformers_logging)]
    before = settings()
    capsys.readouterr()
    loaded = WanAlphaPipeline.from_pretrained(tmp_path / "model")
    assert "Loading" not in capsys.readouterr().err  # diffusers' and transformers' loading bars
    assert settings() == before  # restored for whatever the caller loads next
    gen(loaded, num_inference_steps=1, num_frames=5, height=32, width=32)
    err = capsys.readouterr().err
    assert "denoise: 100%" in err and "| 1/1 " in err  # the sampler's steps
    assert "decode: 100%" in err and "| 4/4 " in err  # 2 decoders x 2 latent frames


@pytest.mark.parametrize("output_type", ["np", "pt", "pil"])
def test_frames_are_straight_rgba_in_the_asked_type(pipe, output_type):
    out = gen(pipe, num_inference_steps=1, output_type=output_type)
    video = out.videos[0].frames  # uint8 (T, H, W, 4)
    if output_type == "pil":
        assert len(out.frames) == 1 and len(out.frames[0]) == 5 and out.frames[0][0].mode == "RGBA"
        frames = np.stack([np.asarray(f) for f in out.frames[0]])
        assert np.array_equal(frames, video)
        return
    frames = out.frames if output_type == "np" else out.frames.permute(0, 1, 3, 4, 2).numpy()
    assert frames.shape == (1, 5, 32, 32, 4) and frames.min() >= 0 and frames.max() <= 1
    assert np.abs(frames[0] * 255 - video).max() <= 0.5 + 1e-3  # the written clip is these frames rounded


def test_num_videos_per_prompt_and_one_generator_per_clip(pipe):
    g = lambda seed: torch.Generator().manual_seed(seed)
    out = pipe(["smoke", "fire"], num_videos_per_prompt=2, num_inference_steps=1, generator=[g(0), g(1), g(2), g(3)])
    assert out.rgb.shape[0] == 4 and len(out.videos) == 4
    alone = pipe("fire", num_inference_steps=1, generator=g(3))  # the 4th clip is "fire" with the 4th generator
    assert torch.allclose(out.rgb[3], alone.rgb[0], atol=1e-5)
    assert not torch.allclose(out.rgb[2], out.rgb[3], atol=1e-3)  # the same prompt twice: two clips
    with pytest.raises(WanAlphaError, match="3 generators for 4 clips"):
        pipe(["smoke", "fire"], num_videos_per_prompt=2, num_inference_steps=1, generator=[g(0), g(1), g(2)])


def test_callback_on_step_end_has_diffusers_signature(pipe):
    seen = []

    def callback(p, step, timestep, callback_kwargs):
        seen.append((p is pipe, step, float(timestep), sorted(callback_kwargs)))
        return {}

    gen(pipe, num_inference_steps=2, callback_on_step_end=callback, callback_on_step_end_tensor_inputs=["latents"])
    assert [s[:2] for s in seen] == [(True, 0), (True, 1)] and seen[0][3] == ["latents"] and seen[0][2] > seen[1][2]
    with pytest.raises(WanAlphaError, match="prompt_embeds"):
        gen(pipe, callback_on_step_end=callback, callback_on_step_end_tensor_inputs=["prompt_embeds"])
    with pytest.raises(WanAlphaError, match="output_type"):
        gen(pipe, output_type="latent")
