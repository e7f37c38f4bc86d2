"""Bounded load test of ``daekit serve`` on loopback: fixed concurrency, fixed time.

Starts ``daekit serve`` as a child process on 127.0.0.1, warms each endpoint once, then
runs CLIENTS threads (one keep-alive connection each) that send a fixed mix of requests
for DURATION seconds: a noisy Set12 image (256×256 gray, σ = 25), a noisy FSDD recording
(8 kHz, ~2 s), 500 ADBench annthyroid rows as JSON, and /healthz. It records every
status and latency, samples the server's resident memory every 0.5 s, and reports:

* errors: any status other than 200, and 503s (the job gate) separately;
* latency percentiles (p50 / p90 / p99 / max) and throughput per endpoint;
* memory: RSS after warm-up, at the middle and at the end of the run, and the peak.

A second, short phase (``--overload`` seconds) sends more concurrent clients than the server
has job slots and checks that the excess gets 503 with Retry-After and nothing else.

Models: the bundled ones (``src/daekit/pretrained``) where they exist; for a kind with
none, ``--stand-in`` builds the shipped architecture with random weights (same compute,
so the same latency; labelled as such in the output), and a DAEDetector is fitted on
annthyroid for the anomaly endpoint.

    python benchmarks/serve_load.py --data /work/shared/data --clients 4 --duration 60 \
        --out benchmarks/results/serve_load.json
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from common import git_commit

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------- the models


def prepare_models(data: Path, work: Path, stand_in: bool) -> tuple[list[str], dict]:
    """``--model`` arguments for the server and a note on where each model came from."""
    import torch

    from daekit import DAEDetector, DenoisingAutoencoder, ImageDenoiser, create_model
    from daekit.apps.image import DEFAULT_MODELS
    from daekit.apps.speech import SpeechEnhancer
    from daekit.io import read_config
    from daekit.serve.registry import LOADERS, shipped_models

    bundled = shipped_models()
    kinds = {LOADERS[read_config(p)["class"]][0] for p in bundled.values()}
    args, notes = [], {name: f"bundled ({path})" for name, path in bundled.items()}
    torch.manual_seed(0)
    if "image" not in kinds and stand_in:
        spec = DEFAULT_MODELS["cpu"]
        ImageDenoiser(create_model(spec["name"], in_channels=1, **spec["kwargs"])).save_pretrained(work / "gray")
        args.append(f"gray={work / 'gray'}")
        notes["gray"] = "stand-in: the shipped gray architecture with random weights (no bundled image model yet)"
    if "audio" not in kinds and stand_in:
        net = create_model("speech_mask", n_fft=256, hop_length=64, hidden_size=192, num_layers=2)
        SpeechEnhancer(DenoisingAutoencoder(net, preprocessing={"sample_rate": 8000})).save_pretrained(
            work / "speech8k"
        )
        args.append(f"speech8k={work / 'speech8k'}")
        notes["speech8k"] = (
            "stand-in: the speech8k recipe's architecture with random weights (no bundled speech model yet)"
        )
    X = np.load(data / "anomaly/tabular/2_annthyroid.npz")["X"]
    DAEDetector(contamination=0.05, random_state=0).fit(X).save(work / "annthyroid")
    args.append(f"annthyroid={work / 'annthyroid'}")
    notes["annthyroid"] = "DAEDetector fitted on ADBench annthyroid (7200 x 6) by this script"
    return args, notes


# ---------------------------------------------------------------------------- the requests


def multipart(field: str, filename: str, payload: bytes, ctype: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def build_requests(data: Path, kinds: set[str]) -> dict[str, tuple[str, str, bytes, dict]]:
    """name -> (method, path, body, headers)."""
    import soundfile as sf
    from PIL import Image

    rng = np.random.default_rng(0)
    reqs = {"healthz": ("GET", "/healthz", b"", {})}
    if "image" in kinds:
        clean = np.asarray(Image.open(data / "images/set12/01.png").convert("L"), np.float32)
        noisy = np.clip(clean + rng.normal(0, 25, clean.shape), 0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(noisy).save(buf, format="PNG")
        body, ctype = multipart("file", "noisy.png", buf.getvalue(), "image/png")
        reqs["image"] = ("POST", "/v1/image/denoise?sigma=25", body, {"Content-Type": ctype})
    if "audio" in kinds:
        clips = [sf.read(p, dtype="float32")[0] for p in sorted((data / "audio/fsdd").glob("*_george_*.wav"))[:5]]
        wave = np.concatenate(clips)[:16000]
        wave = (wave / (np.abs(wave).max() + 1e-9) * 0.5 + rng.normal(0, 0.05, wave.shape)).astype(np.float32)
        buf = io.BytesIO()
        sf.write(buf, np.clip(wave, -1, 1), 8000, format="WAV", subtype="PCM_16")
        body, ctype = multipart("file", "noisy.wav", buf.getvalue(), "audio/wav")
        reqs["audio"] = ("POST", "/v1/audio/denoise", body, {"Content-Type": ctype})
    if "anomaly" in kinds:
        X = np.load(data / "anomaly/tabular/2_annthyroid.npz")["X"]
        rows = X[rng.choice(len(X), 500, replace=False)].tolist()
        reqs["anomaly"] = (
            "POST",
            "/v1/anomaly/score",
            json.dumps({"rows": rows}).encode(),
            {"Content-Type": "application/json"},
        )
    return reqs


class Client(threading.Thread):
    """One keep-alive connection sending the request mix in turn until ``stop_at``."""

    def __init__(self, port, reqs, order, stop_at, log, offset):
        super().__init__(daemon=True)
        self.port, self.reqs, self.order, self.stop_at, self.log, self.offset = port, reqs, order, stop_at, log, offset

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        i = self.offset
        while time.monotonic() < self.stop_at:
            name = self.order[i % len(self.order)]
            i += 1
            method, path, body, headers = self.reqs[name]
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body or None, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status, retry = resp.status, resp.getheader("Retry-After")
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            except Exception as e:  # a dropped connection is an error to report, not to hide
                status, retry = f"exception: {type(e).__name__}", None
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.log.append((name, status, time.perf_counter() - t0, retry))
        conn.close()


def run_phase(port, pid, reqs, order, clients, duration):
    log, rss = [], []
    stop_at = time.monotonic() + duration
    threads = [Client(port, reqs, order, stop_at, log, k) for k in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        rss.append((time.monotonic() - t0, rss_mb(pid)))
        time.sleep(0.5)
    return log, rss, time.monotonic() - t0


def summarise(log, wall):
    out = {}
    for name in sorted({n for n, *_ in log}):
        rows = [r for r in log if r[0] == name]
        ok = np.array([r[2] for r in rows if r[1] == 200]) * 1000
        out[name] = {
            "requests": len(rows),
            "ok": int(len(ok)),
            "busy_503": sum(1 for r in rows if r[1] == 503),
            "busy_503_with_retry_after": sum(1 for r in rows if r[1] == 503 and r[3]),
            "other": sorted({str(r[1]) for r in rows if r[1] not in (200, 503)}),
            "per_s": round(len(ok) / wall, 2),
        }
        if len(ok):
            out[name].update({f"p{q}_ms": round(float(np.percentile(ok, q)), 1) for q in (50, 90, 99)})
            out[name]["max_ms"] = round(float(ok.max()), 1)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared/data", help="the shared data folder")
    ap.add_argument("--clients", type=int, default=4, help="concurrent clients in the main phase")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of the main phase")
    ap.add_argument("--warmup", type=float, default=10.0, help="seconds of warm-up at full concurrency")
    ap.add_argument("--max-concurrent", type=int, default=4, help="the server's job slots")
    ap.add_argument("--torch-threads", type=int, default=1, help="threads per job on the server")
    ap.add_argument("--overload", type=float, default=10.0, help="seconds of the overload phase (0: skip)")
    ap.add_argument("--stand-in", action="store_true", help="random-weight stand-ins for kinds with no bundled model")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/serve_load.json")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="serve_load_"))
    model_args, notes = prepare_models(args.data, work, args.stand_in)
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "daekit",
        "serve",
        "--port",
        str(port),
        "--quiet",
        "--max-concurrent",
        str(args.max_concurrent),
        "--torch-threads",
        str(args.torch_threads),
    ]
    for m in model_args:
        cmd += ["--model", m]
    server = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/v1/models")
                info = json.loads(conn.getresponse().read())
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start:\n{server.stdout.read()}") from None
                time.sleep(0.3)
        kinds = {k for k, v in info["endpoints"].items() if v == "ready"}
        reqs = build_requests(args.data, kinds)
        order = [n for n in ("image", "audio", "anomaly", "healthz") if n in reqs]
        rss_start = rss_mb(server.pid)
        # Warm up at the same concurrency, so allocator pools and thread stacks are grown
        # before memory is watched for growth.
        warm, _, _ = run_phase(port, server.pid, reqs, order, args.clients, args.warmup)
        if any(r[1] != 200 for r in warm):
            raise SystemExit(f"warm-up failed: {sorted({str(r[1]) for r in warm if r[1] != 200})}")
        rss_warm = rss_mb(server.pid)
        load = os.getloadavg()
        log, rss, wall = run_phase(port, server.pid, reqs, order, args.clients, args.duration)
        mem = [m for _, m in rss]
        result = {
            "device": f"CPU ({os.cpu_count()} cores, {platform.processor() or platform.machine()})",
            "torch": __import__("torch").__version__,
            "commit": git_commit(),
            "command": " ".join(["python", "benchmarks/serve_load.py"] + (argv or sys.argv[1:])),
            "models": notes,
            "load_average_at_start": [round(x, 2) for x in load],
            "main": {
                "clients": args.clients,
                "max_concurrent": args.max_concurrent,
                "seconds": round(wall, 1),
                "endpoints": summarise(log, wall),
                "rss_mb": {
                    "at_start": round(rss_start, 1),
                    "after_warmup": round(rss_warm, 1),
                    "middle": round(mem[len(mem) // 2], 1),
                    "end": round(mem[-1], 1),
                    "peak": round(max(mem), 1),
                    "first_quarter_mean": round(float(np.mean(mem[: max(1, len(mem) // 4)])), 1),
                    "last_quarter_mean": round(float(np.mean(mem[-max(1, len(mem) // 4) :])), 1),
                    "samples": len(mem),
                },
            },
        }
        if args.overload > 0:
            over_clients = args.max_concurrent * 3
            olog, orss, owall = run_phase(
                port, server.pid, reqs, ["image", "anomaly"] if "image" in reqs else order, over_clients, args.overload
            )
            result["overload"] = {
                "clients": over_clients,
                "max_concurrent": args.max_concurrent,
                "seconds": round(owall, 1),
                "endpoints": summarise(olog, owall),
                "rss_mb_end": round(orss[-1][1], 1),
            }
        result["healthy_after"] = http_ok(port)
    finally:
        server.terminate()
        server.wait(timeout=30)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    bad = [
        n
        for phase in ("main", "overload")
        if phase in result
        for n, e in result[phase]["endpoints"].items()
        if e["other"] or (phase == "main" and e["busy_503"])
    ]
    return 1 if bad or not result["healthy_after"] else 0


def http_ok(port) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/healthz")
    return conn.getresponse().status == 200


def print_table(r):
    print(f"\n{r['device']}, torch {r['torch']}, load average at start {r['load_average_at_start']}")
    for name, note in r["models"].items():
        print(f"  model {name}: {note}")
    for phase in ("main", "overload"):
        if phase not in r:
            continue
        p = r[phase]
        print(f"\n{phase}: {p['clients']} clients, {p['max_concurrent']} job slots, {p['seconds']} s")
        print(
            f"{'endpoint':<10}{'requests':>9}{'ok':>6}{'503':>6}{'other':>7}{'req/s':>7}{'p50 ms':>9}{'p90 ms':>9}"
            f"{'p99 ms':>9}{'max ms':>9}"
        )
        for name, e in p["endpoints"].items():
            print(
                f"{name:<10}{e['requests']:>9}{e['ok']:>6}{e['busy_503']:>6}{len(e['other']):>7}{e['per_s']:>7}"
                + "".join(f"{e.get(k, float('nan')):>9}" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms"))
            )
    m = r["main"]["rss_mb"]
    print(
        f"\nserver RSS (MB): at start {m['at_start']}, after warm-up {m['after_warmup']}, "
        f"middle {m['middle']}, end {m['end']}, "
        f"peak {m['peak']}; mean of the first quarter {m['first_quarter_mean']}, of the last quarter "
        f"{m['last_quarter_mean']} ({m['samples']} samples); healthy after: {r['healthy_after']}"
    )


if __name__ == "__main__":
    sys.exit(main())
