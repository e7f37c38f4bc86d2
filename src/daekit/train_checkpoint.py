"""What the :class:`~daekit.train.Trainer` saves to resume exactly, and how it writes it.

The random streams of a process (torch, CUDA, numpy, Python) as plain tensors and lists,
seeding and temporarily fixing them, the atomic write of ``checkpoint.pt`` and the checks
that a file read back is a checkpoint this daekit understands. These are internal to the
trainer; :mod:`daekit.train` re-exports them.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .io import AtomicOutput

CHECKPOINT_NAME = "checkpoint.pt"
_CHECKPOINT_FORMAT = "daekit.train/2"  # /2: per-rank loss accumulators


def _rng_state() -> dict[str, Any]:
    # Only tensors and primitive containers, so checkpoints load with weights_only=True.
    np_state = np.random.get_state(legacy=False)
    if np_state["bit_generator"] != "MT19937":  # np.random.set_bit_generator swapped it out
        raise ValueError(
            f"numpy's global random generator is {np_state['bit_generator']}, not MT19937; "
            "a training run can only save and restore MT19937's state."
        )
    py_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() else [],
        "numpy": [  # the fields of numpy's legacy tuple, which _set_rng_state rebuilds
            torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            int(np_state["state"]["pos"]),
            int(np_state["has_gauss"]),
            float(np_state["gauss"]),
        ],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def _fixed_rng(seed: int) -> Iterator[None]:
    """Run a block with seeded RNGs, then put the training RNG streams back untouched:
    every validation draws the same noise, and validating never shifts training."""
    saved = _rng_state()
    _seed_all(seed)
    try:
        yield
    finally:
        _set_rng_state(saved)


def _atomic_save(obj: Any, path: Path) -> None:
    # Write next to the target, then rename: a kill mid-write leaves the old file intact,
    # and the next save removes the temporary file the killed one left.
    with AtomicOutput(path) as out, open(out.tmp, "wb") as fh:
        torch.save(obj, fh)


def _read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint at ``path``, or a ValueError saying why it cannot be resumed from."""
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated or foreign file: say so, keep it for inspection
        raise ValueError(
            f"{path} cannot be read as a training checkpoint ({exc}); "
            "move it away or start afresh with resume=False (--no-resume)."
        ) from None
    if not isinstance(ck, dict) or not str(ck.get("format", "")).startswith("daekit.train/"):
        raise ValueError(f"{path} is not a daekit training checkpoint.")
    if ck["format"] != _CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} was written in checkpoint format {ck['format']}, this daekit reads "
            f"{_CHECKPOINT_FORMAT}; start afresh with resume=False (--no-resume)."
        )
    return ck


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}
