"""Many processes: ``torchrun --nproc_per_node N -m wan_alpha generate --prompts-file F`` or ``accelerate launch
--multi_gpu --num_processes N -m wan_alpha generate ...`` start one process per GPU.

* Many clips (the default): each process generates every N-th prompt (its rank, then every N-th) on its own GPU. No
  process group is needed: the processes share nothing but the output folder, and no two of them have a prompt in
  common, so no clip is written twice.
* One clip across the GPUs (``--context-parallel``): every process samples every clip from the same seed, the DiT's
  tokens split across them by diffusers' Ulysses context parallelism (``enable_parallelism``); the first process
  writes the clips.
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
    context_parallel: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, context_parallel: bool = False) -> ProcessShare:
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
        if context_parallel and world_size < 2:
            raise WanAlphaError("--context-parallel splits each clip across launched processes: start several, e.g. "
                                "torchrun --nproc_per_node 8 -m wan_alpha generate ...")
        return cls(rank, world_size, local_rank, context_parallel)

    def indices(self, count: int) -> range:
        """Which of ``count`` prompts this process samples: its rank, then every ``world_size``-th (all of them with
        context parallelism)."""
        return range(count) if self.context_parallel else range(self.rank, count, self.world_size)

    @property
    def writes(self) -> bool:
        """Whether this process writes the clips it samples (with context parallelism only the first does)."""
        return not self.context_parallel or self.rank == 0

    def default_device(self, cuda_available: bool) -> str:
        """Each process on its own GPU (``cuda:LOCAL_RANK``), or the CPU."""
        if not cuda_available:
            return "cpu"
        return "cuda" if self.world_size == 1 else f"cuda:{self.local_rank}"

    def label(self) -> str:
        return f"process {self.rank + 1}/{self.world_size}"


def start_context_parallel(share: ProcessShare, transformer, device: str) -> None:
    """Join the launched processes and split ``transformer``'s tokens across them (diffusers' Ulysses context
    parallelism, which splits the attention heads: their number must divide by the process count)."""
    import torch
    import torch.distributed as dist
    from diffusers import ContextParallelConfig

    if torch.accelerator.device_count() == 0:  # diffusers puts each rank on an accelerator (rank % device count)
        raise WanAlphaError("--context-parallel needs GPUs, one per launched process")
    heads = transformer.config.num_attention_heads
    if heads % share.world_size:
        raise WanAlphaError(f"--context-parallel splits the DiT's {heads} attention heads across the processes: "
                            f"launch a number of processes that divides {heads}, not {share.world_size}")
    if device.startswith("cuda"):
        torch.cuda.set_device(device)  # else every rank's NCCL communicator starts on GPU 0
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
    transformer.enable_parallelism(config=ContextParallelConfig(ulysses_degree=share.world_size))
