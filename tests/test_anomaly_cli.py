"""``daekit anomaly fit|score``: files in, scores/flags/plot out, one-sentence errors."""

import csv

import numpy as np
import pytest

from daekit.cli import main

FAST = ["--members", "1", "--epochs", "5", "--quiet"]


@pytest.fixture(scope="module")
def series_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("anomaly_cli")
    t = np.arange(300)
    rng = np.random.default_rng(0)
    a, b = np.sin(t / 8), np.cos(t / 8) + rng.normal(scale=0.05, size=300)
    lines = ["timestamp,a,b,label"] + [
        f"2024-01-01 00:{i // 60:02d}:{i % 60:02d},{x:.5f},{y:.5f},x" for i, (x, y) in enumerate(zip(a, b))
    ]
    path = folder / "series.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_then_score_with_plot_and_explain(series_csv, tmp_path):
    model = tmp_path / "det"
    assert (
        main(["anomaly", "fit", str(series_csv), "--out", str(model), "--columns", "a,b", "--window", "16", *FAST]) == 0
    )
    assert (model / "config.json").exists() and (model / "model.safetensors").exists()
    scores, png = tmp_path / "scores.csv", tmp_path / "scores.png"
    # The scoring file has an extra text column: the fitted columns are picked by name.
    assert (
        main(
            [
                "anomaly",
                "score",
                str(model),
                str(series_csv),
                "-o",
                str(scores),
                "--plot",
                str(png),
                "--explain",
                "--quiet",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(open(scores)))
    assert len(rows) == 300 and rows[0]["timestamp"] == "2024-01-01 00:00:00"
    assert set(rows[0]) == {"timestamp", "score", "flag", "share_a", "share_b"}
    assert {r["flag"] for r in rows} <= {"0", "1"}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_detrended_series(series_csv, tmp_path, capsys):
    model, scores = tmp_path / "det", tmp_path / "scores.csv"
    assert (
        main(
            [
                "anomaly",
                "fit",
                str(series_csv),
                "--out",
                str(model),
                "--columns",
                "a,b",
                "--window",
                "16",
                "--detrend",
                "50",
                "--members",
                "1",
                "--epochs",
                "5",
            ]
        )
        == 0
    )
    assert "detrended slow column(s): a, b" in capsys.readouterr().out  # both are smooth (lag-1 ~ 0.99)
    assert main(["anomaly", "score", str(model), str(series_csv), "-o", str(scores), "--quiet"]) == 0
    assert len(list(csv.DictReader(open(scores)))) == 300
    assert (
        main(
            [
                "anomaly",
                "fit",
                str(series_csv),
                "--out",
                str(tmp_path / "m"),
                "--columns",
                "a,b",
                "--detrend",
                "50",
                *FAST,
            ]
        )
        == 2
    )
    assert "detrend needs a window" in capsys.readouterr().err


def test_table_without_header(tmp_path):
    data = tmp_path / "t.csv"
    np.savetxt(data, np.random.default_rng(1).normal(size=(60, 3)), delimiter=",")
    assert main(["anomaly", "fit", str(data), "--out", str(tmp_path / "m"), *FAST]) == 0
    assert main(["anomaly", "score", str(tmp_path / "m"), str(data), "-o", str(tmp_path / "s.csv"), "--quiet"]) == 0
    assert len(list(csv.DictReader(open(tmp_path / "s.csv")))) == 60


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b\n1,2\n3,nan\n4,5\n", "holds NaN"),
        ("a,b\n1,2\n3,oops\n4,5\n", "holds the text 'oops'"),
        ("a,b\n1,2\n", "at least 2 are needed"),
    ],
)
def test_bad_training_files(tmp_path, capsys, text, message):
    data = tmp_path / "bad.csv"
    data.write_text(text)
    assert main(["anomaly", "fit", str(data), "--out", str(tmp_path / "m"), *FAST]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.startswith("daekit: error:")


def test_mismatched_columns_and_missing_model(series_csv, tmp_path, capsys):
    assert main(["anomaly", "fit", str(series_csv), "--out", str(tmp_path / "m"), "--columns", "a,b", *FAST]) == 0
    other = tmp_path / "other.csv"
    other.write_text("a,c\n1,2\n3,4\n")
    assert main(["anomaly", "score", str(tmp_path / "m"), str(other), "-o", str(tmp_path / "s.csv")]) == 2
    assert "no column 'b'" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()
    assert main(["anomaly", "score", str(tmp_path / "none"), str(other), "-o", str(tmp_path / "s.csv")]) == 2


def test_constant_columns(tmp_path, capsys):
    data = tmp_path / "c.csv"
    data.write_text("a,b\n1,5\n2,5\n3,5\n4,5\n")
    assert main(["anomaly", "fit", str(data), "--out", str(tmp_path / "m"), *FAST]) == 0
    assert "column(s) b are constant" in capsys.readouterr().err
    data.write_text("a,b\n1,5\n1,5\n1,5\n")
    assert main(["anomaly", "fit", str(data), "--out", str(tmp_path / "m2"), *FAST]) == 2
    assert "every column used is constant" in capsys.readouterr().err


def test_stream_scores_alarms_and_plot(tmp_path):
    t = np.arange(800)
    x = np.sin(2 * np.pi * t / 40) + 0.05 * np.random.default_rng(0).normal(size=800)
    x[700] = 3.0
    data = tmp_path / "s.csv"
    data.write_text(
        "time,value\n"
        + "".join(
            f"2024-01-{1 + i // 100:02d} {i % 100 // 4:02d}:{i % 4 * 15:02d}:00,{v:.5f}\n" for i, v in enumerate(x)
        )
    )
    out, png = tmp_path / "scores.csv", tmp_path / "scores.png"
    assert main(["anomaly", "stream", str(data), "-o", str(out), "--window", "40", "--plot", str(png), "--quiet"]) == 0
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == 800 and set(rows[0]) == {"time", "score", "likelihood", "novelty", "alarm"}
    assert [i for i, r in enumerate(rows) if r["alarm"] == "1"] == [700]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--train-rows", "many"], "argument --train-rows: must be 'auto' or a whole number"),
        (["--window", "wide"], "argument --window: must be 'auto' or a whole number of 2 or more, not 'wide'"),
        (["--train-rows", "10"], "less than one window"),
        (["--window", "1"], "argument --window: must be 'auto' or a whole number of 2 or more, not '1'"),
    ],
)
def test_stream_bad_options(tmp_path, capsys, extra, message):
    data = tmp_path / "s.csv"
    data.write_text("value\n" + "".join(f"{np.sin(i / 5):.4f}\n" for i in range(200)))
    assert main(["anomaly", "stream", str(data), "-o", str(tmp_path / "o.csv"), "--window", "16", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
