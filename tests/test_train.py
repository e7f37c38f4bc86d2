"""Trainer and TrainConfig: every capability has a test that fails without it (CPU, fast)."""

from __future__ import annotations

import argparse
import csv
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from daekit.train import (
    CHECKPOINT_NAME,
    METRIC_COLUMNS,
    TrainConfig,
    Trainer,
    _lr_factor,
    add_train_arguments,
    config_from_args,
)

SRC = str(Path(__file__).resolve().parents[1] / "src")


class Recon(nn.Module):
    """A tiny loss-returning module: noisy input -> MLP -> MSE to the clean input."""

    def __init__(self, dim: int = 8, noise: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, 4), nn.ReLU(), nn.Linear(4, dim))
        self.noise = noise

    def forward(self, x):
        return F.mse_loss(self.net(x + self.noise * torch.randn_like(x)), x)


def quick(**kw) -> TrainConfig:
    base = dict(max_steps=20, batch_size=16, quiet=True, device="cpu", log_every=5)
    return TrainConfig(**{**base, **kw})


def read_metrics(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------- config


def test_toml_with_train_table_overrides_and_unknown_key(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('[model]\nname = "mlp"\n\n[train]\nmax_steps = 500\nlr = 3e-4\nschedule = "cosine"\n')
    cfg = TrainConfig.from_toml(path, batch_size=128)
    assert (cfg.max_steps, cfg.lr, cfg.schedule, cfg.batch_size) == (500, 3e-4, "cosine", 128)

    (tmp_path / "flat.toml").write_text("epochs = 3\n")
    assert TrainConfig.from_toml(tmp_path / "flat.toml").epochs == 3

    (tmp_path / "bad.toml").write_text("[train]\nlrr = 0.1\n")
    with pytest.raises(ValueError, match=r"Unknown training option 'lrr' in .*bad.toml; accepted:"):
        TrainConfig.from_toml(tmp_path / "bad.toml")
    with pytest.raises(ValueError, match="Unknown training option 'stepz'"):
        cfg.replace(stepz=3)
    with pytest.raises(ValueError, match="'max_steps' must be int"):
        TrainConfig(max_steps="10")
    with pytest.raises(ValueError, match="schedule must be one of"):
        TrainConfig(schedule="linear")
    with pytest.raises(ValueError, match="does not exist"):
        TrainConfig.from_toml(tmp_path / "missing.toml")


def test_cli_helpers_precedence(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text("[train]\nlr = 0.01\nbatch_size = 32\n")
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    args = parser.parse_args(["--config", str(path), "--batch-size", "8", "--quiet", "--no-resume"])
    cfg = config_from_args(args, out_dir="runs/x", lr=0.5, epochs=2)
    # defaults < file < flags
    assert (cfg.lr, cfg.batch_size, cfg.epochs, cfg.out_dir, cfg.quiet, cfg.resume) == (
        0.01,
        8,
        2,
        "runs/x",
        True,
        False,
    )
    assert config_from_args(parser.parse_args([])).quiet is False


# --------------------------------------------------------------------------- loop pieces


@pytest.mark.parametrize("data_kind", ["tensor", "numpy", "dataset", "loader"])
def test_fit_accepts_data_kinds_and_learns(data_kind):
    torch.manual_seed(0)
    x = torch.randn(128, 8)
    data = {
        "tensor": x,
        "numpy": x.numpy(),
        "dataset": _ListDataset(x),
        "loader": DataLoader(x, batch_size=16, shuffle=True),
    }[data_kind]
    model = Recon(noise=0.0)
    first = float(model(x).detach())
    trainer = Trainer(model, quick(max_steps=150, lr=1e-2)).fit(data)
    assert trainer.step_ == 150
    assert float(model(x).detach()) < 0.8 * first


class _ListDataset(Dataset):
    def __init__(self, x):
        self.x = x

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i]


def test_tuple_batches_are_unpacked():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x, target):
            return F.mse_loss(self.lin(x), target)

    x = torch.randn(64, 4)
    trainer = Trainer(Pair(), quick()).fit(TensorDataset(x, 2 * x), TensorDataset(x, 2 * x))
    assert trainer.best_val_loss_ is not None


def test_schedules():
    total = 100
    const = [_lr_factor(s, total=total, schedule="constant", warmup=10, min_ratio=0) for s in range(total)]
    assert const[0] == pytest.approx(0.1) and const[9] == 1 and const[-1] == 1
    cos = [_lr_factor(s, total=total, schedule="cosine", warmup=0, min_ratio=0.1) for s in range(total + 1)]
    assert cos[0] == 1 and cos[50] == pytest.approx(0.55) and cos[-1] == pytest.approx(0.1)
    one = [_lr_factor(s, total=total, schedule="onecycle", warmup=0, min_ratio=0) for s in range(total + 1)]
    assert one[0] == pytest.approx(1 / 25) and max(one) == one[30] == 1 and one[-1] < 1e-4
    # ...and the Trainer really applies them: the lr column follows the schedule.
    for schedule, last in (("constant", 1e-2), ("cosine", 1e-4)):
        trainer = Trainer(Recon(), quick(lr=1e-2, schedule=schedule, min_lr=1e-4, log_every=1)).fit(torch.randn(64, 8))
        lrs = [r["lr"] for r in trainer.history]
        assert lrs[-1] == pytest.approx(last)
        if schedule == "cosine":
            assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_gradient_clipping():
    class Big(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(10))

        def forward(self, x):
            return 1e3 * (self.w * x).sum(1).pow(2).mean()

    x = torch.randn(64, 10)
    for clip in (None, 0.5):
        model = Big()
        Trainer(model, quick(max_steps=3, grad_clip=clip)).fit(x)
        # Gradients of the last step are still on the parameters (zeroed before backward).
        norm = model.w.grad.norm().item()
        assert (norm <= 0.5 + 1e-5) if clip else (norm > 10)


def test_early_stopping_restores_best_weights():
    class Pull(nn.Module):
        """Train data pulls w to 5; validation data sits at 0, so val loss only worsens."""

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return (self.w - x).pow(2).mean()

    model = Pull()
    trainer = Trainer(model, quick(max_steps=200, lr=0.05, val_every=5, patience=2)).fit(
        torch.full((64, 1), 5.0), torch.zeros(16, 1)
    )
    assert trainer.stopped_early_ and trainer.step_ == 15 and trainer.best_step_ == 5
    vals = [r["val_loss"] for r in trainer.history if r["val_loss"] is not None]
    assert len(vals) == 3 and vals[0] < vals[1] < vals[2]
    # The model holds the step-5 weights, not the step-15 ones.
    assert float(model.w.detach()) ** 2 == pytest.approx(trainer.best_val_loss_, rel=1e-5)
    assert float(model.w.detach()) ** 2 < vals[-1]


def test_validation_uses_the_same_noise_every_time():
    model = Recon(noise=1.0)
    trainer = Trainer(model, quick(lr=1e-12, val_every=5))  # lr ~ 0: weights do not move
    trainer.fit(torch.randn(64, 8), torch.randn(32, 8))
    vals = [r["val_loss"] for r in trainer.history if r["val_loss"] is not None]
    assert len(vals) == 4 and max(vals) - min(vals) < 1e-6


def test_no_per_step_host_sync(monkeypatch):
    calls = []
    real_item = torch.Tensor.item

    def counting_item(self):
        # Only the Trainer's own calls: AdamW reads its CPU step counters with .item(),
        # which is no device sync.
        if sys._getframe(1).f_code.co_filename.endswith(os.path.join("daekit", "train.py")):
            calls.append(1)
        return real_item(self)

    monkeypatch.setattr(torch.Tensor, "item", counting_item)
    Trainer(Recon(), quick(max_steps=60, log_every=1000)).fit(torch.randn(64, 8))
    assert len(calls) <= 2  # one metrics row at the last step, not one per step


def test_bf16_autocast_on_cpu():
    seen = []

    class Probe(Recon):
        def forward(self, x):
            h = self.net[0](x)
            seen.append(h.dtype)
            return F.mse_loss(self.net[2](self.net[1](h)).float(), x)

    Trainer(Probe(), quick(max_steps=5, precision="bf16")).fit(torch.randn(64, 8))
    assert seen and all(d == torch.bfloat16 for d in seen)


def test_fp16_uses_grad_scaler(tmp_path):
    model = Recon()
    Trainer(model, quick(max_steps=6, precision="fp16", out_dir=str(tmp_path))).fit(torch.randn(64, 8))
    ck = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert ck["scaler"] and ck["scaler"]["scale"] > 0
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_channels_last_inputs_when_asked():
    formats = []

    class Conv(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 2, 3, padding=1)

        def forward(self, x):
            formats.append(x.is_contiguous(memory_format=torch.channels_last))
            return F.mse_loss(self.conv(x), x)

    Trainer(Conv(), quick(max_steps=2, channels_last=True)).fit(torch.randn(32, 2, 6, 6))
    assert formats == [True, True]


# --------------------------------------------------------------------------- records


def test_metrics_csv_and_loss_curve(tmp_path):
    trainer = Trainer(Recon(), quick(max_steps=20, val_every=10, out_dir=str(tmp_path)))
    trainer.fit(torch.randn(64, 8), torch.randn(16, 8))
    rows = read_metrics(tmp_path / "metrics.csv")
    assert tuple(rows[0]) == METRIC_COLUMNS
    assert [int(r["step"]) for r in rows] == [5, 10, 15, 20]
    assert [r["val_loss"] != "" for r in rows] == [False, True, False, True]
    assert all(float(r["samples_per_s"]) > 0 and math.isfinite(float(r["train_loss"])) for r in rows)
    pytest.importorskip("matplotlib")
    png = tmp_path / "loss_curve.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tensorboard_events_when_installed(tmp_path):
    pytest.importorskip("tensorboard")
    Trainer(Recon(), quick(out_dir=str(tmp_path))).fit(torch.randn(64, 8))
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def test_checkpoint_contents_load_weights_only(tmp_path):
    Trainer(Recon(), quick(max_steps=10, ckpt_every=5, out_dir=str(tmp_path), schedule="cosine")).fit(
        torch.randn(64, 8), torch.randn(16, 8)
    )
    ck = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert ck["step"] == 10 and ck["config"]["schedule"] == "cosine"
    assert {"model", "optimizer", "scheduler", "rng", "best", "history"} <= set(ck)
    assert set(ck["rng"][0]) == {"torch", "cuda", "numpy", "python"}
    assert ck["best"]["state"] is not None


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    x = torch.randn(64, 8)
    Trainer(Recon(), quick(max_steps=10, out_dir=str(tmp_path))).fit(x)
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()

    def dying_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(OSError, match="disk full"):
        Trainer(Recon(), quick(max_steps=20, ckpt_every=12, out_dir=str(tmp_path))).fit(x)
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == before
    assert torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)["step"] == 10
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_finished_run_resumes_as_noop_and_can_be_extended(tmp_path):
    x = torch.randn(64, 8)
    t1 = Trainer(Recon(), quick(max_steps=10, out_dir=str(tmp_path))).fit(x)
    t2 = Trainer(Recon(), quick(max_steps=10, out_dir=str(tmp_path))).fit(x)
    assert t2.history == t1.history
    t3 = Trainer(Recon(), quick(max_steps=20, out_dir=str(tmp_path))).fit(x)
    assert t3.step_ == 20 and [r["step"] for r in t3.history] == [5, 10, 15, 20]
    t4 = Trainer(Recon(), quick(max_steps=10, out_dir=str(tmp_path), resume=False)).fit(x)
    assert [int(r["step"]) for r in read_metrics(tmp_path / "metrics.csv")] == [5, 10]
    assert t4.step_ == 10


# --------------------------------------------------------------------------- resume after SIGKILL

_SCRIPT = r"""
import sys, time, torch
from torch import nn
from torch.nn import functional as F
from daekit.train import Trainer, TrainConfig

out, delay = sys.argv[1], float(sys.argv[2])

class Noisy(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 16))
    def forward(self, x):
        time.sleep(delay)  # slow enough to be killed mid-run; no effect on the numbers
        return F.mse_loss(self.net(x + 0.3 * torch.randn_like(x)), x)

class Rows(torch.utils.data.Dataset):  # map-style: exercises the DataLoader path
    def __init__(self, x): self.x = x
    def __len__(self): return len(self.x)
    def __getitem__(self, i): return self.x[i]

torch.manual_seed(0)
x, v = torch.randn(200, 16), torch.randn(40, 16)
cfg = TrainConfig(max_steps=60, batch_size=16, lr=3e-3, schedule="cosine", log_every=5, val_every=10,
                  ckpt_every=10, seed=3, out_dir=out, quiet=True, device="cpu")
Trainer(Noisy(), cfg).fit(Rows(x), v)
"""


def _run_script(script: Path, out: Path, delay: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, str(script), str(out), str(delay)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def _losses(path: Path) -> list[tuple]:
    return [(int(r["step"]), r["train_loss"], r["val_loss"], r["lr"]) for r in read_metrics(path)]


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    script = tmp_path / "train_script.py"
    script.write_text(_SCRIPT)
    clean, killed = tmp_path / "clean", tmp_path / "killed"

    proc = _run_script(script, clean, 0.0)
    assert proc.wait(timeout=120) == 0, proc.stdout.read().decode()

    proc = _run_script(script, killed, 0.03)
    metrics = killed / "metrics.csv"
    deadline = time.time() + 120
    # Kill once a checkpoint exists and rows beyond it were written (those must be dropped).
    while time.time() < deadline and proc.poll() is None:
        if (killed / CHECKPOINT_NAME).exists() and metrics.exists():
            steps = [int(r["step"]) for r in read_metrics(metrics)]
            if steps and steps[-1] >= 25:
                break
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    partial_steps = [int(r["step"]) for r in read_metrics(metrics)]
    assert partial_steps[-1] < 60

    proc = _run_script(script, killed, 0.0)  # the same command again
    assert proc.wait(timeout=120) == 0, proc.stdout.read().decode()
    resumed = _losses(metrics)
    assert [r[0] for r in resumed] == list(range(5, 61, 5))  # no duplicated or lost rows
    assert resumed == _losses(clean / "metrics.csv")  # bit-for-bit the same losses


def test_unreadable_or_foreign_checkpoint_is_one_sentence(tmp_path):
    x = torch.randn(64, 8)
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read as a training checkpoint"):
        Trainer(Recon(), quick(out_dir=str(tmp_path))).fit(x)
    Trainer(Recon(), quick(max_steps=5, out_dir=str(tmp_path), resume=False)).fit(x)
    with pytest.raises(ValueError, match="holds a different model"):
        Trainer(Recon(dim=6), quick(out_dir=str(tmp_path))).fit(torch.randn(64, 6))
    ck = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    ck["format"] = "daekit.train/1"  # an older layout of the same kind of file
    torch.save(ck, tmp_path / CHECKPOINT_NAME)
    with pytest.raises(ValueError, match="checkpoint format daekit.train/1.*--no-resume"):
        Trainer(Recon(), quick(out_dir=str(tmp_path))).fit(x)


@pytest.mark.slow
def test_torch_compile_trains():
    model = Recon(noise=0.0)
    x = torch.randn(64, 8)
    before = float(model(x).detach())
    Trainer(model, quick(max_steps=30, lr=1e-2, compile=True)).fit(x)
    assert float(model(x).detach()) < before


def test_loader_workers_do_not_change_the_run():
    x = torch.randn(100, 8)
    runs = []
    for workers in (0, 1):
        torch.manual_seed(0)
        trainer = Trainer(Recon(noise=0.5), quick(num_workers=workers)).fit(_ListDataset(x), _ListDataset(x[:30]))
        runs.append([(r["train_loss"], r["val_loss"]) for r in trainer.history])
    assert runs[0] == runs[1]
