"""Image -> video, video -> video and extending a clip with the embedded tiny model, on held-out emoji sprites.
Writes ``OUT.json`` and ``OUT.md`` (the table of docs/image_to_video.md)::

    npm install --prefix /tmp/emoji-src emoji-datasource-google@16.0.0
    python -m recipes.tiny.eval_i2v --emoji /tmp/emoji-src --out docs/results/i2v_tiny

Held out: sprites that no clip of the recipe's emoji training set uses (the build of ``tiny_all.yaml``'s ``emoji:``
entry, replayed pick by pick), drawn with a fixed seed. Each is animated as the training clips are
(:func:`~wan_alpha.data.emoji.animate_sprites`, another seed), giving a caption, an image (frame 0) and a clip.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from wan_alpha import EMBEDDED_MODEL
from wan_alpha.data.emoji import animate_sprites, emoji_job_id, load_emoji_index, pick_sprites
from wan_alpha.data.matting import read_still
from wan_alpha.eval import dtssd, over_background_psnr, psnr, support_iou
from wan_alpha.eval.reconstruction import clip_arrays
from wan_alpha.io import RGBAVideo
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.pipelines.conditioning import join_extension

RECIPE = Path(__file__).with_name("configs") / "tiny_all.yaml"
TWO_SPRITE_SHARE = 0.3  # build_emoji's default, which the recipe's build uses
HELDOUT_SEED = 2026
STRENGTHS = (0.2, 0.5, 0.8)
COLOURS = ("red", "blue")


def heldout_sprites(package: str, count: int) -> list:
    """``count`` sprites that no clip of the recipe's emoji training build animates."""
    sprites, _ = load_emoji_index(package)
    build = yaml.safe_load(RECIPE.read_text())["emoji"]
    seen = {s.path for i in range(build["count"])
            for s in pick_sprites(sprites, build["seed"], emoji_job_id(i), TWO_SPRITE_SHARE)[1]}
    unseen = [s for s in sprites if s.path not in seen]
    picks = np.random.default_rng(HELDOUT_SEED).choice(len(unseen), size=count, replace=False)
    return [unseen[i] for i in picks]


def animated(sprite, index: int, frames: int) -> tuple[RGBAVideo, str]:
    """The sprite animated on the embedded model's 128x128 canvas, as training clips are, and its caption."""
    rng = np.random.default_rng([HELDOUT_SEED, index])
    return animate_sprites([read_still(sprite.path)], [sprite.name], rng, frames, 128, 128)


def arrays(video: RGBAVideo) -> tuple[np.ndarray, np.ndarray]:
    """``(T, H, W, 3)`` and ``(T, H, W)`` float64 in [0, 1]."""
    x = video.frames.astype(np.float64) / 255
    return x[..., :3], x[..., 3]


def iou(a: np.ndarray, b: np.ndarray, threshold: float = 0.5) -> float:
    """IoU of two mattes' supports (alpha >= threshold)."""
    return support_iou(a, b >= threshold, threshold)


def generate(pipe: WanAlphaPipeline, prompt: str, seed: int, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    out = pipe(prompt, generator=torch.Generator().manual_seed(seed), **kwargs)
    return clip_arrays(out.rgb[0], out.alpha[0])


def image_mode(pipe: WanAlphaPipeline, clips: list[tuple[RGBAVideo, str]]) -> list[dict]:
    """Frame 0 against the input image and against the VAE's own round trip of it; persistence; dtSSD."""
    rows = []
    for i, (clip, caption) in enumerate(clips):
        image = clip.frames[:1]
        rgb_in, alpha_in = arrays(RGBAVideo(image, clip.fps))
        with torch.no_grad():
            rgb_rt, alpha_rt = clip_arrays(*(x[0] for x in pipe.vae.decode(pipe.encode_frames(image))))
        rgb, alpha = generate(pipe, caption, i, image=image)
        rows.append({
            "caption": caption,
            "frame0_alpha_psnr": psnr(alpha[:1], alpha_in), "ceiling_alpha_psnr": psnr(alpha_rt, alpha_in),
            "frame0_rgb_psnr": over_background_psnr(rgb[:1], alpha[:1], rgb_in, alpha_in)["mean"],
            "ceiling_rgb_psnr": over_background_psnr(rgb_rt, alpha_rt, rgb_in, alpha_in)["mean"],
            "frame0_vs_round_trip_alpha_max_abs": float(np.abs(alpha[0] - alpha_rt[0]).max()),
            "iou_frame4_vs_0": iou(alpha[4], alpha[0]), "iou_frame16_vs_0": iou(alpha[16], alpha[0]),
            "alpha_dtssd": dtssd(alpha),
        })
    return rows


def red_minus_blue(rgb: np.ndarray, alpha: np.ndarray) -> float:
    """Alpha-weighted mean of R - B over the clip (in [-1, 1]): where the visible colour sits between red and blue."""
    return float(((rgb[..., 0] - rgb[..., 2]) * alpha).sum() / max(alpha.sum(), 1e-6))


def video_mode(pipe: WanAlphaPipeline, clips: list[tuple[RGBAVideo, str]], subjects: list[str]) -> list[dict]:
    """Alpha IoU with the input clip per strength; colour words at the highest strength."""
    rows = []
    for i, ((clip, caption), subject) in enumerate(zip(clips, subjects)):
        rgb_in, alpha_in = arrays(clip)
        with torch.no_grad():
            _, alpha_rt = clip_arrays(*(x[0] for x in pipe.vae.decode(pipe.encode_frames(clip.frames))))
        row = {"caption": caption, "input_red_minus_blue": red_minus_blue(rgb_in, alpha_in),
               "iou_vae_round_trip": iou(alpha_rt, alpha_in)}
        for strength in STRENGTHS:
            _, alpha = generate(pipe, caption, i, video=clip, strength=strength)
            row[f"iou_strength_{strength}"] = iou(alpha, alpha_in)
        for colour in COLOURS:
            rgb, alpha = generate(pipe, f"a {colour} {subject}", i, video=clip, strength=STRENGTHS[-1])
            row[f"{colour}_red_minus_blue_{STRENGTHS[-1]}"] = red_minus_blue(rgb, alpha)
        rows.append(row)
    return rows


def jumps(rgb: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean absolute change between neighbouring frames: of alpha, and of the premultiplied colour (what shows)."""
    colour = rgb * alpha[..., None]
    return np.abs(np.diff(alpha, axis=0)).mean(axis=(1, 2)), np.abs(np.diff(colour, axis=0)).mean(axis=(1, 2, 3))


def extend_mode(pipe: WanAlphaPipeline, clips: list[tuple[RGBAVideo, str]], context: int, frames: int) -> list[dict]:
    """The largest jump where the input turns into the continuation against the neighbouring-frame jumps elsewhere,
    for a cut (the default: input untouched, then new frames) and for the crossfade over the context frames."""
    rows = []
    for i, (clip, caption) in enumerate(clips):
        out = pipe(caption, first_frames=clip.frames[-context:], num_frames=frames,
                   generator=torch.Generator().manual_seed(i))
        row = {"caption": caption}
        for join, crossfade, first in (("cut", False, clip.num_frames - 1), ("crossfade", True, clip.num_frames - context - 1)):
            joined = join_extension(clip, out.videos[0], overlap=context, crossfade=crossfade)
            region = np.arange(first, clip.num_frames)  # jump t goes from frame t to t + 1
            for name, values in zip(("alpha", "colour"), jumps(*arrays(joined))):
                row[f"{join}_join_{name}_jump"] = float(values[region].max())
                row[f"{join}_other_{name}_jump"] = float(np.median(np.delete(values, region)))
        row["joined_frames"] = joined.num_frames
        rows.append(row)
    return rows


def mean_rows(rows: list[dict]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "caption"}


def markdown(report: dict) -> str:
    image, video, extend = (report[k]["mean"] for k in ("image", "video", "extend"))
    s = report["settings"]
    lines = [
        f"Embedded tiny model, {s['steps']} steps, CPU; {s['image_sprites']} held-out emoji for the image mode "
        f"({s['frames']} frames), {s['video_clips']} for video mode ({s['video_frames']} frames), "
        f"{s['extend_clips']} for extend ({s['video_frames']}-frame clips, {s['context']} context frames, "
        f"{s['frames']}-frame window); {report['seconds']:.0f} s.",
        "",
        "| image mode (mean) | value |",
        "|---|---|",
        f"| frame 0 alpha PSNR vs input / VAE round trip (ceiling) | {image['frame0_alpha_psnr']:.2f} / "
        f"{image['ceiling_alpha_psnr']:.2f} dB |",
        f"| frame 0 RGB PSNR over palette colours vs input / ceiling | {image['frame0_rgb_psnr']:.2f} / "
        f"{image['ceiling_rgb_psnr']:.2f} dB |",
        f"| frame 0 vs round trip, max abs alpha difference | {image['frame0_vs_round_trip_alpha_max_abs']:.4f} |",
        f"| alpha IoU frame 4 / frame 16 with frame 0 | {image['iou_frame4_vs_0']:.3f} / {image['iou_frame16_vs_0']:.3f} |",
        f"| alpha dtSSD (x100, change between frames) | {image['alpha_dtssd']:.2f} |",
        "",
        "| video mode (mean) | value |",
        "|---|---|",
        f"| alpha IoU with the input clip of its VAE round trip (ceiling) | {video['iou_vae_round_trip']:.3f} |",
        *(f"| alpha IoU with the input clip, strength {st} | {video[f'iou_strength_{st}']:.3f} |" for st in STRENGTHS),
        f"| visible R - B: input / \"a red ...\" / \"a blue ...\" at strength {STRENGTHS[-1]} | "
        f"{video['input_red_minus_blue']:+.3f} / {video[f'red_red_minus_blue_{STRENGTHS[-1]}']:+.3f} / "
        f"{video[f'blue_red_minus_blue_{STRENGTHS[-1]}']:+.3f} |",
        "",
        "| extend (mean) | largest jump at the join | median of the other neighbouring-frame jumps |",
        "|---|---|---|",
        *(f"| mean abs {name} change, {join} | {extend[f'{join}_join_{key}_jump']:.4f} | "
          f"{extend[f'{join}_other_{key}_jump']:.4f} |"
          for join in ("cut", "crossfade") for name, key in (("alpha", "alpha"), ("premultiplied colour", "colour"))),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m recipes.tiny.eval_i2v", description=__doc__.split("\n\n")[0])
    parser.add_argument("--emoji", required=True, metavar="PACKAGE_DIR", help="emoji-datasource-google npm folder")
    parser.add_argument("--out", required=True, metavar="OUT", help="writes OUT.json and OUT.md")
    parser.add_argument("--model", default=str(EMBEDDED_MODEL), metavar="DIR", help="default: the embedded model")
    parser.add_argument("--sprites", type=int, default=10, help="held-out sprites for the image mode (default 10)")
    parser.add_argument("--video-clips", type=int, default=2, help="clips for video mode (default 2)")
    parser.add_argument("--extend-clips", type=int, default=2, help="clips to extend (default 2)")
    parser.add_argument("--video-frames", type=int, default=9, help="frames of the video-mode and extended clips")
    parser.add_argument("--context", type=int, default=5, help="context frames of an extension (default 5)")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    torch.set_flush_denormal(True)  # as `wan-alpha generate` does on CPUs
    pipe = WanAlphaPipeline.from_pretrained(args.model)
    pipe.set_progress_bar_config(disable=True)
    frames = pipe.config.default_num_frames
    sprites = heldout_sprites(args.emoji, max(args.sprites, args.video_clips, args.extend_clips))
    start = time.time()
    image_clips = [animated(s, i, frames) for i, s in enumerate(sprites[: args.sprites])]
    used = max(args.video_clips, args.extend_clips)  # each clip's generator is seeded by its index
    short_clips = [animated(s, i, args.video_frames) for i, s in enumerate(sprites[:used])]
    sections = {
        "image": image_mode(pipe, image_clips),
        "video": video_mode(pipe, short_clips[: args.video_clips], [f"{s.name} emoji" for s in sprites]),
        "extend": extend_mode(pipe, short_clips[: args.extend_clips], args.context, frames),
    }
    report = {
        "settings": {"steps": pipe.config.num_inference_steps, "frames": frames, "image_sprites": args.sprites,
                     "video_clips": args.video_clips, "extend_clips": args.extend_clips,
                     "video_frames": args.video_frames, "context": args.context,
                     "sprites": [s.name for s in sprites]},
        **{name: {"mean": mean_rows(rows), "rows": rows} for name, rows in sections.items()},
        "seconds": time.time() - start,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    out.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
