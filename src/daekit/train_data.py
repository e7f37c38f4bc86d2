"""How the :class:`~daekit.train.Trainer`'s batches are made and reach the model.

:class:`_Batches` cuts one process's share of the data into batches, epoch by epoch, in an
order fixed by ``(seed, epoch)`` so a resumed run sees the same batches; ``_to_device``
moves a batch (tensor, tuple, list or dict) to the training device and ``_call`` hands it
to the model. These are internal to the trainer; :mod:`daekit.train` re-exports them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset


def _epoch_seed(seed: int, epoch: int) -> int:
    # A seed per (run seed, epoch): the data order of any epoch can be rebuilt on resume
    # without storing sampler state, and epochs never share an order.
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def _first_tensor(batch: Any) -> torch.Tensor | None:
    if isinstance(batch, torch.Tensor):
        return batch
    items = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, (list, tuple)) else ()
    for item in items:
        found = _first_tensor(item)
        if found is not None:
            return found
    return None


class _Batches:
    """The batches of one process, epoch by epoch, in an order fixed by ``(seed, epoch)``.

    In-memory tensors are indexed directly (no per-sample collate: this is the fast path
    the throughput benchmark measures). Map-style datasets go through a DataLoader whose
    batch sampler we build, so the order is ours and a resumed epoch skips finished
    batches without loading them. A user's DataLoader (or any iterable) is used as is.
    Under DDP every process builds the same global batch and takes its contiguous share.
    """

    def __init__(
        self, data: Any, batch_size: int, *, train: bool, seed: int, rank: int, world: int, num_workers: int, pin: bool
    ) -> None:
        self.batch_size, self.train, self.seed = batch_size, train, seed
        self.rank, self.world, self.num_workers, self.pin = rank, world, num_workers, pin
        self.tensors: tuple[torch.Tensor, ...] | None = None
        self.dataset: Dataset | None = None
        self.loader: Any = None
        if isinstance(data, np.ndarray):
            data = torch.from_numpy(np.ascontiguousarray(data))
        if isinstance(data, torch.Tensor):
            self.tensors, self.single = (data,), True
        elif isinstance(data, TensorDataset):
            self.tensors, self.single = tuple(data.tensors), len(data.tensors) == 1
        elif isinstance(data, Dataset) and hasattr(data, "__len__"):
            self.dataset = data
        elif hasattr(data, "__iter__"):
            self.loader = data
        else:
            raise ValueError(
                f"Cannot train on a {type(data).__name__}; pass a tensor, a numpy array, "
                "a map-style Dataset or a DataLoader."
            )
        # None for a user's loader, which is iterated as given and never indexed.
        self.n: int | None = (
            len(self.tensors[0])
            if self.tensors is not None
            else (len(self.dataset) if self.dataset is not None else None)
        )
        if self.n == 0:
            raise ValueError("The data is empty; at least one sample is needed.")

    def __len__(self) -> int:
        """Batches per epoch. Training drops a last incomplete batch (when there is a full
        one) so every step sees the same batch size: steady BatchNorm, exact DDP means."""
        if self.n is None:
            return len(self.loader)  # TypeError for iterables without a length
        if self.train:
            return max(1, self.n // self.batch_size)
        return math.ceil(self.n / self.batch_size)

    def _index_batches(self, epoch: int, start: int) -> Iterator[torch.Tensor]:
        n = self.n
        assert n is not None, "only in-memory tensors and map-style datasets are indexed"
        if self.train:
            gen = torch.Generator().manual_seed(_epoch_seed(self.seed, epoch))
            order = torch.randperm(n, generator=gen)
        else:
            order = torch.arange(n)
        for k in range(start, len(self)):
            idx = order[k * self.batch_size : (k + 1) * self.batch_size]
            if self.world > 1:
                idx = torch.tensor_split(idx, self.world)[self.rank]
            if len(idx):
                yield idx

    def epoch(self, epoch: int, start: int = 0) -> Iterator[Any]:
        """Yield the CPU batches of ``epoch``, beginning at batch ``start``."""
        if self.tensors is not None:
            for idx in self._index_batches(epoch, start):
                parts = tuple(t[idx.to(t.device)] for t in self.tensors)
                if self.pin:
                    parts = tuple(p.pin_memory() if not p.is_cuda else p for p in parts)
                yield parts[0] if self.single else parts
        elif self.dataset is not None:
            batches = [idx.tolist() for idx in self._index_batches(epoch, start)]
            # Our own generator: the loader's base seed must not draw from the global RNG,
            # or a resumed epoch would shift the noise stream.
            gen = torch.Generator().manual_seed(_epoch_seed(self.seed, epoch) + 1)
            yield from DataLoader(
                self.dataset, batch_sampler=batches, num_workers=self.num_workers, pin_memory=self.pin, generator=gen
            )
        else:
            iterator = iter(self.loader)
            for _ in range(start):  # a resumed epoch of a user loader: skip what was done
                next(iterator, None)
            yield from iterator


def _to_device(batch: Any, device: torch.device, channels_last: bool) -> Any:
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.dim() == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, dict):
        return {k: _to_device(v, device, channels_last) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device, channels_last) for v in batch)
    return batch


def _call(model: Callable[..., Any], batch: Any) -> torch.Tensor:
    # ``model`` is the module itself, its DDP wrapper or what torch.compile made of it.
    if isinstance(batch, torch.Tensor):
        return model(batch)
    if isinstance(batch, dict):
        return model(**batch)
    return model(*batch)
