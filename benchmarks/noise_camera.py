"""Camera noise against real photo noise: how the residual is correlated.

For each real set (``images/realnoise/{polyu_dev,nam25,sidd12}``: pairs ``NAME_noisy`` +
``NAME_clean``, evaluation only), the residual ``noisy - clean`` on 0..255 floats is
measured: its lag-1 and lag-2 horizontal and vertical autocorrelation (mean of the
per-channel values) and its cross-channel correlations R-G, R-B, G-B, each per image and
then averaged over the set (``daekit.noise_camera.residual_correlations``). Then the same
numbers for ``daekit.noise.Camera`` applied to the set's clean images (seed 0, one image
at a time, 8-bit input as read): the defaults, and each of ``CAMERA_PRESETS``. The target
(issue 17) is every number within ±0.1 of the real set's. The residual's RMS (0..255) is
printed beside them, not part of the target.

Usage:
    python benchmarks/noise_camera.py --data ../shared/data --out benchmarks/results/noise_camera.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from common import git_commit, machine

import daekit
from daekit.noise_camera import CAMERA_PRESETS, RESIDUAL_STATISTICS, Camera, residual_correlations

SETS = {"polyu_dev": "polyu", "nam25": "nam", "sidd12": "sidd"}
TOLERANCE = 0.1


def load(path: Path) -> torch.Tensor:
    from PIL import Image

    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    return torch.from_numpy(a).permute(2, 0, 1)[None] / 255


def pairs(folder: Path) -> list[tuple[torch.Tensor, torch.Tensor]]:
    out = []
    for noisy in sorted(folder.glob("*_noisy.*")):
        clean = noisy.with_name(noisy.name.replace("_noisy.", "_clean."))
        out.append((load(noisy), load(clean)))
    if not out:
        raise SystemExit(f"no NAME_noisy/NAME_clean pairs under {folder}")
    return out


def measure(items: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, float]:
    """Per-image statistics averaged over the set (images differ in size, so one at a time)."""
    rows = [residual_correlations(noisy, clean) for noisy, clean in items]
    stats = {k: float(np.mean([r[k] for r in rows])) for k in RESIDUAL_STATISTICS}
    stats["rms"] = float(np.mean([255 * (n - c).square().mean().sqrt().item() for n, c in items]))
    return stats


def simulate(noise: Camera, items: list[tuple[torch.Tensor, torch.Tensor]], device: str, seed: int) -> dict:
    g = torch.Generator(device=device).manual_seed(seed)
    fake = []
    for _, clean in items:
        x = clean.to(device)
        fake.append((noise(x, generator=g).cpu(), clean))
    return measure(fake)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/noise_camera.json"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    root = args.data / "images" / "realnoise"
    t0 = time.perf_counter()
    results: dict = {}
    cols = [*RESIDUAL_STATISTICS, "rms"]
    print(f"{'set':<10} {'noise':<16}" + "".join(f"{c:>7}" for c in cols) + "  within ±0.1")
    for folder, preset in SETS.items():
        items = pairs(root / folder)
        real = measure(items)
        rows = {"real": real}
        rows["Camera()"] = simulate(Camera(), items, args.device, args.seed)
        for name, kwargs in CAMERA_PRESETS.items():
            rows[f"preset {name}"] = simulate(Camera(**kwargs), items, args.device, args.seed)
        results[folder] = {"pairs": len(items), "preset": preset, "rows": rows}
        for label, stats in rows.items():
            ok = "" if label == "real" else str(all(abs(stats[k] - real[k]) <= TOLERANCE for k in RESIDUAL_STATISTICS))
            print(f"{folder:<10} {label:<16}" + "".join(f"{stats[c]:7.3f}" for c in cols) + f"  {ok}")
        print()
    record = {
        "benchmark": "noise_camera",
        "daekit": daekit.__version__,
        "commit": git_commit(),
        "machine": machine(),
        "device": args.device,
        "seed": args.seed,
        "tolerance": TOLERANCE,
        "camera_defaults": Camera().to_config(),
        "presets": {k: Camera(**v).to_config() for k, v in CAMERA_PRESETS.items()},
        "sets": results,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))
    print(f"wrote {args.out} ({record['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
