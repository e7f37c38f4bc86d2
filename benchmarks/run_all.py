"""Run every benchmark, one after another, against the shared data folder (``make bench``).

Each script prints its own table and writes ``benchmarks/results/<name>.json``; this
runner only starts them, keeps going when one fails, and prints how each ended. Pass
``--only images,speech`` to run a few. Expect hours on a 2-core CPU (BM3D and the PyOD
baselines dominate); each script's own flags make smaller runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name -> the data sub-folder its --data takes ("" = the shared data folder itself, None = no data)
BENCHMARKS = {
    "throughput": None,
    "images": "images",
    "speech": "audio",
    "speech_vbdemand": "audio/vbdemand_test",
    "speech_wideband": "audio",
    "anomaly_tabular": "anomaly/tabular",
    "anomaly_nab": "anomaly/nab",
    "anomaly_skab": "anomaly/skab",
    "features": "mnist",
    "noise": "",
    "serve_load": "",
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the shared data folder (e.g. ../shared/data)")
    ap.add_argument("--only", default="", help="comma-separated benchmark names (default: all)")
    ap.add_argument("--results", default=str(HERE / "results"), help="folder for the JSON files")
    args = ap.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        print(
            f"run_all: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}.", file=sys.stderr
        )
        return 2
    data = Path(args.data)
    if not data.is_dir():
        print(f"run_all: {data} is not a folder; pass the shared data folder with --data.", file=sys.stderr)
        return 2
    Path(args.results).mkdir(parents=True, exist_ok=True)
    outcome = {}
    for name in names:
        cmd = [sys.executable, str(HERE / f"{name}.py"), "--out", str(Path(args.results) / f"{name}.json")]
        if BENCHMARKS[name] is not None:
            cmd += ["--data", str(data / BENCHMARKS[name])]
        print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
        start = time.perf_counter()
        code = subprocess.call(cmd)
        outcome[name] = (code, time.perf_counter() - start)
    print("\nbenchmark          exit   minutes")
    for name, (code, seconds) in outcome.items():
        print(f"{name:<18} {code:>4}   {seconds / 60:7.1f}")
    return 0 if all(code == 0 for code, _ in outcome.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
