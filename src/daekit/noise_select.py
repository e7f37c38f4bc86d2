"""Choose the corruption a DAE trains with by validation, not by guess.

``select(train, ...)`` runs one short training per candidate noise process and level
(Gaussian, salt-and-pepper, masking, speckle, and no noise as the baseline), scores each
trained model on held-out data with the criterion that fits the task, and returns a
ranked table, the best noise object and a score-against-level plot per noise type.

Criteria (higher is better for all three):

* ``task="denoise"``: PSNR (dB, data scaled to [0, 1]) of the model's reconstruction of
  the clean held-out data from its noisy version, either recorded (``val_noisy=``) or
  made with the noise the model will meet (``target=``, e.g. a level from
  ``daekit.noise.estimate``).
* ``task="features"``: accuracy of a linear probe (logistic regression on the codes of
  the training part, scored on the held-out part); needs labels.
* ``task="anomaly"``: without labels, the *tail contrast* of the reconstruction errors
  on the held-out part of the (as usual, unlabelled and contaminated) training data:
  ``(mean of the top 5 % errors − median) / IQR``. A detector that lets the few odd rows
  stand far out from the bulk scores high; one that rebuilds everything alike scores
  low. It was chosen among eight label-free criteria (synthetic anomalies, held-out
  error, consensus centrality, pseudo-labels...) on ADBench seeds 1–2 and checked on
  seed 3 (``benchmarks/noise.py``); none of them ranks all candidates well, this one
  picked the best noise on average. With labels (``y_val``) the true ROC-AUC on the
  held-out part is used instead.

The data is min-max scaled on the training part first (``normalize=True``), so the
default levels and the returned noise are on a [0, 1] scale, as daekit's detectors and
feature extractors expect. Training runs through ``daekit.Trainer``.

Example:
    >>> import numpy as np, daekit as dk
    >>> X = np.random.default_rng(0).random((600, 8))
    >>> result = dk.noise.select(X, task="anomaly", budget=60, steps=50, quiet=True)  # doctest: +SKIP
    >>> result.best, result.table[0]["score"]                                          # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import checks
from . import noise as noise_lib
from .dae import DenoisingAutoencoder
from .models import Autoencoder, create_model

# The result and the scores live in modules of their own; their names stay importable here.
from .noise_select_result import Selection, TrialRow
from .noise_select_scores import _CRITERIA as _CRITERIA
from .noise_select_scores import _codes as _codes
from .noise_select_scores import _errors as _errors
from .noise_select_scores import _probe_accuracy as _probe_accuracy
from .noise_select_scores import _Scorer, tail_contrast

__all__ = ["select", "Selection", "parse_budget", "default_candidates", "tail_contrast", "TASKS", "DEFAULT_LEVELS"]

TASKS = ("denoise", "features", "anomaly")

# Levels on data scaled to [0, 1]: from barely there to half the signal destroyed.
DEFAULT_LEVELS: dict[str, tuple[float, ...]] = {
    "gaussian": (0.05, 0.1, 0.2, 0.3, 0.5),
    "masking": (0.1, 0.25, 0.4, 0.6),
    "saltpepper": (0.02, 0.05, 0.1, 0.2),
    "speckle": (0.1, 0.25, 0.5, 1.0),
}
_CLASSES = {
    "gaussian": (noise_lib.Gaussian, "std"),
    "masking": (noise_lib.Masking, "p"),
    "saltpepper": (noise_lib.SaltPepper, "p"),
    "speckle": (noise_lib.Speckle, "std"),
}
_LEVEL_RANGE = {"gaussian": (0.01, 0.8), "masking": (0.05, 0.8), "saltpepper": (0.01, 0.4), "speckle": (0.05, 1.5)}


# ---------------------------------------------------------------------------------------
# Candidates and budgets
# ---------------------------------------------------------------------------------------


@dataclass
class Candidate:
    """One noise setting to try: its family name, level and process."""

    kind: str
    level: float
    noise: noise_lib.Noise

    @property
    def spec(self) -> str:
        return "none" if self.kind == "none" else f"{self.kind}:{self.level:g}"


def _candidate(kind: str, level: float) -> Candidate:
    if kind == "none":
        return Candidate("none", 0.0, noise_lib.Identity())
    if kind not in _CLASSES:
        raise ValueError(f"unknown noise type {kind!r}: use one of none, {', '.join(_CLASSES)}.")
    cls, arg = _CLASSES[kind]
    return Candidate(kind, float(level), cls(**{arg: float(level)}))


def default_candidates(levels: dict[str, Sequence[float]] | None = None) -> list[Candidate]:
    """No noise, then every type round-robin, each type's middle levels first.

    The order matters only when the budget stops the search early: every type gets
    tried, at a sensible level, before any type gets its extremes.
    """
    levels = dict(DEFAULT_LEVELS if levels is None else levels)
    queues = []
    for kind, values in levels.items():
        values = sorted(float(v) for v in values)
        mid = (len(values) - 1) / 2
        queues.append(
            [
                _candidate(kind, v)
                for _, v in sorted(zip([abs(i - mid) for i in range(len(values))], values), key=lambda t: t[0])
            ]
        )
    out = [_candidate("none", 0)]
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def _random_candidates(n: int, kinds: Sequence[str], seed: int) -> list[Candidate]:
    rng = np.random.default_rng(seed)
    out = [_candidate("none", 0)]
    for _ in range(max(n - 1, 0)):
        kind = kinds[int(rng.integers(len(kinds)))]
        lo, hi = _LEVEL_RANGE[kind]
        out.append(_candidate(kind, float(np.exp(rng.uniform(np.log(lo), np.log(hi))).round(4))))
    return out


def _parse_candidates(candidates: Any) -> list[Candidate]:
    if candidates is None:
        return default_candidates()
    if isinstance(candidates, dict):
        unknown = set(candidates) - set(_CLASSES) - {"none"}
        if unknown:
            raise ValueError(f"unknown noise types {sorted(unknown)}: use {', '.join(_CLASSES)}.")
        # No noise always runs first: it is the baseline every other score is read against.
        return default_candidates({k: v for k, v in candidates.items() if k != "none"})
    out = []
    for c in candidates:
        if isinstance(c, Candidate):
            out.append(c)
            continue
        proc = noise_lib.from_spec(c) if isinstance(c, str) else c
        if not isinstance(proc, noise_lib.Noise):
            raise ValueError(f"candidate {c!r} is not a noise spec or a daekit.noise.Noise.")
        kind = {v[0]: k for k, v in _CLASSES.items()}.get(type(proc), type(proc).__name__.lower())
        if isinstance(proc, noise_lib.Identity):
            kind = "none"
        arg = _CLASSES[kind][1] if kind in _CLASSES else None
        level = getattr(proc, arg) if arg else 0.0
        level = float(np.mean(level)) if isinstance(level, tuple) else float(level)
        out.append(Candidate(kind, level, proc))
    if not out:
        raise ValueError("no candidate noise to try.")
    return out


def parse_budget(budget: Any) -> float:
    """Seconds from ``300``, ``"300"``, ``"90s"``, ``"5m"``, ``"1.5h"``, ``"1h30m"``.

    Example:
        >>> parse_budget("5m"), parse_budget("1h30m"), parse_budget(45)
        (300.0, 5400.0, 45.0)
    """
    if isinstance(budget, (int, float)) and not isinstance(budget, bool):
        seconds = float(budget)
    else:
        text = str(budget).strip().lower()
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([hms]?)", text)
        if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([hms]?)", "", text).strip():
            raise ValueError(f"budget {budget!r} is not a duration: use seconds or e.g. '90s', '5m', '1h'.")
        seconds = sum(float(v) * {"h": 3600, "m": 60, "s": 1, "": 1}[u] for v, u in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"budget {budget!r} must be a positive duration.")
    return seconds


# ---------------------------------------------------------------------------------------
# Data handling
# ---------------------------------------------------------------------------------------


def _array(x: Any, name: str) -> np.ndarray:
    if x is None:
        raise ValueError(f"{name} is None: pass the samples as an array or tensor.")
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}.")
    arr = arr.astype(np.float32)
    if arr.ndim < 2 or arr.shape[0] < 2:
        raise ValueError(f"{name} must have shape (N, F), (N, C, T) or (N, C, H, W) with N >= 2; got {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} holds NaN or infinite values: impute or drop them first "
            "(daekit.noise.estimate(..., kind='table') reports the missing share)."
        )
    return arr


def _minmax(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Per feature for tables; one range for images, audio and series (channels share a scale).
    axes = 0 if train.ndim == 2 else None
    lo, hi = train.min(axis=axes), train.max(axis=axes)
    span = np.where(hi > lo, hi - lo, 1.0)  # a constant column maps to 0, not NaN
    return np.asarray(lo, np.float32), np.asarray(span, np.float32)


def _labels(y: Any, n: int, name: str) -> np.ndarray | None:
    if y is None:
        return None
    y = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y).reshape(-1)
    if len(y) != n:
        raise ValueError(f"{name} has {len(y)} labels for {n} samples.")
    return y


def _default_model(shape: tuple[int, ...], normalized: bool) -> Callable[[], Autoencoder]:
    out = "sigmoid" if normalized else "identity"
    if len(shape) == 1:
        width = shape[0]
        # The sizing of daekit's DAEDetector, so that "default noise" means the same there.
        hidden = (int(np.clip(2 * width, 16, 256)), int(np.clip(width // 2, 4, 64)))
        return lambda: create_model("mlp", in_features=width, hidden_sizes=hidden, output_activation=out)
    if len(shape) == 2:
        return lambda: create_model(
            "conv1d", in_channels=shape[0], channels=(16, 32), blocks_per_level=1, kernel_size=5, output_activation=out
        )
    if len(shape) == 3:
        return lambda: create_model(
            "conv2d", in_channels=shape[0], channels=(16, 32), blocks_per_level=1, output_activation=out
        )
    raise ValueError(f"samples of shape {shape} are not supported: use (F,), (C, T) or (C, H, W).")


def _model_factory(model: Any, shape: tuple[int, ...], normalized: bool) -> Callable[[], Autoencoder]:
    if model is None:
        return _default_model(shape, normalized)
    if isinstance(model, str):
        return lambda: create_model(
            model, **({"in_features": shape[0]} if model == "mlp" else {"in_channels": shape[0]})
        )
    if isinstance(model, dict):
        kwargs = dict(model)
        name = kwargs.pop("name")
        return lambda: create_model(name, **kwargs)
    if callable(model):
        return model
    raise ValueError(
        f"model={model!r} is not valid: give a model name, a dict with 'name' and arguments, "
        "or a function that returns a fresh model."
    )


# ---------------------------------------------------------------------------------------
# The search
# ---------------------------------------------------------------------------------------


def _train_one(
    factory: Callable[[], Autoencoder],
    candidate: Candidate,
    train: np.ndarray,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: str,
) -> tuple[DenoisingAutoencoder, float]:
    from .train import TrainConfig, Trainer  # train sits above noise: imported when used

    torch.manual_seed(seed)  # the same initial weights for every candidate
    dae = DenoisingAutoencoder(factory(), noise=candidate.noise)
    cfg = TrainConfig(
        max_steps=steps,
        batch_size=min(batch_size, len(train)),
        lr=lr,
        seed=seed,
        quiet=True,
        device=device,
        log_every=max(steps, 1),
        tensorboard=False,
        ckpt_every=0,
    )
    trainer = Trainer(dae, cfg).fit(torch.from_numpy(train))
    loss = trainer.history[-1]["train_loss"] if trainer.history else float("nan")
    dae.to("cpu").eval()
    return dae, float(loss)


def select(
    train: Any,
    val: Any = None,
    *,
    task: str = "denoise",
    y: Any = None,
    y_val: Any = None,
    val_noisy: Any = None,
    target: Any = None,
    candidates: Any = None,
    search: str = "grid",
    n_trials: int | None = None,
    budget: Any = 300,
    steps: int = 300,
    batch_size: int = 128,
    lr: float = 1e-3,
    model: Any = None,
    normalize: bool = True,
    val_share: float = 0.2,
    seed: int = 0,
    device: str = "cpu",
    quiet: bool = False,
    plot: str | os.PathLike | None = None,
    on_trial: Callable[[TrialRow, DenoisingAutoencoder], None] | None = None,
) -> Selection:
    """Try candidate noise processes and levels with short trainings; rank them on held-out data.

    Args:
        train: clean training samples ``(N, F)``, ``(N, C, T)`` or ``(N, C, H, W)``.
        val: clean held-out samples; ``None`` holds out ``val_share`` of ``train``.
        task: ``"denoise"``, ``"features"`` or ``"anomaly"`` (see the module docstring).
        y: labels of ``train`` (``features`` needs them; split with it when ``val`` is None).
        y_val: labels of ``val``; for ``anomaly``, 1 = anomaly (then the true AUC is used).
        val_noisy: ``denoise`` only: the recorded noisy version of ``val``.
        target: ``denoise`` only: the noise the model will meet (a ``Noise`` or a spec
            such as ``"gaussian:0.1"``, on the data's own scale), applied to ``val`` with
            a fixed seed when ``val_noisy`` is not given.
        candidates: ``None`` (the default grid, ``DEFAULT_LEVELS``), a dict
            ``{"gaussian": [0.1, 0.2], ...}``, or a list of specs / ``Noise`` objects.
        search: ``"grid"`` or ``"random"`` (``n_trials`` draws, levels log-uniform).
        n_trials: at most this many trials (None: the whole grid, or 12 random ones).
        budget: wall-clock seconds (or ``"5m"``); a trial starts only if it should finish
            in time. ``ValueError`` when not even one fits.
        steps, batch_size, lr: the short training of each trial (AdamW via ``Trainer``).
        model: ``None`` (sized from the data), a model name, a dict ``{"name": ..., **kwargs}``,
            or a function returning a fresh ``Autoencoder``.
        normalize: min-max scale on ``train`` first, so levels are on [0, 1].
        val_share: the held-out share when ``val`` is None.
        seed: one seed for the split, the initial weights and the noise draws.
        device: where the trials train.
        quiet: no progress bar.
        plot: write the score-vs-level PNG there.
        on_trial: called after each trial as ``on_trial(row, dae)`` (e.g. to log, or to
            score the trained model on other data); its time counts against the budget.

    Returns:
        :class:`Selection`.

    Shape:
        train/val: ``(N, ...)``; y: ``(N,)``.

    Example:
        >>> sel = select(X, task="features", y=labels, budget="2m")    # doctest: +SKIP
        >>> print(sel.format_table()); sel.best                        # doctest: +SKIP
    """
    t0 = time.perf_counter()
    if task not in TASKS:
        raise ValueError(f"task={task!r} is not valid: use one of {', '.join(TASKS)}.")
    if search not in ("grid", "random"):
        raise ValueError(f"search={search!r} is not valid: use 'grid' or 'random'.")
    checks.POSITIVE_INT.check("steps", steps)
    checks.POSITIVE_INT.check("batch_size", batch_size)
    checks.POSITIVE.check("lr", lr)
    checks.POSITIVE_INT.check("n_trials", n_trials, optional=True)
    budget_s = parse_budget(budget)
    train = _array(train, "train")
    y = _labels(y, len(train), "y")
    if val is None:
        if val_noisy is not None:
            raise ValueError("val_noisy needs the clean held-out data it belongs to: pass val= as well.")
        if not 0 < val_share < 1:
            raise ValueError(f"val_share={val_share!r} must lie in (0, 1).")
        order = np.random.default_rng(seed).permutation(len(train))
        n_val = max(1, int(round(val_share * len(train))))
        val, train = train[order[:n_val]], train[order[n_val:]]
        if y is not None:
            y_val, y = y[order[:n_val]], y[order[n_val:]]
    else:
        val = _array(val, "val")
        if val.shape[1:] != train.shape[1:]:
            raise ValueError(f"val samples have shape {val.shape[1:]} but train samples {train.shape[1:]}.")
    y_val = _labels(y_val, len(val), "y_val")
    if len(train) < 2:
        raise ValueError("too few training samples left after holding out the validation part.")
    if np.ptp(train) == 0:
        raise ValueError(
            "the training data is constant: no noise detected and nothing to reconstruct, "
            "so there is no noise to select."
        )

    # Task-specific inputs, on the raw scale, before normalising.
    if task == "denoise":
        if val_noisy is not None:
            val_noisy = _array(val_noisy, "val_noisy")
            if val_noisy.shape != val.shape:
                raise ValueError(f"val_noisy has shape {val_noisy.shape} but val has {val.shape}.")
        elif target is not None:
            target = noise_lib.from_spec(target) if isinstance(target, str) else target
            gen = torch.Generator().manual_seed(seed + 1)
            val_noisy = target(torch.from_numpy(val), generator=gen).numpy().astype(np.float32)
        else:
            raise ValueError(
                "task='denoise' scores the reconstruction of clean held-out data from its noisy "
                "version: pass val_noisy= (recorded) or target= (e.g. 'gaussian:0.1'; "
                "daekit.noise.estimate gives the level of real data)."
            )
    if task == "features" and (y is None or y_val is None):
        raise ValueError("task='features' scores a linear probe and needs labels: pass y= (and y_val= with val=).")
    if task == "features" and len(np.unique(y)) < 2:
        raise ValueError("task='features' needs at least two classes in y.")

    normalization = None
    if normalize:
        lo, span = _minmax(train)
        train, val = (train - lo) / span, (val - lo) / span
        if val_noisy is not None:
            val_noisy = (val_noisy - lo) / span
        normalization = {"low": np.asarray(lo).tolist(), "high": np.asarray(lo + span).tolist()}
    # A sigmoid output fits data on [0, 1] (scaled here, or already so, like pixels / 255).
    factory = _model_factory(model, train.shape[1:], normalize or (train.min() >= 0 and train.max() <= 1))
    scorer = _Scorer(task, train, val, y, y_val, val_noisy)

    if search == "random":
        # Random search draws types (from the candidates' keys or names, if given) and levels.
        kinds = [k for k in (candidates or _CLASSES) if isinstance(k, str) and k in _CLASSES] or list(_CLASSES)
        plan = _random_candidates(n_trials or 12, kinds, seed)
    else:
        plan = _parse_candidates(candidates)
        if n_trials is not None:
            plan = plan[:n_trials]

    # Calibrate: a few steps and one scoring tell how long a full trial takes.
    # The first call pays one-off costs (imports, allocator warm-up): run it, then time a
    # short and a longer run, so the per-step cost and the per-trial overhead are separated.
    _train_one(factory, _candidate("none", 0), train, 1, batch_size, lr, seed, device)
    short, long_ = min(steps, 2), min(steps, 12)
    t = time.perf_counter()
    _train_one(factory, _candidate("none", 0), train, short, batch_size, lr, seed, device)
    t_short = time.perf_counter() - t
    t = time.perf_counter()
    dae, _ = _train_one(factory, _candidate("none", 0), train, long_, batch_size, lr, seed, device)
    t_long = time.perf_counter() - t
    per_step = max(t_long - t_short, 0.0) / max(long_ - short, 1) if long_ > short else t_long / long_
    t_train = max(t_short - short * per_step, 0.0) + steps * per_step
    t = time.perf_counter()
    scorer(dae)
    per_trial = t_train + (time.perf_counter() - t)
    left = budget_s - (time.perf_counter() - t0)
    if left < per_trial:
        raise ValueError(
            f"budget {budget_s:g} s allows 0 trials (one trial of {steps} steps takes about "
            f"{per_trial:.1f} s here); raise --budget or lower --steps."
        )

    bar = None
    if not quiet:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(plan), unit="trial", desc=f"noise select ({task})", dynamic_ncols=True)
    rows: list[TrialRow] = []
    notes: list[str] = []
    best_dae: DenoisingAutoencoder | None = None
    best_score = -math.inf
    longest = per_trial
    for cand in plan:
        elapsed = time.perf_counter() - t0
        if elapsed + longest > budget_s:
            notes.append(
                f"budget reached: {len(plan) - len(rows)} of {len(plan)} candidates not run "
                f"(about {longest:.1f} s each); raise the budget to run them all."
            )
            break
        t = time.perf_counter()
        dae, loss = _train_one(factory, cand, train, steps, batch_size, lr, seed, device)
        score = scorer(dae)
        seconds = time.perf_counter() - t
        longest = max(longest * 0.5 + seconds * 0.5, seconds)  # trust the slowest recent trial
        if not math.isfinite(score):
            notes.append(f"{cand.spec}: the score was not finite (diverged training); ranked last.")
            score = -math.inf
        rows.append(
            {
                "noise": cand.spec,
                "type": cand.kind,
                "level": cand.level,
                "config": cand.noise.to_config(),
                "score": score,
                "train_loss": loss,
                "seconds": seconds,
            }
        )
        if on_trial is not None:
            on_trial(rows[-1], dae)
        if score > best_score or best_dae is None:
            best_score, best_dae = score, dae
        if bar is not None:
            bar.update(1)
            bar.set_postfix(best=rows[int(np.argmax([r["score"] for r in rows]))]["noise"], score=f"{best_score:.4g}")
    if bar is not None:
        bar.close()

    rows.sort(key=lambda r: -r["score"])
    for i, r in enumerate(rows, 1):
        r["rank"] = i
        if not math.isfinite(r["score"]):
            r["score"] = -1e9  # keeps the JSON finite; the notes say which trial diverged
    best_cfg = rows[0]["config"]
    result = Selection(
        table=rows,
        best=noise_lib.from_config(best_cfg),
        best_score=rows[0]["score"],
        task=task,
        criterion=scorer.criterion,
        planned=len(plan),
        budget_s=budget_s,
        elapsed_s=time.perf_counter() - t0,
        normalization=normalization,
        best_dae=best_dae,
        notes=notes,
    )
    if plot is not None:
        result.plot(plot)
    return result
