"""Real camera noise (issue 17): the shared real noisy/clean photo pairs, blind.

Data: ``images/realnoise/{polyu_dev,nam25,sidd12}`` (``NAME_noisy.ext`` + ``NAME_clean.ext``;
evaluation only, read its README). Protocol as that README gives it: both images read
as 8-bit sRGB by PIL; each method gets only the noisy uint8 array (no σ, no tuning per
image); a float output is clipped to [0, 255] and rounded to uint8; PSNR over all pixels
and channels, SSIM by ``skimage.metrics.structural_similarity(channel_axis=-1,
data_range=255)``; means over the pairs of a set, next to the noisy input's on the same pairs.

Methods: the noisy input; each daekit model given with ``--model`` (a bundled name such as
``color``, or a model folder; blind); scikit-image NL-means (fast mode, h = 0.8 σ, σ from
``skimage.restoration.estimate_sigma``); CBM3D (``bm3d.bm3d_rgb``, non-commercial licence, a
benchmark requirement only) with σ from ``daekit.noise.estimate``. Per method: mean PSNR /
SSIM, ΔPSNR against the input, "changed nothing" (|ΔPSNR| < 0.1 dB; and the README's
per-image flag, mean |out − noisy| < 0.5 levels), the share of pairs made worse than the
input, and seconds per megapixel. Per set: daekit's blind σ estimate (RMS over channels)
next to the true RMS of noisy − clean, and how many pairs it calls correlated.

    .venv/bin/python benchmarks/images_real.py --data ../shared/data/images/realnoise
    .venv/bin/python benchmarks/images_real.py --limit 4 --cbm3d-limit 2 --model color --model runs/photo
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, git_commit, machine

SETS = ("polyu_dev", "nam25", "sidd12")
BASELINES = ("nlm", "cbm3d")


def load(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"), dtype=np.uint8)


def pairs(folder: Path) -> list[tuple[Path, Path]]:
    out = []
    for noisy in sorted(folder.glob("*_noisy.*")):
        clean = noisy.with_name(noisy.name.replace("_noisy.", "_clean."))
        if clean.exists():
            out.append((noisy, clean))
    return out


def to_uint8(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z)
    return z if z.dtype == np.uint8 else np.clip(np.rint(z.astype(np.float64)), 0, 255).astype(np.uint8)


def psnr(z: np.ndarray, x: np.ndarray) -> float:
    mse = np.mean((z.astype(np.float64) - x.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse)) if mse > 0 else float("inf")


def ssim(z: np.ndarray, x: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(z, x, channel_axis=-1, data_range=255))


def blind_sigma(y: np.ndarray) -> tuple[float, bool]:
    """daekit's blind estimate, RMS over the three channels, on 0-255; and whether it is correlated."""
    from daekit.noise_estimate import estimate_image

    est = estimate_image(y)
    return float(np.sqrt(np.mean(np.square(est.sigma)))), bool(est.correlated)


def make_methods(models: list[str], baselines: list[str]) -> dict:
    methods: dict = {}
    for name in models:
        from daekit.apps.image import ImageDenoiser

        den = ImageDenoiser.from_pretrained(name, tile=1024)
        label = Path(name).name if Path(name).name != "model" else Path(name).parent.name  # runs/X/model -> X
        methods[f"daekit:{label}"] = lambda y, den=den: den(y)  # uint8 in, uint8 out, blind
    if "nlm" in baselines:
        from skimage.restoration import denoise_nl_means, estimate_sigma

        def nlm(y):
            f = y.astype(np.float64) / 255
            s = float(estimate_sigma(f, channel_axis=-1, average_sigmas=True))
            out = denoise_nl_means(
                f, h=0.8 * s, sigma=s, fast_mode=True, patch_size=5, patch_distance=6, channel_axis=-1
            )
            return out * 255

        methods["nlm"] = nlm
    if "cbm3d" in baselines:
        import bm3d

        def cbm3d(y):
            s = blind_sigma(y)[0]
            return bm3d.bm3d_rgb(y.astype(np.float64) / 255, sigma_psd=max(s, 0.1) / 255) * 255

        methods["cbm3d"] = cbm3d
    return methods


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_data = ROOT.parent / "shared" / "data" / "images" / "realnoise"
    p.add_argument("--data", default=str(default_data), help="folder holding polyu_dev/, nam25/, sidd12/")
    p.add_argument("--out", default="benchmarks/results/images_real.json", help="JSON file to write")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS, help="sets to run")
    p.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="NAME_OR_PATH",
        help="a daekit image model (bundled name or folder); repeat for several (default: color)",
    )
    p.add_argument("--baselines", nargs="*", default=list(BASELINES), choices=BASELINES, help="baselines to run")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="first N pairs of each set (default: all)")
    p.add_argument(
        "--cbm3d-limit",
        type=int,
        default=3,
        metavar="N",
        help="CBM3D on the first N pairs of each set only (30-60 s per 512×512 pair on 2 shared cores)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument(
        "--pictures",
        default=None,
        metavar="DIR",
        help="write a before/after crop of each set's first pair here (for looking at only: the pairs are "
        "evaluation-only data and must not be committed or shipped)",
    )
    args = p.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    baselines = list(args.baselines)
    for name, module in (("nlm", "pywt"), ("cbm3d", "bm3d")):  # pywt: skimage's estimate_sigma
        if name in baselines:
            try:
                __import__(module)
            except ImportError:
                print(f"{module} is not installed: {name} skipped (pip install -r benchmarks/requirements.txt).")
                baselines.remove(name)
    methods = make_methods(args.model or ["color"], baselines)
    rows, per_image, estimates = [], [], []
    for set_name in args.sets:
        found = pairs(Path(args.data) / set_name)[: args.limit]
        if not found:
            print(f"{set_name}: no pairs under {Path(args.data) / set_name}; skipped.")
            continue
        rec: dict[str, list[dict]] = {m: [] for m in ["noisy", *methods]}
        est_rows = []
        shown: list[tuple[str, np.ndarray, float]] = []
        for i, (pn, pc) in enumerate(found):
            y, x = load(pn), load(pc)
            p_in, s_in = psnr(y, x), ssim(y, x)
            r = y.astype(np.float64) - x
            start = time.perf_counter()
            sig, corr = blind_sigma(y)
            est_rows.append(
                {
                    "image": pn.name,
                    "sigma_est": sig,
                    "correlated": corr,
                    "rms": float(np.sqrt(np.mean(r**2))),
                    "rms_offset_removed": float(np.sqrt(np.mean((r - r.mean((0, 1))) ** 2))),
                    "seconds": time.perf_counter() - start,
                }
            )
            rec["noisy"].append({"psnr": p_in, "ssim": s_in, "noisy_psnr": p_in, "mad": 0.0, "sec": 0.0, "mpx": 0})
            for m, fn in methods.items():
                if m == "cbm3d" and i >= args.cbm3d_limit:
                    continue
                start = time.perf_counter()
                z = to_uint8(fn(y.copy()))
                sec = time.perf_counter() - start
                mad = float(np.mean(np.abs(z.astype(np.int16) - y)))
                item = {"psnr": psnr(z, x), "ssim": ssim(z, x), "noisy_psnr": p_in, "mad": mad, "sec": sec}
                item["mpx"] = y.shape[0] * y.shape[1] / 1e6
                rec[m].append(item)
                per_image.append({"set": set_name, "image": pn.name, "method": m, **item})
                if args.pictures and i == 0:
                    shown.append((m, z, item["psnr"]))
            if args.pictures and i == 0:
                write_picture(Path(args.pictures) / f"{set_name}_{pn.stem}.png", y, x, p_in, shown)
        for m, items in rec.items():
            if not items:
                continue
            a = {k: np.array([it[k] for it in items], dtype=float) for k in items[0]}
            delta = a["psnr"] - a["noisy_psnr"]
            rows.append(
                {
                    "set": set_name,
                    "method": m,
                    "pairs": len(items),
                    "psnr": a["psnr"].mean(),
                    "ssim": a["ssim"].mean(),
                    "noisy_psnr": a["noisy_psnr"].mean(),
                    "delta_psnr": delta.mean(),
                    "changed_nothing": bool(m != "noisy" and abs(delta.mean()) < 0.1),
                    "unchanged_images": int(np.sum(a["mad"] < 0.5)) if m != "noisy" else None,
                    "mean_abs_change": a["mad"].mean(),
                    "share_worse": float(np.mean(delta < 0)) if m != "noisy" else None,
                    "sec_per_mpx": a["sec"].sum() / a["mpx"].sum() if m != "noisy" else None,
                }
            )
        e = {k: np.array([r[k] for r in est_rows], dtype=float) for k in ("sigma_est", "rms", "rms_offset_removed")}
        estimates.append(
            {
                "set": set_name,
                "pairs": len(est_rows),
                "sigma_est_mean": e["sigma_est"].mean(),
                "rms_mean": e["rms"].mean(),
                "rms_offset_removed_mean": e["rms_offset_removed"].mean(),
                "ratio_of_means": e["sigma_est"].mean() / e["rms"].mean(),
                "ratio_min": (e["sigma_est"] / e["rms"]).min(),
                "ratio_max": (e["sigma_est"] / e["rms"]).max(),
                "no_noise_said": int(np.sum(e["sigma_est"] <= 0)),
                "correlated": int(sum(r["correlated"] for r in est_rows)),
                "sec_per_image": float(np.mean([r["seconds"] for r in est_rows])),
                "per_image": est_rows,
            }
        )
        print_set([r for r in rows if r["set"] == set_name], estimates[-1])
        write_json(args, rows, estimates, per_image)  # a run killed midway keeps its sets
    write_json(args, rows, estimates, per_image)
    print(f"\nwrote {args.out}")
    return 0


def write_picture(path: Path, y: np.ndarray, x: np.ndarray, p_in: float, shown: list) -> None:
    """A 192 x 192 centre crop of the noisy input, each method's output and the reference, side by side."""
    from daekit.apps.image import compare_grid
    from daekit.data.image import write_image

    h, w = y.shape[:2]
    c = min(192, h, w)
    y0, x0 = (h - c) // 2, (w - c) // 2

    def crop(a: np.ndarray) -> np.ndarray:
        return a[y0 : y0 + c, x0 : x0 + c]

    images = [crop(y)] + [crop(z) for _, z, _ in shown] + [crop(x)]
    labels = [f"noisy {p_in:.2f} dB"] + [f"{m} {q:.2f} dB" for m, _, q in shown] + ["reference"]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, compare_grid(images, labels))
    print(f"wrote {path}")


def print_set(rows: list[dict], est: dict) -> None:
    print(f"\n{est['set']}  ({est['pairs']} pairs)")
    print(
        f"{'method':22s} {'n':>3s} {'PSNR':>7s} {'SSIM':>6s} {'input':>7s} {'ΔPSNR':>7s} {'same?':>5s} "
        f"{'unch.':>5s} {'worse':>6s} {'s/Mpx':>7s}"
    )
    for r in rows:
        noisy = r["method"] == "noisy"
        print(
            f"{r['method']:22s} {r['pairs']:3d} {r['psnr']:7.2f} {r['ssim']:6.3f} {r['noisy_psnr']:7.2f} "
            f"{r['delta_psnr']:+7.2f} {('-' if noisy else 'YES' if r['changed_nothing'] else 'no'):>5s} "
            f"{'-' if noisy else r['unchanged_images']:>5} {'-' if noisy else format(r['share_worse'], '.0%'):>6s} "
            f"{'-' if noisy else format(r['sec_per_mpx'], '.2f'):>7s}",
            flush=True,
        )
    print(
        f"σ estimate (daekit, RMS over channels) {est['sigma_est_mean']:.2f} vs true RMS(noisy − clean) "
        f"{est['rms_mean']:.2f} (offset removed {est['rms_offset_removed_mean']:.2f}): "
        f"ratio {est['ratio_of_means']:.2f}, "
        f"per pair {est['ratio_min']:.2f}–{est['ratio_max']:.2f}; correlated {est['correlated']}/{est['pairs']}, "
        f"'no noise' {est['no_noise_said']}; {est['sec_per_image']:.2f} s per image"
    )


def write_json(args: argparse.Namespace, rows: list, estimates: list, per_image: list) -> None:
    out = {
        "benchmark": "images_real (real camera noise, issue 17)",
        "device": machine(),
        "commit": git_commit(),
        "command": " ".join(sys.argv),
        "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "rows": rows,
        "estimates": estimates,
        "per_image": per_image,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, default=float))


if __name__ == "__main__":
    sys.exit(main())
