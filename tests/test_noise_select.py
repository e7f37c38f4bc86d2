"""daekit.noise.select: ranking, criteria per task, budgets, plots, CLI; bad input."""

import json

import numpy as np
import pytest
import torch

import daekit
from daekit.cli import main
from daekit.noise_select import DEFAULT_LEVELS, Selection, default_candidates, parse_budget, select, tail_contrast

FAST = dict(steps=15, batch_size=64, quiet=True, budget=120)


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def low_rank(n=300, f=8, seed=0):
    """Rows on a 2-D plane in 8-D: structure a DAE can learn, on [0, 1]."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1, 1, (n, 2))
    x = z @ rng.normal(size=(2, f))
    return ((x - x.min(0)) / (x.max(0) - x.min(0))).astype(np.float32)


def test_anomaly_grid_is_ranked_and_complete():
    x = low_rank()
    res = select(x, task="anomaly", **FAST)
    assert isinstance(res, Selection)
    n_grid = 1 + sum(len(v) for v in DEFAULT_LEVELS.values())
    assert len(res.table) == res.planned == n_grid
    scores = [r["score"] for r in res.table]
    assert scores == sorted(scores, reverse=True)
    assert all(np.isfinite(s) and s >= 0 for s in scores)
    assert res.criterion.startswith("tail contrast")
    assert [r["rank"] for r in res.table] == list(range(1, n_grid + 1))
    assert isinstance(res.best, daekit.noise.Noise) and res.best_spec == res.table[0]["noise"]
    assert {r["type"] for r in res.table} == {"none", "gaussian", "masking", "saltpepper", "speckle"}
    json.dumps(res.to_dict())
    assert "higher is better" in res.format_table()


def test_denoise_prefers_training_noise_that_matches_the_target():
    x = low_rank(400)
    res = select(
        x,
        task="denoise",
        target="gaussian:0.3",
        candidates={"gaussian": [0.3]},
        steps=300,
        batch_size=64,
        quiet=True,
        budget=120,
    )
    assert [r["noise"] for r in res.table][0] == "gaussian:0.3"
    assert res.criterion.startswith("PSNR")


def test_denoise_with_recorded_pairs():
    x = low_rank(300)
    val = low_rank(100, seed=1)
    val_noisy = val + 0.2 * np.random.default_rng(0).standard_normal(val.shape).astype(np.float32)
    res = select(x, val, task="denoise", val_noisy=val_noisy, candidates=["none", "gaussian:0.2"], **FAST)
    assert len(res.table) == 2 and np.isfinite(res.best_score)


def test_denoise_without_noisy_reference_is_refused():
    with pytest.raises(ValueError, match="val_noisy= .* or target="):
        select(low_rank(), task="denoise", **FAST)


def test_features_linear_probe_and_labels_required():
    rng = np.random.default_rng(0)
    x = low_rank(300)
    y = (x[:, 0] > 0.5).astype(int)
    res = select(x, task="features", y=y, candidates={"masking": [0.25]}, **FAST)
    assert res.criterion.startswith("linear-probe")
    assert all(0.0 <= r["score"] <= 1.0 for r in res.table) and res.best_score > 0.6
    with pytest.raises(ValueError, match="labels"):
        select(x, task="features", **FAST)
    with pytest.raises(ValueError, match="labels"):
        select(x, task="features", y=rng.integers(0, 2, 10), **FAST)


def test_anomaly_with_labels_uses_the_true_auc():
    x = low_rank(300)
    val = np.r_[low_rank(80, seed=1), np.random.default_rng(2).uniform(0, 1, (20, 8)).astype(np.float32)]
    y_val = np.r_[np.zeros(80), np.ones(20)]
    res = select(x, val, task="anomaly", y_val=y_val, candidates=["none"], **FAST)
    assert "labelled" in res.criterion


def test_random_search_and_on_trial_hook():
    seen = []
    res = select(
        low_rank(),
        task="anomaly",
        search="random",
        n_trials=4,
        on_trial=lambda row, dae: seen.append((row["noise"], type(dae).__name__)),
        **FAST,
    )
    assert len(res.table) == 4 and seen[0] == ("none", "DenoisingAutoencoder")
    assert len(seen) == 4


def test_images_use_a_conv_model():
    x = np.random.default_rng(0).random((40, 1, 12, 12)).astype(np.float32)
    res = select(x, task="anomaly", candidates=["none", "masking:0.2"], **FAST)
    assert len(res.table) == 2


def test_budget_too_small_for_one_trial():
    with pytest.raises(ValueError, match="allows 0 trials.*raise --budget"):
        select(low_rank(), task="anomaly", steps=2000, batch_size=64, quiet=True, budget=0.05)


@pytest.mark.parametrize("text, seconds", [("5m", 300), ("90s", 90), ("1h30m", 5400), (45, 45), ("2.5", 2.5)])
def test_parse_budget(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "-5", 0, "5 minutes"])
def test_parse_budget_rejects(bad):
    with pytest.raises(ValueError, match="budget"):
        parse_budget(bad)


def test_bad_data():
    with pytest.raises(ValueError, match="constant"):
        select(np.ones((50, 4)), task="anomaly", **FAST)
    x = low_rank()
    x[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        select(x, task="anomaly", **FAST)
    with pytest.raises(ValueError, match="task"):
        select(low_rank(), task="cluster", **FAST)
    with pytest.raises(ValueError, match="unknown noise"):
        select(low_rank(), task="anomaly", candidates={"pink": [0.1]}, **FAST)


def test_constant_column_does_not_make_nan():
    x = low_rank()
    x[:, 3] = 0.7
    res = select(x, task="anomaly", candidates=["none", "gaussian:0.1"], **FAST)
    assert all(np.isfinite(r["score"]) for r in res.table)


def test_plot_written(tmp_path):
    pytest.importorskip("matplotlib")
    res = select(
        low_rank(),
        task="anomaly",
        candidates={"gaussian": [0.1, 0.3], "masking": [0.2]},
        plot=tmp_path / "plot.png",
        **FAST,
    )
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert res.plot_path == str(tmp_path / "plot.png")


def test_default_order_tries_every_type_before_extremes():
    order = [c.spec for c in default_candidates()]
    assert order[0] == "none"
    assert {s.split(":")[0] for s in order[1:5]} == set(DEFAULT_LEVELS)


def test_tail_contrast():
    bulk = np.linspace(0, 1, 95)
    assert tail_contrast(np.r_[bulk, np.full(5, 10.0)]) > tail_contrast(np.r_[bulk, np.full(5, 2.0)]) > 0
    assert tail_contrast(np.ones(50)) == 0.0  # all equal: no contrast, not NaN
    assert np.isfinite(tail_contrast(np.r_[np.zeros(90), np.ones(10)]))  # IQR of 0


def test_wrapper_on_daekit_noise():
    res = daekit.noise.select(low_rank(), task="anomaly", candidates=["none"], **FAST)
    assert res.table[0]["noise"] == "none"


def test_cli_select(tmp_path, capsys):
    np.savez(tmp_path / "d.npz", X=low_rank(200))
    out = tmp_path / "sel.json"
    rc = main(
        [
            "noise",
            "select",
            str(tmp_path / "d.npz"),
            "--task",
            "anomaly",
            "--budget",
            "2m",
            "--steps",
            "10",
            "--candidates",
            "gaussian=0.1;masking=0.25",
            "--quiet",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    text = capsys.readouterr().out
    assert "best noise:" in text and "rank" in text
    assert json.loads(out.read_text())["task"] == "anomaly"
    rc = main(
        [
            "noise",
            "select",
            str(tmp_path / "d.npz"),
            "--task",
            "anomaly",
            "--budget",
            "0.01s",
            "--steps",
            "5000",
            "--quiet",
        ]
    )
    assert rc == 2 and "allows 0 trials" in capsys.readouterr().err
    rc = main(["noise", "select", str(tmp_path / "d.npz"), "--task", "features", "--budget", "1m", "--quiet"])
    assert rc == 2 and "labels" in capsys.readouterr().err
