import numpy as np
import pytest

from daekit.data import fit_standardizer, load_array, save_array, standardize, unstandardize


def test_csv_with_and_without_header(tmp_path):
    (tmp_path / "h.csv").write_text("a,b\n1,2\n3,4\n")
    (tmp_path / "n.csv").write_text("1,2\n3,4\n")
    for name in ("h.csv", "n.csv"):
        assert load_array(tmp_path / name).tolist() == [[1, 2], [3, 4]]


def test_npy_npz_and_1d(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(5))
    assert load_array(tmp_path / "a.npy").shape == (5, 1)
    np.savez(tmp_path / "b.npz", X=np.ones((3, 2)), y=np.zeros(3))
    assert load_array(tmp_path / "b.npz").shape == (3, 2)
    assert load_array(tmp_path / "b.npz", key="y").shape == (3, 1)
    np.savez(tmp_path / "c.npz", a=np.ones(2), b=np.ones(2))
    with pytest.raises(ValueError, match="say which array"):
        load_array(tmp_path / "c.npz")


@pytest.mark.parametrize(
    "content,match",
    [
        ("1,2\n3,nan\n", "NaN or infinite"),
        ("1,2\n3,\n", "NaN or infinite"),
        ("1,2\n3,x\n", "not a number"),
        ("1,2\n3\n", "fields"),
        ("", "empty"),
    ],
)
def test_bad_csv_gets_one_sentence(tmp_path, content, match):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(ValueError, match=match):
        load_array(tmp_path / "bad.csv")


def test_pickled_objects_are_never_loaded(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="never unpickles"):
        load_array(tmp_path / "o.npy")


def test_corrupt_and_unsupported_files(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"garbage")
    (tmp_path / "x.npz").write_bytes(b"garbage")
    (tmp_path / "x.parquet").write_bytes(b"garbage")
    for name, match in (("x.npy", "not a readable"), ("x.npz", "not a readable"), ("x.parquet", "unsupported")):
        with pytest.raises(ValueError, match=match):
            load_array(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        load_array(tmp_path / "missing.csv")


def test_save_round_trip_and_standardizer(tmp_path):
    x = np.random.default_rng(0).normal(5, 3, size=(50, 4)).astype(np.float32)
    x[:, 2] = 7.0  # a constant column passes through
    stats = fit_standardizer(x)
    z = standardize(x, stats)
    assert np.allclose(z[:, [0, 1, 3]].mean(0), 0, atol=1e-5) and np.allclose(z[:, 2], 0)
    assert np.allclose(unstandardize(z, stats), x, atol=1e-5)
    for suffix in (".npy", ".csv"):
        save_array(tmp_path / f"x{suffix}", x)
        assert np.allclose(load_array(tmp_path / f"x{suffix}"), x, atol=1e-5)
