"""Encoded training inputs cached on disk in memory-mapped ``.npy`` files, not in RAM.

At the reference scale one clip is a 16x21x60x104 float32 latent (8.4 MB) and a 512x4096 UMT5 state (8.4 MB):
~430 clips are ~7 GB, more than a training node should hold in RAM per process. Each key is one ``.npy`` file
with a row per clip (``numpy.lib.format.open_memmap``); the operating system pages rows in as they are read,
and every process of a data-parallel run shares the same files (and page cache).

Under ``accelerate launch`` the clips are encoded in parallel: process ``p`` of ``N`` encodes clips
``p, p+N, ...`` into the shared files. A cache is reused when ``complete.json`` says it holds the same clips
(e.g. on ``--resume``); an interrupted one is rebuilt.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from accelerate import PartialState
from torch.utils.data import Dataset
from tqdm.auto import tqdm

COMPLETE_FILE = "complete.json"
KEYS_FILE = "keys.json"  # written before the encoding, for the processes that did not encode clip 0

EncodeFn = Callable[[dict, int], dict[str, torch.Tensor]]
"""``(dataset item, index) -> {key: tensor}``: one clip's encoded inputs, every clip the same shapes."""


class CachedClips(Dataset):
    """The clips a :func:`build_cache` wrote: ``{key: tensor, ..., "index": i}`` read from memory-mapped files."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        meta = json.loads((self.folder / COMPLETE_FILE).read_text())
        self.keys, self.length = meta["keys"], meta["clips"]
        self._arrays: dict[str, np.ndarray] | None = None  # opened on first use (in each DataLoader worker)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | int]:
        if self._arrays is None:
            self._arrays = {k: np.load(self.folder / f"{k}.npy", mmap_mode="r") for k in self.keys}
        return {**{k: torch.from_numpy(np.array(a[index])) for k, a in self._arrays.items()}, "index": index}


def _is_complete(folder: Path, clips: int) -> bool:
    try:
        return json.loads((folder / COMPLETE_FILE).read_text())["clips"] == clips
    except (OSError, ValueError, KeyError):
        return False


def build_cache(folder: str | os.PathLike, dataset: Dataset, encode: EncodeFn, desc: str = "cache") -> CachedClips:
    """Encode every clip of ``dataset`` once into ``folder`` (all processes share the work), or reuse a
    complete cache of as many clips there."""
    folder, state = Path(folder), PartialState()
    count = len(dataset)
    if not _is_complete(folder, count):
        first = None
        if state.is_main_process:  # clip 0 (its share) gives the arrays' shapes; the keys go to the others
            first = {k: v.float().cpu() for k, v in encode(dataset[0], 0).items()}
            folder.mkdir(parents=True, exist_ok=True)
            (folder / COMPLETE_FILE).unlink(missing_ok=True)
            for key, value in first.items():
                np.lib.format.open_memmap(folder / f"{key}.npy", mode="w+", dtype=np.float32, shape=(count, *value.shape))
            (folder / KEYS_FILE).write_text(json.dumps(list(first)))
        state.wait_for_everyone()
        keys = json.loads((folder / KEYS_FILE).read_text())
        arrays = {k: np.load(folder / f"{k}.npy", mmap_mode="r+") for k in keys}
        mine = range(state.process_index, count, state.num_processes)
        for index in tqdm(mine, desc=desc, unit="clip", disable=not state.is_main_process):
            item = first if index == 0 else encode(dataset[index], index)
            for key, array in arrays.items():
                array[index] = item[key].float().cpu().numpy()
        for array in arrays.values():
            array.flush()
        del arrays
        state.wait_for_everyone()
        if state.is_main_process:
            (folder / COMPLETE_FILE).write_text(json.dumps({"clips": count, "keys": keys}))
    state.wait_for_everyone()
    return CachedClips(folder)
