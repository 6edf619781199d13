"""RGBA VAE decoding of the default clip on a CPU, with every Conv3d routed through oneDNN (what
``RGBAVAE`` does) vs PyTorch's own choice of kernel (its slow native conv3d for most layers here).

    python bench/bench_decode.py [--model DIR] [--repeats 5] > docs/results/decode_onednn.md

Both variants decode the same latents in one process, alternating; medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from wan_alpha import EMBEDDED_MODEL
from wan_alpha.models import use_onednn_conv3d
from wan_alpha.pipelines import WanAlphaPipeline
from wan_alpha.rgba import latent_frame_count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(EMBEDDED_MODEL), help="pipeline folder (default: the embedded model)")
    parser.add_argument("--repeats", type=int, default=5, help="decodes per variant (default 5)")
    args = parser.parse_args()
    pipe = WanAlphaPipeline.from_pretrained(args.model)
    cfg, vae = pipe.config, pipe.vae.eval()
    grid = (latent_frame_count(cfg.default_num_frames), cfg.default_height // vae.spatial_stride, cfg.default_width // vae.spatial_stride)
    latents = torch.randn(1, vae.z_dim, *grid, generator=torch.Generator().manual_seed(0))
    times: dict[bool, list[float]] = {True: [], False: []}
    outputs = {}
    with torch.no_grad():
        for _ in range(args.repeats):
            for onednn in (True, False):
                use_onednn_conv3d(vae, enabled=onednn)
                start = time.perf_counter()
                outputs[onednn] = vae.decode(latents)
                times[onednn].append(time.perf_counter() - start)
    diff = max((a - b).abs().max().item() for a, b in zip(outputs[True], outputs[False]))
    fast, slow = statistics.median(times[True]), statistics.median(times[False])
    print(f"RGBA VAE decode of the default {cfg.default_num_frames}x{cfg.default_height}x{cfg.default_width} clip "
          f"({args.model}), {torch.get_num_threads()} threads, median of {args.repeats}:\n")
    print("| Conv3d kernels | decode (s) |\n|---|---|")
    print(f"| PyTorch's choice | {slow:.2f} |\n| oneDNN (RGBAVAE default) | {fast:.2f} |")
    print(f"\nspeed-up {slow / fast:.1f}x; largest output difference {diff:.1e}")


if __name__ == "__main__":
    main()
