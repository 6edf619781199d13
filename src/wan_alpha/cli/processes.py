"""Many clips on many processes: ``torchrun --nproc_per_node N -m wan_alpha generate --prompts-file F`` or
``accelerate launch --num_processes N -m wan_alpha generate ...`` start one process per GPU; each generates every
N-th prompt (its rank, then every N-th) on its own GPU. No process group is needed: the processes share nothing
but the output folder, and no two of them have a prompt in common, so no clip is written twice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import WanAlphaError


@dataclass(frozen=True)
class ProcessShare:
    """This process's place among the launched ones (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``: what torchrun and
    accelerate set; one process when they are absent)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ProcessShare:
        try:
            world_size = int(environ.get("WORLD_SIZE", 1))
            rank = int(environ.get("RANK", 0))
            local_rank = int(environ.get("LOCAL_RANK", rank))
        except ValueError as err:
            raise WanAlphaError(f"RANK / WORLD_SIZE / LOCAL_RANK must be integers ({err}): launch with torchrun "
                                "or accelerate launch, or unset them") from err
        if world_size < 1 or not 0 <= rank < world_size or local_rank < 0:
            raise WanAlphaError(f"RANK {rank} and WORLD_SIZE {world_size} do not describe a process: launch with "
                                "torchrun or accelerate launch, or unset them")
        return cls(rank, world_size, local_rank)

    def indices(self, count: int) -> range:
        """Which of ``count`` prompts this process generates: its rank, then every ``world_size``-th."""
        return range(self.rank, count, self.world_size)

    def default_device(self, cuda_available: bool) -> str:
        """Each process on its own GPU (``cuda:LOCAL_RANK``), or the CPU."""
        if not cuda_available:
            return "cpu"
        return "cuda" if self.world_size == 1 else f"cuda:{self.local_rank}"

    def label(self) -> str:
        return f"process {self.rank + 1}/{self.world_size}"
