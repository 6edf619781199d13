"""``wan-alpha generate``: prompts in, RGBA video files out. The app around :class:`~wan_alpha.pipelines.WanAlphaPipeline`:
prompt files, output names, the device, and every check a user's input needs before the model does any work."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..errors import WanAlphaError
from ..io import WriteOptions, check_writable, read_video, resolve_format, write_preview, write_video
from ..io.files import output_format
from ..io.masks import load_mask
from ..pipelines import WanAlphaFiles, check_sampling_settings, check_video_size
from ..pipelines.conditioning import DEFAULT_CONTEXT_FRAMES, input_size, join_extension, read_inputs
from ..pipelines.loading import check_model_choice, generation_device, load_pipeline, matte_mask
from ..pipelines.memory import MemorySettings, check_fits, describe_estimate, estimate_memory, peak_vram_gib
from ..rgba import Ellipse, latent_frame_count
from .args import parse_size, read_prompts
from .input_checks import check_rotary_range, check_seed
from .masks import model_dit_config, model_stride
from .processes import ProcessShare, start_context_parallel

DEFAULT_SUFFIX = ".webm"
"""Batch outputs without --format: VP9 WebM with alpha (plays in browsers, small)."""


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit].rstrip("-") or "clip"


def _targets(prompts: list[str], output: Path, preview: Path | None, batch: bool, format: str | None) -> list[tuple[Path, Path | None]]:
    """(output, preview) per prompt: the paths as given for one prompt; files in folders for a batch."""
    if not batch:
        return [(output, preview)]
    suffix = DEFAULT_SUFFIX if format is None else resolve_format(output, format).suffix
    names = [f"{i:03d}-{_slug(p)}" for i, p in enumerate(prompts)]
    return [(output / (n + suffix), None if preview is None else preview / f"{n}.mp4") for n in names]


def generate(
    prompts: list[str] | str | None,
    output: str | os.PathLike,
    *,
    model: str | os.PathLike | None = None,
    prompts_file: str | os.PathLike | None = None,
    negative_prompt: str | None = None,
    frames: int | None = None,
    size: str | tuple[int, int] | None = None,
    steps: int | None = None,
    guidance: float | None = None,
    seed: int = 0,
    ellipse: str | Ellipse | None = None,
    ellipse_end: str | Ellipse | None = None,
    mask: str | os.PathLike | None = None,
    mask_from: str | os.PathLike | None = None,
    mask_fit: str | None = None,
    luma_as_alpha: bool = False,
    mu: float | None = None,
    sampler: str | None = None,
    preview: str | os.PathLike | None = None,
    format: str | None = None,
    write_options: WriteOptions | None = None,
    overwrite: bool = False,
    skip_existing: bool = False,
    device: str | None = None,
    wan_files: WanAlphaFiles | None = None,
    memory: MemorySettings | None = None,
    context_parallel: bool = False,
    image: str | os.PathLike | None = None,
    image_alpha: str | os.PathLike | None = None,
    opaque_image: bool = False,
    last_image: str | os.PathLike | None = None,
    loop: bool = False,
    video: str | os.PathLike | None = None,
    strength: float | None = None,
    extend: str | os.PathLike | None = None,
    context_frames: int = DEFAULT_CONTEXT_FRAMES,
) -> list[Path]:
    """Generate one clip per prompt and write it (and an optional H.264 preview); returns the files.

    With one prompt ``output`` (and ``preview``) name files; with several (``prompts_file``) they
    name folders, filled with ``NNN-slug.<format>`` (seeds ``seed``, ``seed+1``, ...; ``skip_existing``
    leaves out prompts whose file exists, so an interrupted batch resumes with the same seeds). ``model``
    defaults to the embedded tiny model; ``steps``, ``guidance``, ``mu`` and ``mask_fit`` to the model's own
    settings. Launched as several processes (torchrun, accelerate launch; see :mod:`.processes`) each generates
    its share of the prompts on its own GPU, or with ``context_parallel`` every clip across all of them. Files,
    prompts and flags are checked before the model is loaded, the size against the model's own VAE stride and
    patch right after, and nothing partial is written.

    Beyond text (docs/image_to_video.md): ``image`` animates an RGBA image (frame 0; ``image_alpha`` gives an RGB
    image its matte, ``opaque_image`` accepts one without), ``last_image`` / ``loop`` pin the last frames too;
    ``video`` restyles an RGBA clip at ``strength`` (SDEdit); ``extend`` continues a clip from its last
    ``context_frames`` frames and writes the clip with the continuation appended.
    """
    clip = None if extend is None else read_video(extend)
    inputs = read_inputs(image, image_alpha, opaque_image, last_image, loop, video, strength, clip, context_frames)
    model = check_model_choice(model, wan_files)
    if isinstance(prompts, str):
        prompts = [prompts]
    if prompts and prompts_file is not None:
        raise WanAlphaError("give a prompt or --prompts-file, not both")
    prompts = read_prompts(prompts_file) if prompts_file is not None else list(prompts or [])
    if not prompts:
        raise WanAlphaError("no prompt given: pass a PROMPT or --prompts-file F")
    if inputs.get("video") is not None and frames is not None:
        raise WanAlphaError("--video keeps the clip's frame count: drop --frames")
    check_seed(seed, len(prompts))
    if skip_existing and overwrite:
        raise WanAlphaError("give --skip-existing or --overwrite, not both")
    if sum(x is not None for x in (mask, mask_from, ellipse)) > 1:
        raise WanAlphaError("give only one of --mask, --mask-from and --ellipse")
    start = Ellipse.parse(ellipse) if isinstance(ellipse, str) else ellipse
    end = Ellipse.parse(ellipse_end) if isinstance(ellipse_end, str) else ellipse_end
    width, height = parse_size(size) if size is not None else (None, None)
    if frames is not None:
        latent_frame_count(frames)
    check_sampling_settings(steps, guidance, mu)  # before a model that may take minutes to load
    folder = model if model is not None else Path(wan_files.model_dir)
    check_rotary_range(model_dit_config(folder), model_stride(folder), latent_frame_count(frames or 1),
                       height or 0, width or 0)  # the sizes asked for, from the configs: before minutes of loading

    batch = prompts_file is not None
    output, preview = Path(output), None if preview is None else Path(preview)
    if batch:
        for folder in (output, preview):
            if folder is not None and folder.exists() and not folder.is_dir():
                raise WanAlphaError(f"{folder} exists and is not a folder: with --prompts-file, -o/--preview name folders")
    targets = _targets(prompts, output, preview, batch, format)
    # launched as N processes (torchrun, accelerate launch): every N-th prompt, or every clip split across them;
    # --skip-existing resumes an interrupted batch: prompts whose output exists are done (seeds stay per prompt)
    share = ProcessShare.from_env(context_parallel=context_parallel)
    mine = [i for i in share.indices(len(prompts)) if not (skip_existing and targets[i][0].exists())]
    for out, prev in (targets[i] for i in mine if share.writes):  # not others' files: they may be writing them now
        if not batch or output.exists():
            check_writable(out, overwrite)
        output_format(out, format, write_options)  # refuses formats that cannot store alpha, before any work
        if prev is not None:
            if prev.suffix.lower() != ".mp4":
                raise WanAlphaError(f"previews are H.264 .mp4 files: name it {prev.with_suffix('.mp4').name}")
            if not batch or preview.exists():
                check_writable(prev, overwrite)
    mask_tensor = load_mask(mask) if mask is not None else None

    if not mine:
        print(f"{share.label()}: no prompt left for this process", file=sys.stderr)
        return []
    memory = memory or MemorySettings()
    device = generation_device(device or share.default_device(torch.cuda.is_available()), memory)
    pipe = load_pipeline(model, wan_files, device, memory, sampler)
    if share.context_parallel:
        start_context_parallel(share, pipe.transformer, device)
    size_of_input = input_size(inputs)
    height, width = height or size_of_input[0] or pipe.config.default_height, width or size_of_input[1] or pipe.config.default_width
    if negative_prompt is not None and (scale := pipe.sampling_settings(guidance_scale=guidance)[1]) <= 1:
        print(f"wan-alpha: warning: --negative-prompt has no effect at guidance {scale:g} (classifier-free guidance "
              "is off at <= 1): give --guidance above 1 to use it", file=sys.stderr)
    stride = pipe.vae.spatial_stride
    if "video" in inputs:
        frames = inputs["video"].num_frames
    check_video_size(height, width, frames or 1, pipe.transformer.config.patch_size[1], stride,
                     what="size" if size is not None or size_of_input[0] is None else "the input image/video size")
    check_rotary_range(pipe.transformer.config, stride, latent_frame_count(frames or pipe.config.default_num_frames),
                       height, width)
    if mask_from is not None:  # the ellipses of the matte's latent frames, drawn on this clip's grid
        mask_tensor = matte_mask(pipe, mask_from, height, width, mask_fit, luma_as_alpha)
        frames = frames or 4 * (mask_tensor.shape[2] - 1) + 1

    if batch:
        for folder in (output, preview):
            if folder is not None:
                folder.mkdir(parents=True, exist_ok=True)
    estimate = estimate_memory(pipe, frames or pipe.config.default_num_frames, height, width, memory)
    print(describe_estimate(estimate, memory, device), file=sys.stderr)
    check_fits(estimate, device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)
    # noise drawn on the device the model runs on, as diffusers' examples and the reference release draw it: a seed
    # on a GPU gives the reference's clip (a CPU draws other numbers for the same seed)
    seeds = torch.Generator(device=pipe._execution_device)
    written = []
    if share.world_size > 1:  # one progress line per process rather than one bar per clip
        pipe.set_progress_bar_config(disable=True)
    for i in tqdm(mine, desc=share.label(), unit="clip", position=share.rank, disable=share.world_size == 1):
        prompt, (out, prev) = prompts[i], targets[i]
        if batch and share.world_size == 1:
            print(f"clip {i + 1} of {len(targets)}: {out}", file=sys.stderr)
        result = pipe(
            prompt, negative_prompt=negative_prompt, height=height, width=width, num_frames=frames,
            num_inference_steps=steps, guidance_scale=guidance, generator=seeds.manual_seed(seed + i),
            mask=mask_tensor, ellipse=start, ellipse_end=end, mu=mu, **inputs,
        )
        if not share.writes:
            continue
        video = result.videos[0]
        if extend is not None:
            video = join_extension(clip, video, overlap=context_frames)
        written.append(write_video(out, video, format=format, overwrite=overwrite, options=write_options))
        if prev is not None:
            written.append(write_preview(prev, video, overwrite=overwrite))
    if (peak := peak_vram_gib(device)) is not None:
        print(f"peak GPU memory: {peak:.1f} GiB", file=sys.stderr)
    return written
