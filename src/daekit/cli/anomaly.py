"""``daekit anomaly fit|score``: fit a DAEDetector on a table or series file, score another."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import checks
from . import group_help, options

if TYPE_CHECKING:
    from ..data.table import Table


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser(
        "anomaly",
        help="anomaly detection on tables and time series",
        description="Fit a denoising-autoencoder anomaly detector on mostly-normal data, "
        "then score new data: one score per row (or per time step with "
        "--window), 0/1 flags, and a plot.",
    )
    cmds = group.add_subparsers(dest="anomaly_command", metavar="COMMAND")

    group.set_defaults(func=group_help(group))

    p = cmds.add_parser(
        "fit",
        help="fit a detector on DATA and save it",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Fit a DAEDetector on DATA (.csv with or without header, .npy, .npz). A "
        "timestamp column is detected and left out; every other column used must "
        "be numeric. Writes a model folder (config.json + model.safetensors).",
    )
    p.add_argument("data", metavar="DATA", help="training data: .csv/.tsv/.txt, .npy or .npz (array X)")
    p.add_argument("--out", required=True, metavar="DIR", help="model folder to write")
    p.add_argument(
        "--columns",
        default=None,
        help="columns to use, by name or 0-based position, comma separated (default: every numeric column)",
    )
    p.add_argument("--timestamp", default="auto", help="timestamp column name, 'auto' to detect, 'none' for none")
    p.add_argument(
        "--window",
        type=options.number(checks.WINDOW),
        default=None,
        help="treat rows as a time series and score sliding windows of this many steps "
        "(default: each row is an independent sample)",
    )
    p.add_argument("--stride", type=options.positive_int, default=1, help="step between training windows")
    p.add_argument(
        "--detrend",
        type=options.number(checks.WINDOW),
        default=None,
        metavar="STEPS",
        help="series: replace slowly wandering columns (lag-1 autocorrelation > 0.8) by their "
        "deviation from a trailing mean over STEPS, so slow drift is not flagged (needs --window)",
    )
    p.add_argument("--model", default="mlp", choices=["mlp", "conv1d"], help="network (conv1d needs --window)")
    p.add_argument(
        "--contamination",
        type=options.number(checks.CONTAMINATION),
        default=0.1,
        help="expected share of anomalies in DATA",
    )
    p.add_argument(
        "--threshold",
        type=options.number_or_word(checks.FINITE, "contamination", "mad"),
        default="contamination",
        help="'contamination' (quantile of the training scores), 'mad' (median + k·MAD) or a number",
    )
    p.add_argument("--k", type=options.positive, default=3.0, help="k of the 'mad' threshold")
    p.add_argument("--members", type=options.positive_int, default=3, help="ensemble members (seeds)")
    p.add_argument(
        "--epochs", type=options.positive, default=None, help="passes over the data per member (default: automatic)"
    )
    p.add_argument(
        "--noise", default="gaussian", help="gaussian, masking, or a noise spec such as gaussian:0.1+masking:0.1"
    )
    p.add_argument(
        "--noise-level",
        type=options.non_negative,
        default=None,
        help="noise std / probability on the scaled data (default: 0.2 for gaussian noise on tables, else 0.1)",
    )
    p.add_argument("--seed", type=options.seed, default=0, help="random seed")
    p.add_argument("--device", type=options.device, default="cpu", help="cpu, cuda or auto")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_fit)

    p = cmds.add_parser(
        "score",
        help="score DATA with a fitted detector",
        description="Score every row (or time step) of DATA with the detector in MODEL and write "
        "a CSV: timestamp or row, score, flag (1 = above the threshold), and with "
        "--explain each column's share of the score.",
    )
    p.add_argument("model", metavar="MODEL", help="folder written by 'daekit anomaly fit'")
    p.add_argument("data", metavar="DATA", help="data with the columns the detector was fitted on")
    p.add_argument("-o", "--output", required=True, metavar="CSV", help="scores CSV to write")
    p.add_argument("--plot", default=None, metavar="PNG", help="also draw the series, flagged points and threshold")
    p.add_argument("--explain", action="store_true", help="add each column's share of the score")
    p.add_argument("--threshold", type=options.finite, default=None, help="override the fitted threshold")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_score)

    p = cmds.add_parser(
        "stream",
        help="score a series online: a [0, 1] score and alarms per step",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Fit on the first rows of a time series and score every later step from "
        "the steps up to it, as a live stream would be: the likelihood of its "
        "reconstruction error against the recent history, or 1 when a value leaves "
        "the range seen so far. Writes a CSV: timestamp or row, score, likelihood, "
        "novelty, alarm (one alarm, then quiet for a window).",
    )
    p.add_argument("data", metavar="DATA", help="the series: .csv/.tsv/.txt, .npy or .npz (array X)")
    p.add_argument("-o", "--output", required=True, metavar="CSV", help="scores CSV to write")
    p.add_argument(
        "--columns",
        default=None,
        help="columns to use, by name or 0-based position, comma separated (default: every numeric column)",
    )
    p.add_argument("--timestamp", default="auto", help="timestamp column name, 'auto' to detect, 'none' for none")
    p.add_argument(
        "--window",
        type=options.number_or_word(checks.WINDOW, "auto"),
        default="auto",
        help="steps per window ('auto': a quarter of the training rows, 8 to 128)",
    )
    p.add_argument(
        "--train-rows",
        type=options.number_or_word(checks.WINDOW, "auto"),
        default="auto",
        help="rows to fit on ('auto': 15%% of the series, at most 750)",
    )
    p.add_argument("--threshold", type=options.open_unit, default=0.97, help="alarm level of the [0, 1] score")
    p.add_argument(
        "--quiet-steps", type=options.count, default=None, help="steps without alarms after one (default: --window)"
    )
    p.add_argument("--members", type=options.positive_int, default=2, help="ensemble members (seeds)")
    p.add_argument("--seed", type=options.seed, default=0, help="random seed")
    p.add_argument("--plot", default=None, metavar="PNG", help="also draw the series, alarms and score")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_stream)


def _read(path: str, columns: list[str] | str | None, timestamp: str, min_rows: int) -> Table:
    from ..data.table import read_table

    return read_table(path, columns=columns, timestamp=None if timestamp == "none" else timestamp, min_rows=min_rows)


def _check_outputs(args: argparse.Namespace) -> None:
    # Before the work: a bad -o or --plot is refused at once, and never after the CSV is written.
    from ..io import check_output_file

    check_output_file(args.output)
    if args.plot:
        check_output_file(args.plot)


def cmd_fit(args: argparse.Namespace) -> int:
    from ..apps.anomaly import DAEDetector
    from ..io import check_output_folder

    check_output_folder(args.out)  # a bad --out is refused before, not after, the fit
    min_rows = args.window if args.window else 2
    table = _read(args.data, args.columns, args.timestamp, min_rows)
    det = DAEDetector(
        contamination=args.contamination,
        threshold=args.threshold,
        threshold_k=args.k,
        window=args.window,
        stride=args.stride,
        model=args.model,
        noise=args.noise,
        noise_level="auto" if args.noise_level is None else args.noise_level,
        n_estimators=args.members,
        epochs=args.epochs,
        device=args.device,
        random_state=args.seed,
        verbose=not args.quiet,
        detrend=args.detrend,
    )
    if np.all(np.ptp(table.values, axis=0) == 0):
        raise ValueError(f"{args.data}: every column used is constant; there is nothing to learn from.")
    det.fit(table.values)
    det.feature_names_ = list(table.columns)
    if det.slow_channels_ and not args.quiet:
        print(f"detrended slow column(s): {', '.join(table.columns[j] for j in det.slow_channels_)}")
    if det.constant_features_:
        names = ", ".join(table.columns[j] for j in det.constant_features_)
        print(
            f"daekit: note: column(s) {names} are constant in {args.data}; any other value in them "
            "will be scored as abnormal.",
            file=sys.stderr,
        )
    det.save(args.out)
    if not args.quiet:
        print(
            f"fitted on {len(table.values)} rows x {len(table.columns)} columns ({', '.join(table.columns[:8])}"
            f"{'...' if len(table.columns) > 8 else ''}); threshold {det.threshold_:.4g}, "
            f"{int(det.labels_.sum())} training rows flagged; saved to {args.out}"
        )
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from ..apps.anomaly import DAEDetector
    from ..io import atomic_write_bytes, check_finite_output

    _check_outputs(args)
    det = DAEDetector.load(args.model)
    names = list(getattr(det, "feature_names_", []) or [])
    # The fitted columns, by name and in the fitted order; other columns are not read.
    table = _read(args.data, names or None, "auto", det.window or 1)
    if table.values.shape[1] != det.n_features_in_:
        raise ValueError(
            f"{args.data}: has {table.values.shape[1]} numeric columns, but the detector was fitted on "
            f"{det.n_features_in_}."
        )
    scores = det.decision_function(table.values)
    threshold = det.threshold_ if args.threshold is None else args.threshold
    flags = (scores > threshold).astype(int)
    shares = det.explain(table.values) if args.explain else None
    check_finite_output(scores, args.output)
    if shares is not None:
        check_finite_output(shares, args.output)

    buf = io.StringIO()
    out = csv.writer(buf)
    first = table.time_column or "row"
    out.writerow([first, "score", "flag"] + ([f"share_{c}" for c in table.columns] if shares is not None else []))
    for i, (s, f) in enumerate(zip(scores, flags)):
        key = table.timestamps[i] if table.timestamps else i
        out.writerow([key, f"{s:.6g}", f] + ([f"{v:.4f}" for v in shares[i]] if shares is not None else []))
    atomic_write_bytes(args.output, buf.getvalue().encode())
    if args.plot:
        from ..apps.anomaly_plot import plot_detection

        plot_detection(args.plot, table.values, scores, threshold, table.columns, title=Path(args.data).name)
    if not args.quiet:
        print(
            f"scored {len(scores)} {'steps' if det.window else 'rows'}: {int(flags.sum())} flagged "
            f"(threshold {threshold:.4g}); wrote {args.output}" + (f" and {args.plot}" if args.plot else "")
        )
    return 0


def cmd_stream(args: argparse.Namespace) -> int:
    from ..apps.anomaly_stream import StreamDetector
    from ..io import atomic_write_bytes, check_finite_output

    _check_outputs(args)
    table = _read(args.data, args.columns, args.timestamp, 3)
    stream = StreamDetector(
        window=args.window,
        train_rows=args.train_rows,
        n_estimators=args.members,
        threshold=args.threshold,
        quiet=args.quiet_steps,
        random_state=args.seed,
    )
    try:
        scores = stream.fit_score(table.values)
    except ValueError as e:
        raise ValueError(f"{args.data}: {e}") from None
    alarms = stream.alarms()
    check_finite_output([scores, stream.likelihood_], args.output)

    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow([table.time_column or "row", "score", "likelihood", "novelty", "alarm"])
    for i in range(len(scores)):
        key = table.timestamps[i] if table.timestamps else i
        out.writerow([key, f"{scores[i]:.6g}", f"{stream.likelihood_[i]:.6g}", int(stream.novelty_[i]), alarms[i]])
    atomic_write_bytes(args.output, buf.getvalue().encode())
    if args.plot:
        from ..apps.anomaly_plot import plot_detection

        plot_detection(
            args.plot, table.values, scores, args.threshold, table.columns, title=Path(args.data).name, flags=alarms
        )
    if not args.quiet:
        print(
            f"fitted on the first {stream.train_rows_} of {len(scores)} steps; {int(alarms.sum())} alarm(s) "
            f"(score >= {args.threshold:g}); wrote {args.output}" + (f" and {args.plot}" if args.plot else "")
        )
    return 0
