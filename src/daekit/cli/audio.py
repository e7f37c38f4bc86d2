"""``daekit audio ...``: denoise files, train a speech model, stream a file through the live API."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import checks
from . import group_help, options

if TYPE_CHECKING:
    from ..apps.speech import SpeechEnhancer

#: The bundled models the commands use unless --model names another. speech16k beat both 8 kHz
#: models on the unseen validation speakers of benchmarks/speech_wideband.py --split val (README).
DENOISE_DEFAULT = "speech16k"
STREAM_DEFAULT = "speech16k"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audio = sub.add_parser(
        "audio",
        help="speech enhancement: denoise, train, stream",
        description="Remove noise from speech recordings with a bundled model (16 kHz by default, "
        "any input rate) or your own, train a model on clean speech and noise recordings, and run a file "
        "through the low-latency streaming API.",
    )
    asub = audio.add_subparsers(dest="audio_command", metavar="COMMAND")

    p = asub.add_parser(
        "denoise",
        help="denoise audio files or folders",
        description="Enhance each input (WAV, FLAC, OGG; any sample rate, mono or multi-channel, "
        "any length: files stream from and to disk) and write it with the same name, "
        "rate and channels. A file that fails is reported and the others still get "
        "done; the exit code is 1 when any failed.",
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="audio files or folders of audio files")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output folder (or an output file name when there is one input file)",
    )
    _model_arguments(p, default=DENOISE_DEFAULT)
    p.add_argument("--recursive", action="store_true", help="look into sub-folders too")
    p.add_argument(
        "--threads",
        type=options.threads,
        default=1,
        help="torch CPU threads (1 is fastest for this small recurrent model on a busy machine)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_denoise)

    from ..train import add_train_arguments

    p = asub.add_parser(
        "train",
        help="train a speech enhancer on clean speech and noise recordings",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train a causal spectral-mask speech enhancer (or, with --bidirectional, an "
        "offline one for files): clean items are cut from --clean, and noise "
        "(recordings from --noise plus synthetic noises) is mixed in at a random SNR "
        "on the fly. Writes the run and the model folder to --out.",
    )
    p.add_argument("--clean", required=True, nargs="+", metavar="DIR", help="folders (or files) of clean speech")
    p.add_argument("--noise", nargs="*", default=[], metavar="DIR", help="folders (or files) of noise recordings")
    p.add_argument(
        "--noise-span",
        type=options.probability,
        nargs=2,
        default=(0.0, 1.0),
        metavar=("START", "END"),
        help="use only this fraction of each noise recording (e.g. 0 0.7)",
    )
    p.add_argument(
        "--synthetic",
        default="white,pink,brown,hum",
        help="synthetic noises to mix in too (comma-separated; '' for none)",
    )
    p.add_argument("--out", required=True, metavar="RUN", help="run and model folder")
    p.add_argument(
        "--sample-rate",
        type=options.number(checks.SAMPLE_RATE),
        default=8000,
        help="model sample rate (files are resampled)",
    )
    p.add_argument(
        "--snr", type=options.snr_db, nargs=2, default=(-5.0, 15.0), metavar=("LOW", "HIGH"), help="SNR range, dB"
    )
    p.add_argument("--items", type=options.positive_int, default=2000, help="clean training items")
    p.add_argument("--seconds", type=options.positive, default=1.5, help="length of a training item")
    p.add_argument("--hidden", type=options.positive_int, default=160, help="GRU width")
    p.add_argument("--layers", type=options.positive_int, default=2, help="GRU layers")
    p.add_argument(
        "--n-fft", type=options.number(checks.N_FFT), default=256, help="STFT window (latency = n_fft / sample rate)"
    )
    p.add_argument(
        "--bidirectional",
        action="store_true",
        help="an offline model that also looks ahead: better on files, but it cannot stream",
    )
    add_train_arguments(p)
    p.set_defaults(func=cmd_train)

    p = asub.add_parser(
        "stream",
        help="run a file through the streaming API; report latency and speed",
        description="Feed IN to the streaming enhancer in chunks of --chunk-ms, as a live "
        "input would arrive, write OUT, and report the algorithmic latency, the "
        "compute time per chunk and the real-time factor.",
    )
    p.add_argument("input", metavar="IN", help="audio file")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output audio file")
    p.add_argument("--chunk-ms", type=options.positive, default=20.0, help="chunk length in milliseconds")
    _model_arguments(p)
    p.add_argument("--threads", type=options.threads, default=1, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="only the summary line")
    p.set_defaults(func=cmd_stream)

    audio.set_defaults(func=group_help(audio))


def _model_arguments(p: argparse.ArgumentParser, default: str = STREAM_DEFAULT) -> None:
    p.add_argument(
        "--model",
        default=default,
        help=f"a bundled model or a model folder (default: {default}). 'speech16k' is causal and streams, at "
        "16 kHz; 'speech8k' and 'speech8k-offline' (looks ahead, files only) are for 8 kHz telephone audio. "
        "Any input rate works: the band above the model's is kept",
    )
    p.add_argument(
        "--attenuation-limit",
        type=options.non_negative,
        default=None,
        metavar="DB",
        help="suppress no bin by more than this many dB (e.g. 20; default: no limit)",
    )
    p.add_argument(
        "--wet", type=options.probability, default=None, help="dry/wet mix: 1 = fully enhanced, 0 = input unchanged"
    )
    p.add_argument(
        "--always-enhance",
        action="store_true",
        help="enhance even recordings whose estimated noise says they are clean (by default a "
        "recording with no noise detected or an SNR of 40 dB or more is left unchanged)",
    )
    p.add_argument(
        "--no-keep-band",
        action="store_true",
        help="return only the model's band: by default audio at a higher rate than the model's keeps "
        "the band above it, turned down where the model and the band's own level say it is noise",
    )


def _enhancer(args: argparse.Namespace) -> SpeechEnhancer:
    from ..apps.speech import SpeechEnhancer

    kwargs: dict[str, Any] = {}
    if args.attenuation_limit is not None:
        kwargs["attenuation_limit_db"] = args.attenuation_limit
    if args.wet is not None:
        kwargs["wet"] = args.wet
    if getattr(args, "always_enhance", False):
        kwargs["clean_snr_db"] = None
    if getattr(args, "no_keep_band", False):
        kwargs["keep_band"] = False
    folder = Path(args.model)
    if folder.is_dir():
        return SpeechEnhancer.from_pretrained(folder, **kwargs)
    if args.model.startswith(".") or "/" in args.model:
        raise FileNotFoundError(2, "no such model folder", args.model)
    return SpeechEnhancer.pretrained(args.model, **kwargs)


def _inputs(paths: Iterable[str | os.PathLike], recursive: bool) -> list[tuple[Path, Path]]:
    """(file, path relative to the output) for every input file."""
    from ..data.audio import AUDIO_SUFFIXES, list_audio_files

    out = []
    for p in map(Path, paths):
        if p.is_dir():
            files = list_audio_files(p, recursive=recursive)
            if not files:
                raise ValueError(f"{p}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder.")
            out += [(f, f.relative_to(p)) for f in files]
        elif p.is_file():
            out.append((p, Path(p.name)))
        else:
            raise FileNotFoundError(2, "no such file or folder", str(p))
    return out


def cmd_denoise(args: argparse.Namespace) -> int:
    import torch

    from ..data.audio import AUDIO_SUFFIXES
    from ..io import check_output_file, check_output_folder

    torch.set_num_threads(max(1, args.threads))
    items = _inputs(args.inputs, args.recursive)  # a wrong path is reported before the model loads
    out = Path(args.output)
    single_file = len(items) == 1 and out.suffix.lower() in AUDIO_SUFFIXES and not out.is_dir()
    if single_file:  # a bad -o is refused once, with exit 2, not once per file
        check_output_file(out)
    else:
        check_output_folder(out)
    enhancer = _enhancer(args)
    failed = 0
    for src, rel in items:
        dst = out if single_file else out / rel
        try:
            t0 = time.perf_counter()
            info = enhancer.enhance_file(src, dst)
            if not args.quiet:
                noise = info["noise"]
                said = noise.message.rstrip(".") if noise is not None else "too short to estimate the noise"
                print(f"{src}: {said}" + ("" if info["enhanced"] else "; left unchanged"))
                print(
                    f"{src} -> {dst}  ({info['seconds']:.1f} s of audio in {time.perf_counter() - t0:.1f} s, "
                    f"RTF {info['rtf']:.3f})"
                )
        except (ValueError, OSError) as e:
            failed += 1
            print(f"daekit: error: {e}" if isinstance(e, ValueError) else f"daekit: error: {src}: {e}", file=sys.stderr)
    if failed and not args.quiet:
        print(f"{failed} of {len(items)} file(s) failed.", file=sys.stderr)
    return 1 if failed else 0


def cmd_train(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ..apps.speech import SpeechEnhancer, train_speech_dae
    from ..data.audio import load_audio, load_noise_bank, speech_items
    from ..io import check_output_folder
    from ..noise import SYNTHETIC_NOISES
    from ..train import config_from_args

    check_output_folder(args.out)  # a bad --out is refused before the recordings are read
    sr = args.sample_rate
    # The flags' types checked each value; these check the values against each other,
    # still before any recording is read.
    if not args.noise_span[0] < args.noise_span[1]:
        raise ValueError(f"--noise-span {args.noise_span[0]:g} {args.noise_span[1]:g}: START must be below END.")
    if args.snr[0] > args.snr[1]:
        raise ValueError(f"--snr {args.snr[0]:g} {args.snr[1]:g}: LOW must not be above HIGH.")
    if args.seconds * sr < 2 * args.n_fft:
        raise ValueError(
            f"--seconds {args.seconds:g} is too short: an item needs at least two STFT windows "
            f"(2 x --n-fft {args.n_fft} samples = {2 * args.n_fft / sr:g} s at {sr} Hz)."
        )
    clean_files = [f for f, _ in _inputs(args.clean, recursive=True)]
    clips = [load_audio(f, sr)[0] for f in clean_files]
    clips = [c for c in clips if np.abs(c).max() > 0]
    if not clips:
        raise ValueError("the --clean files hold only silence: speech is needed to train on.")
    noise_files = [f for f, _ in _inputs(args.noise, recursive=True)] if args.noise else []
    recorded = load_noise_bank(noise_files, sr, span=tuple(args.noise_span)) if noise_files else []
    synthetic = [s.strip() for s in args.synthetic.split(",") if s.strip()]
    for s in synthetic:
        if s not in SYNTHETIC_NOISES:
            raise ValueError(f"--synthetic {s!r} is not known: use some of {', '.join(SYNTHETIC_NOISES)}.")
    bank = synthetic + [torch.from_numpy(np.ascontiguousarray(r)) for r in recorded if r.size > 0]
    if not bank:
        raise ValueError("no noise to train with: give --noise recordings or --synthetic noises.")
    length = int(args.seconds * sr)
    clean = torch.from_numpy(speech_items({"all": clips}, args.items, length, sr, seed=0))
    val = torch.from_numpy(speech_items({"all": clips}, max(8, args.items // 20), length, sr, seed=1))
    config = config_from_args(
        args,
        out_dir=args.out,
        batch_size=32,
        lr=2e-3,
        schedule="cosine",
        max_steps=2000,
        grad_clip=1.0,
        warmup_steps=100,
        device="cpu",
    )
    dae = train_speech_dae(
        clean,
        bank,
        sr,
        config,
        snr_db=tuple(args.snr),
        val=val,
        model_kwargs={
            "n_fft": args.n_fft,
            "hop_length": args.n_fft // 4,
            "hidden_size": args.hidden,
            "num_layers": args.layers,
            "causal": not args.bidirectional,
        },
    )
    if int(os.environ.get("RANK", "0")) != 0:  # under torchrun, rank 0 alone writes the model folder
        return 0
    SpeechEnhancer(dae).save_pretrained(
        args.out, recipe={"clean_files": len(clean_files), "noise_files": len(noise_files), "synthetic": synthetic}
    )
    if not config.quiet:
        print(f"wrote the model folder {args.out} (use: daekit audio denoise IN -o OUT --model {args.out})")
    return 0


def cmd_stream(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ..data.audio import AudioWriter, audio_info, iter_audio_blocks
    from ..io import check_output_file

    check_output_file(args.output)
    torch.set_num_threads(max(1, args.threads))
    if not args.chunk_ms > 0:
        raise ValueError(f"--chunk-ms {args.chunk_ms} is not valid: a positive number of milliseconds.")
    enhancer = _enhancer(args)
    sr, channels, frames = audio_info(args.input)  # refuses what every reader refuses, before OUT is opened
    chunk = max(1, int(round(args.chunk_ms * sr / 1000)))
    stream = enhancer.stream(sample_rate=sr, channels=channels)
    times = []
    with AudioWriter(args.output, sr, channels) as writer:
        for block in iter_audio_blocks(args.input, chunk):
            t0 = time.perf_counter()
            y = stream.process(block)
            times.append(time.perf_counter() - t0)
            writer.write(y)
        writer.write(stream.flush())
    t = np.array(times) * 1000
    chunk_ms = 1000 * chunk / sr
    seconds = frames / sr
    rtf = t.sum() / 1000 / seconds
    if not args.quiet:
        print(f"{len(t)} chunks of {chunk_ms:.1f} ms at {sr} Hz, {channels} channel(s)")
        print(
            f"compute per chunk: mean {t.mean():.2f} ms, p95 {np.percentile(t, 95):.2f} ms, max {t.max():.2f} ms "
            f"(keeps up when below {chunk_ms:.1f} ms)"
        )
    print(
        f"{args.input} -> {args.output}: {seconds:.1f} s of audio, algorithmic latency {stream.latency_ms:.1f} ms "
        f"(+ up to one chunk, {chunk_ms:.1f} ms, of buffering), real-time factor {rtf:.4f}, "
        f"{'keeps up with' if np.percentile(t, 99) < chunk_ms else 'falls behind'} real time"
    )
    return 0
