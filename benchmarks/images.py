"""Image denoising benchmark (BENCHMARKS.md §1): Set12, BSD68, CBSD68 at σ 15/25/50.

Protocol: clean 8-bit image as float on 0–255; ``noisy = clean + σ·N(0, 1)`` with a fresh
``numpy.random.default_rng(0)`` per image, neither clipped nor quantised; denoise; clip
the output to [0, 255]; PSNR over the whole image (no border crop), mean over the set;
SSIM by ``skimage.metrics.structural_similarity(data_range=255)`` (``channel_axis=-1``
for colour). Seconds per image are wall-clock on this machine, in this run.

Methods side by side: the bundled daekit models (blind, and with σ given), scikit-image
wavelet (BayesShrink), TV (Chambolle) and NL-means (fast), BM3D / CBM3D when the ``bm3d``
package is installed (non-commercial licence: a benchmark requirement only, never a
dependency; ``--bm3d-limit`` runs it on the first N images of each set to keep the run
affordable, and the daekit numbers on exactly those images are reported next to it), and
a plain untrained DnCNN-17 forward pass for the time ratio.

    .venv/bin/python benchmarks/images.py --data ../shared/data/images --out benchmarks/results/images.json
    .venv/bin/python benchmarks/images.py --data ../shared/data/images --sets bsd68 --sigmas 25 --bm3d-limit 10
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from daekit.apps.image import ImageDenoiser
from daekit.data.image import list_images, read_image

SETS = {"set12": 1, "bsd68": 1, "cbsd68": 3}
ALL_METHODS = ("daekit", "daekit_sigma", "wavelet", "tv", "nlm", "bm3d")


def noisy_version(clean: np.ndarray, sigma: float) -> np.ndarray:
    return clean + sigma * np.random.default_rng(0).standard_normal(clean.shape)


def score(out: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    from skimage.metrics import structural_similarity

    out = np.clip(out, 0, 255)
    mse = np.mean((out - clean) ** 2)
    p = 10 * np.log10(255.0**2 / mse)
    s = structural_similarity(out, clean, data_range=255, channel_axis=-1 if clean.ndim == 3 else None)
    return float(p), float(s)


def make_methods(colour: bool, models: dict) -> dict:
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

    axis = -1 if colour else None
    den = models["color" if colour else "gray"]

    def daekit_blind(y, s):
        return den(y.astype(np.float32) / 255) * 255

    def daekit_sigma(y, s):
        return den(y.astype(np.float32) / 255, sigma=s) * 255

    def wavelet(y, s):
        return (
            denoise_wavelet(
                y / 255,
                sigma=s / 255,
                method="BayesShrink",
                mode="soft",
                rescale_sigma=True,
                channel_axis=axis,
                convert2ycbcr=colour,
            )
            * 255
        )

    def tv(y, s):  # weight = 2σ (on [0, 1]): a fixed rule of thumb, not tuned (it over-smooths at low σ)
        return denoise_tv_chambolle(y / 255, weight=2.0 * s / 255, channel_axis=axis) * 255

    def nlm(y, s):  # scikit-image's documented choice: h = 0.8 σ, fast mode, σ given
        return (
            denoise_nl_means(
                y / 255,
                h=0.8 * s / 255,
                sigma=s / 255,
                fast_mode=True,
                patch_size=5,
                patch_distance=6,
                channel_axis=axis,
            )
            * 255
        )

    def bm3d_fn(y, s):
        import bm3d

        return (bm3d.bm3d_rgb(y / 255, sigma_psd=s / 255) if colour else bm3d.bm3d(y / 255, sigma_psd=s / 255)) * 255

    return {
        "daekit": daekit_blind,
        "daekit_sigma": daekit_sigma,
        "wavelet": wavelet,
        "tv": tv,
        "nlm": nlm,
        "bm3d": bm3d_fn,
    }


def load_model(name: str, ensemble: int | None) -> ImageDenoiser:
    """A bundled name or model folder, as one tile per test image, with its own self-ensemble
    size unless ``ensemble`` overrides it."""
    return ImageDenoiser.from_pretrained(name, tile=1024, **({} if ensemble is None else {"ensemble": ensemble}))


def dncnn17() -> torch.nn.Module:
    """Plain DnCNN-17 (Zhang et al. 2017): conv+ReLU, 15 × conv+BN+ReLU, conv; 64 channels."""
    layers = [torch.nn.Conv2d(1, 64, 3, padding=1), torch.nn.ReLU()]
    for _ in range(15):
        layers += [torch.nn.Conv2d(64, 64, 3, padding=1, bias=False), torch.nn.BatchNorm2d(64), torch.nn.ReLU()]
    layers.append(torch.nn.Conv2d(64, 1, 3, padding=1))
    return torch.nn.Sequential(*layers).eval()


def time_dncnn(shape, repeats: int = 3) -> float:
    net = dncnn17()
    x = torch.rand(1, 1, *shape)
    with torch.no_grad():
        net(x)
        start = time.perf_counter()
        for _ in range(repeats):
            net(x)
    return (time.perf_counter() - start) / repeats


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent
        ).stdout.strip()
    except OSError:
        return "unknown"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="../shared/data/images", help="folder holding set12/, bsd68/, cbsd68/")
    p.add_argument("--out", default="benchmarks/results/images.json", help="JSON file to write")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS), help="test sets")
    p.add_argument("--sigmas", nargs="+", type=float, default=[15, 25, 50], help="noise levels (0-255)")
    p.add_argument("--methods", nargs="+", default=list(ALL_METHODS), choices=ALL_METHODS, help="methods to run")
    p.add_argument("--limit", type=int, default=None, help="first N images of each set (default: all)")
    p.add_argument("--bm3d-limit", type=int, default=8, help="BM3D on the first N images of each set (0: skip)")
    p.add_argument("--gray-model", default="gray", help="bundled name or model folder")
    p.add_argument("--color-model", default="color", help="bundled name or model folder")
    p.add_argument(
        "--ensemble",
        type=int,
        default=None,
        metavar="K",
        help="self-ensemble size for the daekit models (default: each model's own setting)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument(
        "--timing",
        type=int,
        default=0,
        metavar="N",
        help="only time daekit (blind), BM3D and DnCNN-17 interleaved on the first N BSD68 images "
        "at σ 25, so that a busy machine's load drifts the same for all three",
    )
    args = p.parse_args(argv)
    if args.timing:
        return interleaved_timing(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    methods = list(args.methods)
    if "bm3d" in methods:
        try:
            import bm3d  # noqa: F401
        except ImportError:
            print("bm3d is not installed (pip install bm3d; non-commercial licence): BM3D skipped.", file=sys.stderr)
            methods.remove("bm3d")

    models = {}
    for key, name in (("gray", args.gray_model), ("color", args.color_model)):
        try:
            models[key] = load_model(name, args.ensemble)
        except (ValueError, OSError) as e:
            print(f"{key} model unavailable ({e}); its rows are skipped.", file=sys.stderr)
    rows, per_image = [], []
    for set_name in args.sets:
        folder = Path(args.data) / set_name
        files = list_images(folder)[: args.limit]
        colour = SETS[set_name] == 3
        fns = (
            make_methods(colour, models)
            if ("color" if colour else "gray") in models
            else {
                k: v
                for k, v in make_methods(colour, {"gray": None, "color": None}).items()
                if not k.startswith("daekit")
            }
        )
        for sigma in args.sigmas:
            results = {m: [] for m in ["noisy"] + [m for m in methods if m in fns]}
            for i, f in enumerate(files):
                clean = read_image(f).astype(np.float64)
                noisy = noisy_version(clean, sigma)
                results["noisy"].append((*score(noisy, clean), 0.0, i))
                for m in results:
                    if m == "noisy" or (m == "bm3d" and i >= args.bm3d_limit):
                        continue
                    start = time.perf_counter()
                    out = fns[m](noisy, sigma)
                    sec = time.perf_counter() - start
                    ps, ss = score(out, clean)
                    results[m].append((ps, ss, sec, i))
                    per_image.append(
                        {
                            "set": set_name,
                            "sigma": sigma,
                            "image": f.name,
                            "method": m,
                            "psnr": ps,
                            "ssim": ss,
                            "seconds": sec,
                        }
                    )
            n_bm3d = len(results.get("bm3d", []))
            for m, vals in results.items():
                if not vals:
                    continue
                a = np.array([v[:3] for v in vals])
                row = {
                    "set": set_name,
                    "sigma": sigma,
                    "method": m,
                    "images": len(vals),
                    "psnr": a[:, 0].mean(),
                    "ssim": a[:, 1].mean(),
                    "sec_per_image": a[:, 2].mean(),
                }
                if n_bm3d and m != "bm3d":  # the same images BM3D saw, for a fair side-by-side
                    sub = np.array([v[:3] for v in vals if v[3] < n_bm3d])
                    row.update(
                        psnr_bm3d_subset=sub[:, 0].mean(),
                        ssim_bm3d_subset=sub[:, 1].mean(),
                        sec_bm3d_subset=sub[:, 2].mean(),
                    )
                rows.append(row)
            print_rows([r for r in rows if r["set"] == set_name and r["sigma"] == sigma], n_bm3d)
            write_json(args, rows, {"partial": True}, per_image)  # a long run killed midway keeps its rows

    dn_time = time_dncnn((321, 481))
    summary = {"dncnn17_forward_sec_481x321": dn_time}
    for key, den in models.items():
        summary[f"{key}_params"] = sum(t.numel() for t in den.model.parameters())
        summary[f"{key}_macs_per_pixel"] = den.model.flops_per_pixel()
        summary[f"{key}_ensemble"] = den.ensemble  # forward passes per image = ensemble
        summary[f"{key}_training"] = den.training
    for r in rows:
        if r["set"] in ("bsd68", "cbsd68") and r["method"] == "daekit":
            bm = next(
                (b for b in rows if b["set"] == r["set"] and b["sigma"] == r["sigma"] and b["method"] == "bm3d"), None
            )
            key = f"{r['set']}_sigma{r['sigma']:g}"
            if bm:
                summary[f"{key}_time_ratio_vs_bm3d"] = r["sec_bm3d_subset"] / bm["sec_per_image"]
            if r["set"] == "bsd68":
                summary[f"{key}_time_ratio_vs_dncnn17"] = r["sec_per_image"] / dn_time
    print(f"\nplain DnCNN-17 forward, one 481×321 image: {dn_time:.3f} s")
    for k, v in summary.items():
        if "ratio" in k or k.endswith(("params", "pixel")):
            print(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}")
    write_json(args, rows, summary, per_image)
    print(f"wrote {args.out}")
    return 0


def interleaved_timing(args) -> int:
    import bm3d

    if args.threads:
        torch.set_num_threads(args.threads)
    den = load_model(args.gray_model, args.ensemble)
    net = dncnn17()
    files = list_images(Path(args.data) / "bsd68")[: args.timing]
    rec = {"daekit": [], "bm3d": [], "dncnn17": []}
    den(np.zeros((64, 64), np.float32))  # warm-up (first-call set-up is not per-image cost)
    for f in files:
        clean = read_image(f).astype(np.float64)
        noisy = noisy_version(clean, 25.0)
        for name in ("daekit", "bm3d", "dncnn17", "daekit"):
            start = time.perf_counter()
            if name == "daekit":
                den(noisy.astype(np.float32) / 255)
            elif name == "bm3d":
                bm3d.bm3d(noisy / 255, sigma_psd=25 / 255)
            else:
                with torch.no_grad():
                    net(torch.from_numpy(noisy / 255).float()[None, None])
            rec[name].append(time.perf_counter() - start)
            print(f"{f.name} {name}: {rec[name][-1]:.2f} s", flush=True)
    mean = {k: float(np.mean(v)) for k, v in rec.items()}
    summary = {
        "sec_per_image": mean,
        "ratio_daekit_vs_bm3d": mean["daekit"] / mean["bm3d"],
        "ratio_daekit_vs_dncnn17": mean["daekit"] / mean["dncnn17"],
        "daekit_ensemble": den.ensemble,
        "images": [f.name for f in files],
    }
    print(json.dumps(summary, indent=1))
    write_json(args, [], summary, [])
    return 0


def write_json(args, rows, summary, per_image) -> None:
    out = {
        "benchmark": "images (BENCHMARKS.md §1)",
        "device": platform.processor() or platform.machine(),
        "cpu_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "commit": git_commit(),
        "command": " ".join(sys.argv),
        "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "rows": rows,
        "summary": summary,
        "per_image": per_image,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, default=float))


def print_rows(rows, n_bm3d) -> None:
    if not rows:
        return
    r0 = rows[0]
    print(f"\n{r0['set']}  σ={r0['sigma']:g}")
    head = f"{'method':14s} {'n':>3s} {'PSNR':>7s} {'SSIM':>6s} {'s/img':>7s}"
    if n_bm3d:
        head += f"   | first {n_bm3d} (BM3D's images): PSNR   SSIM   s/img"
    print(head)
    for r in rows:
        line = f"{r['method']:14s} {r['images']:3d} {r['psnr']:7.2f} {r['ssim']:6.3f} {r['sec_per_image']:7.3f}"
        if "psnr_bm3d_subset" in r:
            line += (
                f"   |                       {r['psnr_bm3d_subset']:6.2f} {r['ssim_bm3d_subset']:6.3f} "
                f"{r['sec_bm3d_subset']:6.3f}"
            )
        print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main())
