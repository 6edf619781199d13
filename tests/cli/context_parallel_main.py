"""``wan_alpha.cli.main`` for torchrun-launched CPU processes with ``--context-parallel``: diffusers 0.42 places
each rank on ``rank % torch.accelerator.device_count()``, a division by zero without an accelerator, so CPU CI
reports one device; everything else (gloo process group, Ulysses all-to-all, the pipeline) is the real code path."""

import sys

import torch

from wan_alpha.cli import main

torch.accelerator.device_count = lambda: 1

if __name__ == "__main__":
    sys.exit(main())
