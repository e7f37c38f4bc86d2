"""daekit.data.table: CSV/npy/npz tables, header and timestamp detection, clear errors."""

import numpy as np
import pytest

from daekit.data.table import read_table


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_header_and_timestamp_detected(tmp_path):
    path = write(tmp_path, "a.csv", "timestamp,value,load\n2020-01-01 00:00:00,1.5,3\n2020-01-01 00:05:00,2.5,4\n")
    t = read_table(path)
    assert t.columns == ["value", "load"] and t.time_column == "timestamp"
    assert t.timestamps == ["2020-01-01 00:00:00", "2020-01-01 00:05:00"]
    np.testing.assert_array_equal(t.values, [[1.5, 3], [2.5, 4]])


def test_no_header_semicolon_and_unnamed_dates(tmp_path):
    t = read_table(write(tmp_path, "b.csv", "2020-01-01;1;2\n2020-01-02;3;4\n"))
    assert t.columns == ["col1", "col2"] and t.timestamps[1] == "2020-01-02"
    t = read_table(write(tmp_path, "c.csv", "1,2\n3,4\n5,6\n"))
    assert t.columns == ["col0", "col1"] and t.timestamps is None and t.values.shape == (3, 2)


def test_numeric_time_and_index_columns_are_the_time_axis(tmp_path):
    t = read_table(write(tmp_path, "e.csv", "time,value\n0,1.5\n1,2.5\n2,0.5\n"))
    assert t.columns == ["value"] and t.time_column == "time" and t.timestamps == ["0", "1", "2"]
    t = read_table(write(tmp_path, "f.csv", ",a,b\n0,1,2\n1,3,4\n2,5,6\n"))  # pandas' to_csv index
    assert t.columns == ["a", "b"] and t.timestamps == ["0", "1", "2"]
    t = read_table(write(tmp_path, "g.csv", "time,value\n3,1\n1,2\n2,3\n"))  # not increasing: data
    assert t.columns == ["time", "value"] and t.timestamps is None
    t = read_table(write(tmp_path, "h.csv", "a,index\n0,1\n1,2\n2,3\n"))  # only a first column is an index
    assert t.columns == ["a", "index"] and t.timestamps is None


def test_columns_by_name_and_position(tmp_path):
    path = write(tmp_path, "d.csv", "a,b,c\n1,2,3\n4,5,6\n")
    assert read_table(path, columns="c,a").values.tolist() == [[3, 1], [6, 4]]
    assert read_table(path, columns=["1"]).columns == ["b"]
    with pytest.raises(ValueError, match="no column 'z'"):
        read_table(path, columns="z")


def test_numpy_files(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(6.0).reshape(3, 2))
    assert read_table(tmp_path / "x.npy").values.shape == (3, 2)
    np.save(tmp_path / "v.npy", np.arange(5.0))
    assert read_table(tmp_path / "v.npy").values.shape == (5, 1)
    np.savez(tmp_path / "z.npz", X=np.ones((4, 3)), y=np.zeros(4))
    assert read_table(tmp_path / "z.npz").values.shape == (4, 3)
    np.savez(tmp_path / "two.npz", a=np.ones(3), b=np.ones(3))
    with pytest.raises(ValueError, match="say which array"):
        read_table(tmp_path / "two.npz")


@pytest.mark.parametrize(
    "text, message",
    [
        ("a,b\n1,2\n3,nan\n", "column 'b' holds NaN at data row 2"),
        ("a,b\n1,2\n3,inf\n", "infinite value"),
        ("a,b\n1,2\n3,\n", "empty cell at line 3"),
        ("a,b\n1,2\n3,hello\n", "column 'b' holds the text 'hello'"),
        ("a,b\n1,2\n3\n", "line 3 has 1 fields"),
        ("a,b\n", "header but no data rows"),
        ("", "the file is empty"),
    ],
)
def test_bad_csv_gives_one_sentence(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_table(write(tmp_path, "bad.csv", text))


def test_too_few_rows_missing_file_and_bad_suffix(tmp_path):
    with pytest.raises(ValueError, match="has 1 row; at least 2"):
        read_table(write(tmp_path, "one.csv", "a\n1\n"), min_rows=2)
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="unsupported file type"):
        read_table(write(tmp_path, "x.json", "{}"))
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(ValueError, match="numeric array"):
        read_table(tmp_path / "s.npy")
