"""Training throughput: daekit.Trainer against a plain PyTorch loop, side by side.

Both loops train the same DAE (same model, data, batch, AdamW) for the same number of
steps; rounds alternate A-B-B-A so drift in machine load hits both equally, and the
median samples/s of each is reported with their ratio (Trainer / plain; goal >= 0.95),
and the ratio of the best rounds (timeit's rule: the fastest round is the least disturbed).
The ratio of samples per CPU-second of this process is reported too: on a machine
shared with other jobs it is far steadier than the wall-clock ratio.

Cases:
  dense  784-1000-500-250-30 mirrored dense DAE, Gaussian noise 0.1, batch 256
  conv   10-conv-layer, 32-channel residual stack with BatchNorm (DnCNN-like), 40x40
         patches, batch 64
  dncnn  (CUDA only) DnCNN-17, 64 channels, 40x40 patches, batch 128, bf16 autocast +
         channels_last, against BENCHMARKS.md section 6 (H200 plain PyTorch: 15,300/s)

Usage:
  python benchmarks/throughput.py                      # CPU: threads 1 and 2
  python benchmarks/throughput.py --threads 2 --rounds 5 --out benchmarks/results/throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from common import git_commit

import daekit as dk
from daekit.train import TrainConfig, Trainer

H200_PLAIN_DNCNN_BF16 = 15_300  # patches/s, BENCHMARKS.md section 6 (bf16 + channels_last, batch 128)


def make_case(name: str, device: torch.device):
    """(dae, data, batch size, steps per round, precision) for one case."""
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    noise = dk.noise.Gaussian(std=0.1)
    if name == "dense":
        model = dk.create_model("mlp", in_features=784, hidden_sizes=(1000, 500, 250, 30))
        data, batch, steps, precision = torch.rand(8192, 784, generator=g), 256, 40, "fp32"
    elif name == "conv":
        model = dk.create_model(
            "conv2d", in_channels=1, channels=(32,), blocks_per_level=9, residual=True, norm="batch"
        )
        data, batch, steps, precision = torch.rand(640, 1, 40, 40, generator=g), 64, 5, "fp32"
    elif name == "dncnn":
        model = dk.create_model(
            "conv2d", in_channels=1, channels=(64,), blocks_per_level=16, residual=True, norm="batch"
        )
        data, batch, steps, precision = torch.rand(128 * 64, 1, 40, 40, generator=g), 128, 60, "bf16"
    else:
        raise ValueError(name)
    if device.type == "cuda":
        steps *= 10  # GPU steps are short: longer rounds for stable timings
    return dk.DenoisingAutoencoder(model, noise=noise).to(device), data, batch, steps, precision


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(dae, data, batch: int, steps: int, device: torch.device, precision: str) -> float:
    """The loop a PyTorch user writes by hand; returns samples/s."""
    channels_last = device.type == "cuda" and data.dim() == 4
    model = dae.to(memory_format=torch.channels_last) if channels_last else dae
    opt = torch.optim.AdamW(
        model.parameters(), lr=1e-3, weight_decay=0.0, fused=True if device.type == "cuda" else None
    )
    amp = precision == "bf16"
    model.train()
    per_epoch = len(data) // batch
    sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(steps):
        if i % per_epoch == 0:
            perm = torch.randperm(len(data))
        x = data[perm[(i % per_epoch) * batch : (i % per_epoch + 1) * batch]]
        if device.type == "cuda":
            x = x.pin_memory().to(device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = model(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return steps * batch / (time.perf_counter() - t0), steps * batch / (time.process_time() - c0)


def trainer_loop(dae, data, batch: int, steps: int, device: torch.device, precision: str) -> float:
    """The same training through daekit.Trainer (fit() end to end); returns samples/s."""
    cfg = TrainConfig(
        max_steps=steps,
        batch_size=batch,
        lr=1e-3,
        quiet=True,
        device=str(device),
        precision=precision,
        log_every=steps,
        tensorboard=False,
    )
    sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    Trainer(dae, cfg).fit(data)
    sync(device)
    return steps * batch / (time.perf_counter() - t0), steps * batch / (time.process_time() - c0)


def measure(name: str, device: torch.device, rounds: int, scale: float = 1.0) -> dict:
    dae, data, batch, steps, precision = make_case(name, device)
    steps = max(2, round(steps * scale))
    # Warm-up: allocator, kernels, thread pools, for both loops.
    plain_loop(dae, data, batch, max(2, steps // 4), device, precision)
    trainer_loop(dae, data, batch, max(2, steps // 4), device, precision)
    plain, trainer = [], []
    for r in range(rounds):  # A-B-B-A ordering
        first, second = (plain_loop, trainer_loop) if r % 2 == 0 else (trainer_loop, plain_loop)
        for fn in (first, second):
            value = fn(dae, data, batch, steps, device, precision)
            (plain if fn is plain_loop else trainer).append(value)
    p, t = statistics.median(v[0] for v in plain), statistics.median(v[0] for v in trainer)
    # Samples per CPU-second of this process: robust when other jobs share the machine.
    pc, tc = statistics.median(v[1] for v in plain), statistics.median(v[1] for v in trainer)
    return {
        "case": name,
        "threads": torch.get_num_threads(),
        "batch": batch,
        "steps_per_round": steps,
        "rounds": rounds,
        "precision": precision,
        "plain_samples_per_s": p,
        "trainer_samples_per_s": t,
        "ratio": t / p,
        "best_ratio": max(v[0] for v in trainer) / max(v[0] for v in plain),
        "plain_samples_per_cpu_s": pc,
        "trainer_samples_per_cpu_s": tc,
        "cpu_ratio": tc / pc,
        "plain_all": [v[0] for v in plain],
        "trainer_all": [v[0] for v in trainer],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default="dense,conv", help="comma-separated: dense, conv (and dncnn on CUDA)")
    parser.add_argument("--threads", default="1,2", help="CPU thread counts to try, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per loop")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply the steps per round (e.g. 0.5 on a busy machine)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--out", default="benchmarks/results/throughput.json", help="JSON results file")
    args = parser.parse_args(argv)

    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    cases = [c for c in args.cases.split(",") if c]
    if device.type == "cuda":
        cases += [] if "dncnn" in cases else ["dncnn"]
        threads = [torch.get_num_threads()]
    else:
        cases = [c for c in cases if c != "dncnn"]
        threads = [int(t) for t in args.threads.split(",")]

    results = []
    print(
        f"{'case':<7}{'threads':>8}{'plain/s':>12}{'trainer/s':>12}{'ratio':>8}{'best':>8}{'cpu ratio':>11}", flush=True
    )
    for n_threads in threads:
        if device.type == "cpu":
            torch.set_num_threads(n_threads)
        for case in cases:
            res = measure(case, device, args.rounds, args.scale)
            results.append(res)
            print(
                f"{case:<7}{res['threads']:>8}{res['plain_samples_per_s']:>12,.0f}"
                f"{res['trainer_samples_per_s']:>12,.0f}{res['ratio']:>8.3f}{res['best_ratio']:>8.3f}{res['cpu_ratio']:>11.3f}",
                flush=True,
            )
            if case == "dncnn":
                res["h200_plain_reference"] = H200_PLAIN_DNCNN_BF16
                res["vs_h200_reference"] = res["trainer_samples_per_s"] / H200_PLAIN_DNCNN_BF16
                print(
                    f"        DnCNN-17 bf16 Trainer vs H200 plain reference {H200_PLAIN_DNCNN_BF16:,}/s: "
                    f"{res['vs_h200_reference']:.2f}x"
                )

    report = {
        "benchmark": "throughput",
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"cpu ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "commit": git_commit(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "results": results,
        "min_ratio": min(r["ratio"] for r in results),
        "min_cpu_ratio": min(r["cpu_ratio"] for r in results),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"min ratio {report['min_ratio']:.3f}, per CPU-second {report['min_cpu_ratio']:.3f} "
        f"(goal >= 0.95; load average {report['load_average']}); wrote {out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
