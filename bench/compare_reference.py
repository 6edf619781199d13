"""Compare wan-alpha with the reference release's own code (WeChatCV/Wan-Alpha), every piece that needs no GPU.

    python bench/compare_reference.py --reference PATH/TO/Wan-Alpha --out docs/results/reference_fidelity

PATH is a checkout of the release (its ``wan/``, ``gen_gaussian_mask.py`` and the published ``gauss_mask``). The
reference's modules are imported from there; besides our dependencies they need ``pip install regex``. Nothing
here is downloaded. Sections (each prints its measured difference):

1. sampler: Wan's ``FlowUniPCMultistepScheduler`` / ``FlowDPMSolverMultistepScheduler`` (driven as
   ``text2video_dora_lightx2v.py`` drives them) against our ``unipc`` / ``dpm++``, diffusers' own flow spacing and
   ``euler``: the timesteps, and the final latent of one deterministic velocity field integrated by each;
2. prompts: the reference tokenizer's cleaning against :func:`~wan_alpha.models.text_encoders.clean_prompt`;
3. mask file and shift: the published ``gauss_mask`` as ``load_mask`` reads it, resized and added to the noise in
   bfloat16 as the reference does, against :func:`~wan_alpha.sampling.shift_noise`;
4. mask fit: ``gen_gaussian_mask.py`` (its ``__main__`` settings, without the demo's shift to the right) against
   ``fit_alpha_ellipses(fit="reference")`` and ``fit="moments"``, as G maps, on the release's alpha GIF and on
   synthetic shapes; and how well each fit's ellipse (``G >= exp(-1/2)``) matches the object (latent cells of mean
   alpha > 0.5): intersection over union, mean over latent frames with an object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch

from wan_alpha.io.masks import load_mask, read_matte
from wan_alpha.models.text_encoders import clean_prompt
from wan_alpha.rgba import pool_alpha_to_latent
from wan_alpha.sampling import fit_alpha_ellipses, flow_scheduler, render_ellipses, sample_flow, shift_noise

PROMPTS = [
    "A puff of white smoke rises and drifts. The background of this video is transparent.",
    "a cat &amp; a dog，“fire”  at\u3000night",
    "smoke &amp;amp; ash\n\tover ‘glass’ — sparks…",
    "cafÃ© neon sign, <b>bold</b>",
    "一只红色的狐狸在雪地里奔跑，尾巴蓬松。背景是透明的。",
    "ＡＢＣ　ｆｕｌｌｗｉｄｔｈ　text！",
    "tab\x0bvertical\x0cfeed\x1cseparator\u2028line\u00a0nbsp",
]


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- 1. sampler
def velocity(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """A smooth deterministic stand-in for the DiT: depends on the latent and (nonlinearly) on the timestep."""
    s = t.float() / 1000
    return torch.tanh(x) * (0.5 + s) + 0.3 * torch.sin(3 * x + s) - 0.2 * x


def reference_run(solvers, unipc, kind: str, steps: int, noise: torch.Tensor) -> tuple[list[int], torch.Tensor]:
    """The loop of ``text2video_dora_lightx2v.generate_mask``: scheduler built with shift 1, Wan's sigmas, step."""
    if kind == "unipc":
        scheduler = unipc.FlowUniPCMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
        scheduler.set_timesteps(steps, device="cpu", shift=5.0)
        timesteps = scheduler.timesteps
    else:
        scheduler = solvers.FlowDPMSolverMultistepScheduler(num_train_timesteps=1000, shift=1, use_dynamic_shifting=False)
        timesteps, _ = solvers.retrieve_timesteps(scheduler, device="cpu", sigmas=solvers.get_sampling_sigmas(steps, 5.0))
    x = noise.clone()
    for t in timesteps:
        x = scheduler.step(velocity(x, t.expand(1)), t, x, return_dict=False)[0]
    return [int(t) for t in timesteps], x


def ours_run(kind: str, steps: int, noise: torch.Tensor, scheduler=None) -> tuple[list[int], torch.Tensor]:
    scheduler = scheduler or flow_scheduler(kind, 5.0)
    x = sample_flow(velocity, noise.clone(), scheduler, steps)
    return [int(t) for t in scheduler.timesteps], x


def compare_sampler(ref: Path) -> dict:
    from diffusers import UniPCMultistepScheduler

    solvers = load_module(ref / "wan" / "utils" / "fm_solvers.py", "ref_fm_solvers")
    unipc = load_module(ref / "wan" / "utils" / "fm_solvers_unipc.py", "ref_fm_solvers_unipc")
    noise = torch.randn(1, 16, 3, 12, 20, generator=torch.Generator().manual_seed(0))
    rel = lambda a, b: float((a - b).norm() / b.norm())
    results = {}
    for steps in (4, 50):
        for kind in ("unipc", "dpm++"):
            ref_t, ref_x = reference_run(solvers, unipc, kind, steps, noise)
            our_t, our_x = ours_run(kind, steps, noise)
            row = {"reference_timesteps": ref_t[:6], "ours_timesteps": our_t[:6], "timesteps_equal": ref_t == our_t,
                   "final_latent_rel_diff": rel(our_x, ref_x)}
            if kind == "unipc":  # what the spacing alone changes: diffusers' own flow sigmas, and Euler
                plain = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=5.0)
                plain_t, plain_x = ours_run(kind, steps, noise, plain)
                row["diffusers_spacing"] = {"timesteps": plain_t[:6], "final_latent_rel_diff": rel(plain_x, ref_x)}
                euler_t, euler_x = ours_run("euler", steps, noise)
                row["euler"] = {"timesteps": [round(t) for t in euler_t[:6]], "final_latent_rel_diff": rel(euler_x, ref_x)}
            results[f"{kind}_{steps}_steps"] = row
    return results


# ----------------------------------------------------------------------------- 2. prompts
def compare_prompts(ref: Path) -> dict:
    tokenizers = load_module(ref / "wan" / "modules" / "tokenizers.py", "ref_tokenizers")
    rows = []
    for prompt in PROMPTS:
        theirs = tokenizers.whitespace_clean(tokenizers.basic_clean(prompt))
        rows.append({"prompt": prompt, "reference": theirs, "ours": clean_prompt(prompt), "equal": theirs == clean_prompt(prompt)})
    return {"equal": sum(r["equal"] for r in rows), "of": len(rows), "rows": rows}


# ----------------------------------------------------------------------------- 3. mask file + shift
def compare_mask_shift(ref: Path) -> dict:
    # the release unpickles it in full; a plain tensor file reads the same with weights_only, running no pickled code
    published = torch.load(ref / "gauss_mask", weights_only=True, map_location="cpu")
    ours = load_mask(ref / "gauss_mask")
    noise = torch.randn(16, ours.shape[2], 60, 104, generator=torch.Generator().manual_seed(0))  # an 832x480 clip
    gauss = published.clone().to(dtype=torch.bfloat16).unsqueeze(1)  # text2video_dora_lightx2v.generate_mask
    gauss = torch.nn.functional.interpolate(gauss, size=noise.shape[2:], mode="bilinear", align_corners=False).squeeze(1)
    theirs = noise + (1 - gauss) * torch.tensor(0.05, dtype=torch.bfloat16)
    shifted = shift_noise(noise[None], ours, 0.05, dtype=torch.bfloat16)[0]
    shifted32 = shift_noise(noise[None], ours, 0.05)[0]
    return {"file_shape": list(published.shape), "loaded_shape": list(ours.shape),
            "loaded_equal": bool(torch.equal(ours[0, 0], published.float())),
            "shift_bf16_max_abs_diff": float((shifted - theirs).abs().max()),
            "shift_float32_max_abs_diff": float((shifted32 - theirs).abs().max())}


# ----------------------------------------------------------------------------- 4. mask fit
def reference_maps(gen, alpha: np.ndarray) -> np.ndarray:
    """``gen_gaussian_mask.py``'s ``__main__`` on alpha frames ``(T, H, W)`` in [0, 1] (its demo shift left out)."""
    pooled = gen.spatial_temporal_compress(gen.binarize_alpha(alpha.astype(np.float32), threshold=0.1))
    return np.stack([gen.generate_best_aligned_gaussian(m, orient_threshold=0.9, shape_threshold=0.2,
                                                        coverage_target=0.98, max_enlarge_iters=10,
                                                        enlarge_step=1.12)[0] for m in pooled])


def synthetic_alphas(seed: int = 0, count: int = 24) -> list[np.ndarray]:
    """Rotated ellipses with soft edges and semi-transparent skirts, L shapes and blobs: 17 x 128 x 192."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:128, 0:192] + 0.5
    clips = []
    for i in range(count):
        frames = []
        cx, cy = rng.uniform(40, 152), rng.uniform(30, 98)
        vx, vy = rng.uniform(-2, 2, size=2)
        a, b, angle = rng.uniform(12, 60), rng.uniform(8, 40), rng.uniform(0, 180)
        for t in range(17):
            theta = math.radians(angle + 2 * t)
            dx, dy = xx - (cx + vx * t), yy - (cy + vy * t)
            r = ((dx * math.cos(theta) + dy * math.sin(theta)) / a) ** 2 + ((-dx * math.sin(theta) + dy * math.cos(theta)) / b) ** 2
            alpha = np.clip(1.5 - r, 0, 1)  # a solid core with a soft edge
            if i % 3 == 1:  # a faint skirt off one side, which pulls moments
                alpha = np.maximum(alpha, 0.3 * ((np.abs(dy) < b / 3) & (dx > 0) & (dx < 2.5 * a)))
            if i % 3 == 2:  # an L: a second bar at a right angle
                alpha = np.maximum(alpha, ((np.abs(dx) < 6) & (dy > 0) & (dy < 1.5 * b + 20)).astype(float))
            frames.append(alpha)
        clips.append(np.stack(frames))
    return clips


def compare_fit(ref: Path, alpha_video: Path | None) -> dict:
    gen = load_module(ref / "gen_gaussian_mask.py", "ref_gen_gaussian_mask")
    clips = {f"synthetic_{i:02d}": a for i, a in enumerate(synthetic_alphas())}
    if alpha_video is not None:
        clips[alpha_video.name] = read_matte(alpha_video)[0, 0].numpy()
    rows = {}
    for name, alpha in clips.items():
        theirs = torch.from_numpy(reference_maps(gen, alpha))
        tensor = torch.from_numpy(alpha).float()[None, None]
        h, w = alpha.shape[1] // 8, alpha.shape[2] // 8
        objects = pool_alpha_to_latent(tensor, 8)[0, 0] > 0.5
        row = {}
        for fit in ("reference", "moments"):
            (ellipses,) = fit_alpha_ellipses(tensor, 8, fit)
            maps = render_ellipses(ellipses, h, w)[0, 0]
            diff = (maps - theirs).abs()
            inside = maps >= math.exp(-0.5)
            ious = [float((i & o).sum() / (i | o).sum()) for i, o in zip(inside, objects) if o.any()]
            row[fit] = {"max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
                        "object_iou": float(np.mean(ious))}
        rows[name] = row
    summary = {fit: {"max_abs_diff": max(r[fit]["max_abs_diff"] for r in rows.values()),
                     "median_of_mean_abs_diff": float(np.median([r[fit]["mean_abs_diff"] for r in rows.values()])),
                     "clips_exact_to_1e-5": sum(r[fit]["max_abs_diff"] < 1e-5 for r in rows.values()),
                     "mean_object_iou": float(np.mean([r[fit]["object_iou"] for r in rows.values()]))}
               for fit in ("reference", "moments")}
    return {"clips": len(rows), "summary": summary, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", required=True, type=Path, help="a checkout of WeChatCV/Wan-Alpha")
    parser.add_argument("--alpha-video", type=Path, help="an alpha clip for the fit (default: the release's "
                        "assets/squirrel_pha.gif when present)")
    parser.add_argument("--out", type=Path, help="write OUT.json (all rows) and OUT.txt (the summary)")
    args = parser.parse_args(argv)
    alpha_video = args.alpha_video or (args.reference / "assets" / "squirrel_pha.gif")
    results = {
        "sampler": compare_sampler(args.reference),
        "prompts": compare_prompts(args.reference),
        "mask_shift": compare_mask_shift(args.reference),
        "mask_fit": compare_fit(args.reference, alpha_video if alpha_video.is_file() else None),
    }
    lines = ["# wan-alpha vs the reference release's code (bench/compare_reference.py)", "", "## sampler"]
    for name, row in results["sampler"].items():
        extra = ""
        if "euler" in row:
            extra = (f"; diffusers' spacing {row['diffusers_spacing']['timesteps'][:4]}... "
                     f"{row['diffusers_spacing']['final_latent_rel_diff']:.2e}; euler {row['euler']['final_latent_rel_diff']:.2e}")
        lines.append(f"{name}: timesteps equal {row['timesteps_equal']} {row['ours_timesteps'][:4]}..., "
                     f"final latent rel diff {row['final_latent_rel_diff']:.2e}{extra}")
    p = results["prompts"]
    lines += ["", "## prompt cleaning", f"{p['equal']} of {p['of']} prompts cleaned identically"]
    lines += [f"  differs: {r['prompt']!r}: reference {r['reference']!r}, ours {r['ours']!r}" for r in p["rows"] if not r["equal"]]
    m = results["mask_shift"]
    lines += ["", "## published mask + shift", json.dumps(m)]
    f = results["mask_fit"]
    lines += ["", f"## mask fit ({f['clips']} clips; G maps on the latent grid, against gen_gaussian_mask.py)"]
    for fit, s in f["summary"].items():
        lines.append(f"{fit}: max |dG| {s['max_abs_diff']:.3g}, median mean |dG| {s['median_of_mean_abs_diff']:.3g}, "
                     f"{s['clips_exact_to_1e-5']} clips exact to 1e-5; ellipse vs object IoU {s['mean_object_iou']:.3f}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
        args.out.with_suffix(".txt").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
