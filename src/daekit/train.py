"""The one training loop: :class:`Trainer` (its options, :class:`TrainConfig`, live in
:mod:`daekit.train_config` and are re-exported here).

The Trainer trains any ``nn.Module`` whose ``forward(batch)`` returns a scalar loss; it
knows nothing of denoising autoencoders (the DAE builds its own loss from a clean batch).
It owns everything around the model: devices, mixed precision, the optimiser (AdamW) and
its schedule, gradient clipping, validation and early stopping, atomic checkpoints and
exact resume, ``metrics.csv``, a loss-curve PNG, TensorBoard events, a tqdm bar, and
PyTorch DDP when launched under ``torchrun``.

Example:
    >>> import torch, daekit as dk
    >>> class Recon(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.net = torch.nn.Linear(8, 8)
    ...     def forward(self, x):
    ...         return torch.nn.functional.mse_loss(self.net(x), x)
    >>> trainer = dk.Trainer(Recon(), dk.TrainConfig(max_steps=20, batch_size=16, quiet=True))
    >>> trainer.fit(torch.randn(64, 8)).step_
    20

How batches reach the model: a tensor batch is called as ``model(x)``, a tuple or list
as ``model(*batch)`` and a dict as ``model(**batch)``; every tensor is first moved to the
training device.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .io import atomic_write_bytes, make_output_folder

# The batching and the checkpoint state live in their own modules; their names stay
# importable from here.
from .train_checkpoint import _CHECKPOINT_FORMAT as _CHECKPOINT_FORMAT
from .train_checkpoint import CHECKPOINT_NAME as CHECKPOINT_NAME
from .train_checkpoint import (
    _atomic_save,
    _cpu_copy,
    _fixed_rng,
    _read_checkpoint,
    _rng_state,
    _seed_all,
    _set_rng_state,
)
from .train_config import TrainConfig, add_train_arguments, config_from_args  # re-exported
from .train_data import _Batches, _call, _first_tensor, _to_device
from .train_data import _epoch_seed as _epoch_seed

__all__ = ["TrainConfig", "Trainer", "add_train_arguments", "config_from_args"]

METRICS_NAME = "metrics.csv"
PLOT_NAME = "loss_curve.png"
METRIC_COLUMNS = ("step", "epoch", "train_loss", "val_loss", "lr", "samples_per_s", "time")


# --------------------------------------------------------------------------- helpers


def _lr_factor(step: int, *, total: int, schedule: str, warmup: int, min_ratio: float) -> float:
    """Multiplier of the peak lr at ``step`` (a pure function of the step: resumable)."""

    def cos_interp(start: float, end: float, t: float) -> float:
        return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, t))))

    if schedule == "onecycle":
        # torch's OneCycleLR defaults: 30 % cosine warm-up from lr/25, then anneal to lr/25e4.
        up = max(1, int(0.3 * total))
        if step < up:
            return cos_interp(1 / 25, 1.0, step / up)
        return cos_interp(1.0, 1 / 25e4, (step - up) / max(1, total - up))
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    return cos_interp(1.0, min_ratio, (step - warmup) / max(1, total - warmup))


def _plot(history: list[dict[str, Any]], path: Path) -> None:
    try:  # optional: the Agg canvas directly, so no global backend is switched
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        pts = [(r["step"], r[key]) for r in history if r.get(key) is not None and math.isfinite(r[key])]
        if pts:
            ax.plot(*zip(*pts), label=label, marker="." if len(pts) < 50 else None)
    values = [r[k] for r in history for k in ("train_loss", "val_loss") if r.get(k) is not None]
    if values and min(values) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())


def _tensorboard(out_dir: Path, step: int) -> Any:
    try:  # optional dependency, only when installed
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    # purge_step: a resumed run drops the events a killed run wrote after its checkpoint.
    return SummaryWriter(str(out_dir / "tensorboard"), purge_step=step or None)


# --------------------------------------------------------------------------- trainer


class Trainer:
    """Train a loss-returning module: ``Trainer(model, config).fit(train, val)``.

    Args:
        model: any ``nn.Module`` whose forward, given a batch, returns a scalar loss.
        config: a :class:`TrainConfig` (default: ``TrainConfig()``).
        **overrides: fields to change in ``config``.

    Attributes (after ``fit``):
        history: the metrics rows (dicts with ``METRIC_COLUMNS``), also in ``metrics.csv``.
        step_: optimiser steps done. ``best_val_loss_``, ``best_step_``: best validation.
        stopped_early_: whether early stopping ended the run. ``device_``: the device.
        rank_, world_size_, is_main_process: the DDP position; under ``torchrun`` only the
        main process should save the model after ``fit``.

    Example:
        >>> trainer = Trainer(model, max_steps=2000, out_dir="runs/a")   # doctest: +SKIP
        >>> trainer.fit(x_train, x_val)                                   # doctest: +SKIP

    Data may be a tensor or numpy array of samples (first dimension), a ``TensorDataset``,
    any map-style ``Dataset``, or a ``DataLoader``. Exact resume and DDP sharding are
    handled for the first three; a DataLoader is iterated as given (its sampler decides the
    order and, under DDP, the sharding).
    """

    def __init__(self, model: nn.Module, config: TrainConfig | None = None, **overrides: Any) -> None:
        self.model = model
        self.config = (config or TrainConfig()).replace(**overrides) if overrides else (config or TrainConfig())
        self.history: list[dict[str, Any]] = []
        self.step_ = 0
        self.best_val_loss_: float | None = None
        self.best_step_: int | None = None
        self.stopped_early_ = False
        self.device_: torch.device | None = None
        self.rank_, self.world_size_ = 0, 1

    @property
    def is_main_process(self) -> bool:
        """True on rank 0 (or without DDP): the process that should save files after ``fit``."""
        return self.rank_ == 0

    # -- setup ---------------------------------------------------------------------

    def _device(self, local_rank: int) -> torch.device:
        name = self.config.device
        if name == "auto":
            name = "cuda" if torch.cuda.is_available() else "cpu"
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(
                f"device {self.config.device!r} was asked for, but PyTorch sees no CUDA GPU; use 'cpu' or 'auto'."
            )
        device = torch.device(name)
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", local_rank)
        return device

    @staticmethod
    def _distributed(device_name: str) -> tuple[int, int, int, bool]:
        """(rank, world size, local rank, whether we started the process group)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return 0, 1, 0, False
        import torch.distributed as dist

        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        if dist.is_initialized():
            return rank, world, local, False
        cuda = torch.cuda.is_available() and device_name != "cpu"
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if cuda else "gloo")
        return rank, world, local, True

    # -- the loop ------------------------------------------------------------------

    def fit(self, train_data: Any, val_data: Any = None) -> Trainer:
        """Train, validating and checkpointing as configured; resume if a checkpoint exists.

        Args:
            train_data: training samples (tensor, array, Dataset or DataLoader).
            val_data: validation samples of the same kinds, or None.

        Returns:
            self, with ``history``, ``step_``, ``best_val_loss_`` filled in; when there
            is validation data and ``restore_best`` is set, the model holds the best weights.
        """
        cfg = self.config
        rank, world, local_rank, own_group = self._distributed(cfg.device)
        self.rank_, self.world_size_ = rank, world
        try:
            self._fit(train_data, val_data, rank, world, local_rank)
            if own_group:
                # Every rank past its last collective before any tears the group down: a
                # rank destroying gloo while its peer still has work in flight can abort
                # (SIGABRT, "terminate called without an active exception"; seen once in CI).
                import torch.distributed as dist

                dist.barrier()
        finally:
            if own_group:
                import torch.distributed as dist

                dist.destroy_process_group()
        return self

    def _fit(self, train_data: Any, val_data: Any, rank: int, world: int, local_rank: int) -> None:
        cfg = self.config
        if cfg.batch_size % world:
            raise ValueError(f"batch_size {cfg.batch_size} does not split evenly over {world} processes.")
        device = self.device_ = self._device(local_rank)
        is_cuda = device.type == "cuda"
        channels_last = is_cuda if cfg.channels_last is None else cfg.channels_last
        main = rank == 0
        out_dir = Path(cfg.out_dir) if cfg.out_dir else None
        if out_dir is not None and main:
            make_output_folder(out_dir)  # "runs/x is a file, not a folder." before any training

        model = self.model.to(device)
        if channels_last:
            model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # documented; torch's overloads lack it (pytorch#184642)
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("The model has no trainable parameters.")

        batches = partial(_Batches, seed=cfg.seed, rank=rank, world=world, num_workers=cfg.num_workers, pin=is_cuda)
        # Index batches are planned globally and split per process (see _Batches).
        train = batches(train_data, cfg.batch_size, train=True)
        val = None if val_data is None else batches(val_data, cfg.batch_size, train=False)
        try:
            per_epoch: int | None = len(train)
        except TypeError:
            per_epoch = None
        if cfg.max_steps is not None:
            total = cfg.max_steps
        elif per_epoch is not None:
            total = cfg.epochs * per_epoch
        else:
            raise ValueError("The training data has no length; set max_steps.")
        val_every = cfg.val_every or per_epoch or cfg.log_every
        ckpt_every = val_every if cfg.ckpt_every is None else cfg.ckpt_every

        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True if is_cuda else None)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt,
            partial(
                _lr_factor, total=total, schedule=cfg.schedule, warmup=cfg.warmup_steps, min_ratio=cfg.min_lr / cfg.lr
            ),
        )
        scaler = torch.amp.GradScaler(device.type) if cfg.precision == "fp16" else None
        amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.precision)
        autocast = partial(torch.autocast, device.type, dtype=amp_dtype) if amp_dtype else contextlib.nullcontext

        # ---- fresh start or resume
        self.history, self.step_, self.stopped_early_ = [], 0, False
        self.best_val_loss_ = self.best_step_ = None
        best_state: dict[str, torch.Tensor] | None = None
        bad_evals, epoch, start, elapsed, done = 0, 0, 0, 0.0, False
        loss_sum = torch.zeros((), device=device)
        n_acc = 0
        ckpt_path = out_dir / CHECKPOINT_NAME if out_dir else None
        if ckpt_path is not None and cfg.resume and ckpt_path.exists():
            ck = _read_checkpoint(ckpt_path)
            try:
                model.load_state_dict(ck["model"])
            except RuntimeError as exc:
                raise ValueError(
                    f"{ckpt_path} holds a different model than this run's ({str(exc).splitlines()[0]}); "
                    "use another output folder or resume=False (--no-resume)."
                ) from None
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            if scaler is not None and ck["scaler"]:
                scaler.load_state_dict(ck["scaler"])
            self.step_, epoch, start = ck["step"], ck["epoch"], ck["batch_in_epoch"]
            self.history = list(ck["history"])
            best = ck["best"]
            self.best_val_loss_, self.best_step_, bad_evals = best["val_loss"], best["step"], best["bad_evals"]
            best_state = best["state"]
            self.stopped_early_, done = ck["stopped_early"], ck["stopped_early"]
            sums, n_acc = ck["loss_acc"]
            loss_sum.fill_(sums[rank] if len(sums) == world else sums[0])
            elapsed = ck["elapsed"]
            rngs = ck["rng"]
            if len(rngs) == world:
                _set_rng_state(rngs[rank])
            else:  # a different number of processes: the old streams do not map; reseed
                warnings.warn(
                    f"{ckpt_path} was written by {len(rngs)} processes, now {world}; random streams are reseeded.",
                    stacklevel=2,
                )
                _seed_all(cfg.seed + 1000 * rank + self.step_)
            if main and not cfg.quiet:
                print(f"resuming from {ckpt_path} at step {self.step_}", file=sys.stderr)
            for key in ("batch_size", "seed"):
                if ck["config"].get(key) != getattr(cfg, key):
                    warnings.warn(
                        f"Resuming {ckpt_path} with {key}={getattr(cfg, key)}, "
                        f"but it was written with {ck['config'].get(key)}.",
                        stacklevel=2,
                    )
        else:
            # Distinct streams per process, so DDP ranks do not draw the same noise.
            _seed_all(cfg.seed + 1000 * rank)
        step = self.step_

        metrics = writer = bar = None
        if out_dir is not None and main:
            metrics = self._open_metrics(out_dir / METRICS_NAME)
            writer = _tensorboard(out_dir, step) if cfg.tensorboard else None
        if main and not cfg.quiet:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=min(step, total), unit="step", dynamic_ncols=True, leave=True)

        run_model: Callable[..., Any] = model
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel

            run_model = DistributedDataParallel(model, device_ids=[device.index] if is_cuda else None)
        if cfg.compile:
            run_model = torch.compile(run_model)

        def save_checkpoint(path: Path) -> None:
            # Each process has its own random streams and loss accumulator: gather them all.
            mine = (_rng_state(), float(loss_sum.item()))
            per_rank: list[Any] = [mine]
            if world > 1:
                import torch.distributed as dist

                per_rank = [None] * world
                dist.all_gather_object(per_rank, mine)
            if not main:
                return
            _atomic_save(
                {
                    "format": _CHECKPOINT_FORMAT,
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "scaler": scaler.state_dict() if scaler is not None else None,
                    "step": step,
                    "epoch": epoch,
                    "batch_in_epoch": start,
                    "rng": [r[0] for r in per_rank],
                    "config": cfg.to_dict(),
                    "best": {
                        "val_loss": self.best_val_loss_,
                        "step": self.best_step_,
                        "bad_evals": bad_evals,
                        "state": best_state,
                    },
                    "stopped_early": self.stopped_early_,
                    "history": self.history,
                    "loss_acc": [[r[1] for r in per_rank], n_acc],
                    "elapsed": elapsed + time.perf_counter() - t_start,
                    "world_size": world,
                },
                path,
            )

        t_start = t_last = time.perf_counter()
        samples = 0
        model.train()
        while step < total and not done:
            for batch in train.epoch(epoch, start):
                if device.type != "cpu" or channels_last:
                    batch = _to_device(batch, device, channels_last)
                with autocast():
                    loss = _call(run_model, batch)
                opt.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    if cfg.grad_clip is not None:
                        scaler.unscale_(opt)
                        nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                    scaler.step(opt)
                    scaler.update()
                else:
                    loss.backward()
                    if cfg.grad_clip is not None:
                        nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                    opt.step()
                sched.step()
                # Accumulate on the device: no host sync until a metrics row is due.
                loss_sum += loss.detach().float()
                n_acc += 1
                step += 1
                start += 1
                first = _first_tensor(batch)
                samples += len(first) if first is not None else 0
                if bar is not None:
                    bar.update(1)

                do_val = val is not None and (step % val_every == 0 or step == total)
                if step % cfg.log_every == 0 or step == total or do_val:
                    if world > 1:
                        import torch.distributed as dist

                        dist.all_reduce(loss_sum)
                        loss_sum /= world
                    now = time.perf_counter()
                    row = {
                        "step": step,
                        "epoch": epoch + start / per_epoch if per_epoch else epoch,
                        "train_loss": loss_sum.item() / n_acc if n_acc else None,
                        "val_loss": self._validate(model, val, device, channels_last, autocast, world)
                        if val is not None and do_val
                        else None,
                        "lr": opt.param_groups[0]["lr"],
                        "samples_per_s": samples * world / max(now - t_last, 1e-9),
                        "time": elapsed + now - t_start,
                    }
                    loss_sum.zero_()
                    n_acc, samples, t_last = 0, 0, now
                    self.history.append(row)
                    if metrics is not None:
                        metrics[1].writerow([row[c] if row[c] is not None else "" for c in METRIC_COLUMNS])
                        metrics[0].flush()
                    if writer is not None:
                        for key in ("train_loss", "val_loss", "lr", "samples_per_s"):
                            if row[key] is not None:
                                writer.add_scalar(key, row[key], step)
                    if bar is not None:
                        bar.set_postfix(
                            loss=f"{row['train_loss']:.4g}", samples_s=f"{row['samples_per_s']:.0f}", refresh=False
                        )
                    if do_val:
                        v = row["val_loss"]
                        if self.best_val_loss_ is None or v < self.best_val_loss_ - cfg.min_delta:
                            self.best_val_loss_, self.best_step_, bad_evals = v, step, 0
                            best_state = _cpu_copy(model.state_dict())
                        else:
                            bad_evals += 1
                            if cfg.patience is not None and bad_evals >= cfg.patience:
                                self.stopped_early_ = done = True

                if ckpt_path is not None and ckpt_every and (step % ckpt_every == 0 or step >= total or done):
                    save_checkpoint(ckpt_path)
                if step >= total or done:
                    break
            else:
                epoch, start = epoch + 1, 0
                continue
            if per_epoch is not None and start >= per_epoch:
                epoch, start = epoch + 1, 0

        self.step_ = step
        if bar is not None:
            bar.close()
        if writer is not None:
            writer.close()
        if metrics is not None:
            metrics[0].close()
        if out_dir is not None and main and self.history:
            _plot(self.history, out_dir / PLOT_NAME)
        if val is not None and cfg.restore_best and best_state is not None:
            model.load_state_dict(best_state)
        model.eval()

    def _open_metrics(self, path: Path) -> Any:
        # The checkpoint's history is the truth: rows after it (from a killed run) are
        # dropped, so a resumed run never duplicates steps.
        fh = open(path, "w", newline="")
        out = csv.writer(fh)
        out.writerow(METRIC_COLUMNS)
        for row in self.history:
            out.writerow([row[c] if row[c] is not None else "" for c in METRIC_COLUMNS])
        fh.flush()
        return fh, out

    @torch.no_grad()
    def _validate(
        self, model: nn.Module, val: _Batches, device: torch.device, channels_last: bool, autocast: Any, world: int
    ) -> float:
        """Sample-weighted mean loss over the validation data, with the same noise each time."""
        was_training = model.training
        model.eval()
        total = torch.zeros(2, dtype=torch.float64, device=device)
        with _fixed_rng(self.config.seed + 7919 + val.rank):
            for batch in val.epoch(0):
                batch = _to_device(batch, device, channels_last)
                with autocast():
                    loss = _call(model, batch)
                first = _first_tensor(batch)
                # A batch without tensors (the model builds its own) has no sample count:
                # it weighs as one, so the loss is then a mean over batches.
                n = len(first) if first is not None else 1
                total[0] += loss.detach().double() * n
                total[1] += n
        if world > 1:
            import torch.distributed as dist

            dist.all_reduce(total)
        model.train(was_training)
        return float(total[0] / total[1])
