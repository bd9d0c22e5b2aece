"""Every bad-input case gives one error type (InputError, alias DataError) naming the problem and the fix."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from odcore import data
from odcore.data import Dataset
from odcore.errors import DataError, InputError


def _write(tmp_path, name, content):
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content)
    return p


def test_data_error_is_input_error():
    assert DataError is InputError and issubclass(InputError, ValueError)


def test_empty_file(tmp_path):
    with pytest.raises(DataError, match="empty"):
        data.load(_write(tmp_path, "e.csv", ""))
    with pytest.raises(DataError, match="empty"):
        data.load(_write(tmp_path, "blank.csv", "\n\n  \n"))


def test_header_only(tmp_path):
    with pytest.raises(DataError, match="no data rows"):
        data.load(_write(tmp_path, "h.csv", "a,b,c\n"))


def test_one_row(tmp_path):
    with pytest.raises(DataError, match="only 1 data row"):
        data.load(_write(tmp_path, "one.csv", "a,b\n1,2\n"))
    ds = data.load(_write(tmp_path, "one.csv", "a,b\n1,2\n"), min_rows=1)  # allowed when scoring a file
    assert ds.n_rows == 1


def test_non_numeric_column_refused_when_asked(tmp_path):
    p = _write(tmp_path, "t.csv", "a,city\n1,Paris\n2,Rome\n3,Paris\n")
    with pytest.raises(DataError, match=r"non-numeric column\(s\) \['city'\].*categorical='onehot'"):
        data.load(p, categorical="refuse")
    assert data.load(p).feature_names == ["a", "city=Paris", "city=Rome"]


def test_numeric_column_with_stray_text(tmp_path):
    p = _write(tmp_path, "t.csv", "a,b\n1,2\n2,?\n3,4\n4,5\n")
    with pytest.raises(DataError, match=r"values like '\?' \(data rows \[2\]\)"):
        data.load(p)


@pytest.mark.parametrize("cell,word", [("", "missing/NaN"), ("nan", "missing/NaN"), ("inf", "infinite"),
                                       ("-inf", "infinite")])
def test_nan_or_infinity(tmp_path, cell, word):
    p = _write(tmp_path, "t.csv", f"a,b\n1,2\n2,{cell}\n3,4\n")
    with pytest.raises(DataError, match=rf"{word}.*column\(s\) b.*impute or drop"):
        data.load(p)


def test_nan_in_npz_and_mat(tmp_path):
    X = np.ones((5, 2))
    X[2, 1] = np.nan
    p = tmp_path / "x.npz"
    np.savez(p, X=X, y=np.zeros(5))
    with pytest.raises(DataError, match="NaN"):
        data.load(p)


def test_constant_columns_are_kept_and_reported(tmp_path):
    p = _write(tmp_path, "c.csv", "a,k,b\n1,7,2\n2,7,1\n3,7,5\n4,7,3\n")
    ds = data.load(p)
    assert ds.n_features == 3
    d = data.describe(ds)
    assert d["constant_columns"] == ["k"] and any("constant" in msg for msg in d["problems"])
    ds.y = np.array([0, 0, 0, 1])
    sp = data.split(ds, "all")
    assert sp.scale[1] == 1.0 and np.isfinite(sp.X_train).all() and (sp.X_train[:, 1] == 0).all()


def test_ragged_csv(tmp_path):
    with pytest.raises(DataError, match="ragged CSV.*line 3 has 4 fields"):
        data.load(_write(tmp_path, "r.csv", "a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n"))
    with pytest.raises(DataError, match="ragged CSV.*line 3 has 2 fields"):
        data.load(_write(tmp_path, "r2.csv", "a,b,c\n1,2,3\n4,5\n8,9,10\n"))


def test_wrong_delimiter(tmp_path):
    p = _write(tmp_path, "s.csv", "a;b;c\n1;2;3\n4;5;6\n7;8;9\n")
    with pytest.raises(DataError, match=r"single text column.*sep=';'"):
        data.load(p, sep=",")
    assert data.load(p).n_features == 3  # detected when sep is not forced


def test_binary_garbage(tmp_path):
    garbage = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))
    with pytest.raises(DataError, match="binary"):
        data.load(_write(tmp_path, "junk.csv", garbage))
    with pytest.raises(DataError, match="binary"):
        data.load(_write(tmp_path, "junk.bin", garbage))
    with pytest.raises(DataError, match="not a readable"):
        data.load(_write(tmp_path, "junk.parquet", b"PAR1" + garbage))
    with pytest.raises(DataError, match="not a readable"):
        data.load(_write(tmp_path, "junk.mat", garbage))
    with pytest.raises(DataError):
        data.load(_write(tmp_path, "junk.npz", b"PK\x03\x04" + garbage))


def test_dates_and_spreadsheets_are_refused_with_the_fix(tmp_path):
    import pandas as pd

    p = tmp_path / "d.parquet"
    pd.DataFrame({"day": pd.date_range("2020-01-01", periods=4), "v": [1.0, 2, 3, 4]}).to_parquet(p)
    with pytest.raises(DataError, match="holds dates.*meta_columns"):
        data.load(p)
    assert data.load(p, meta_columns=["day"]).feature_names == ["v"]
    with pytest.raises(DataError, match="save the sheet as CSV"):
        data.load(_write(tmp_path, "book.xlsx", b"PK\x03\x04rest"))


def test_mat_without_x_and_y(tmp_path):
    import scipy.io

    p = tmp_path / "other.mat"
    scipy.io.savemat(p, {"data": np.ones((3, 2)), "labels": np.zeros(3)})
    with pytest.raises(DataError, match=r"matrices named X.*\['data', 'labels'\]"):
        data.load(p)


def test_npz_without_x(tmp_path):
    p = tmp_path / "a.npz"
    np.savez(p, features=np.ones((3, 2)))
    with pytest.raises(DataError, match="must hold an array X"):
        data.load(p)


def test_labels_that_are_not_0_1(tmp_path):
    p = _write(tmp_path, "l.csv", "a,label\n1,0\n2,2\n3,1\n")
    with pytest.raises(DataError, match=r"found values 0, 1, 2.*positive="):
        data.load(p, label_column="label")
    q = _write(tmp_path, "l2.csv", "a,label\n1,ok\n2,bad\n3,ok\n")
    with pytest.raises(DataError, match="positive="):
        data.load(q, label_column="label")
    m = tmp_path / "bad.mat"
    import scipy.io

    scipy.io.savemat(m, {"X": np.ones((3, 2)), "y": np.array([[0], [3], [1]])})
    with pytest.raises(DataError, match="0 \\(inlier\\) or 1"):
        data.load(m)


def test_unknown_label_or_meta_column(tmp_path):
    p = _write(tmp_path, "t.csv", "a,b\n1,2\n3,4\n")
    with pytest.raises(DataError, match=r"label_column \['y'\] not found; the columns are: a, b"):
        data.load(p, label_column="y")
    with pytest.raises(DataError, match="meta_columns"):
        data.load(p, meta_columns=["shop"])


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DataError, match="neither a built-in"):
        data.load(tmp_path / "nope.csv")
    p = _write(tmp_path, "t.csv", "a,b\n1,2\n3,4\n")
    with pytest.raises(DataError, match="unknown format"):
        data.load(p, format="xlsx")
    with pytest.raises(DataError, match="unknown option"):
        data.load(p, colour="red")


def test_different_feature_count_at_scoring_time():
    from odcore.models import create

    ds = data.load("gaussian-ocnn")
    sp = data.split(ds, "novelty")
    det = create("iforest").fit(sp.X_train)
    with pytest.raises(InputError, match=r"512 .*features|features.*512"):
        det.decision_function(sp.X_test[:, :10])


def test_protocol_errors_are_input_errors():
    ds = Dataset(name="u", X=np.ones((10, 2)))
    with pytest.raises(DataError, match="'all' protocol"):
        data.split(ds, "novelty")


# ----------------------------------------------------------------------------- downloaders (never download)


def test_torchvision_downloader_refuses_cleanly_without_torchvision(monkeypatch, tmp_path):
    from odcore.data import download

    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)
    with pytest.raises(InputError, match="needs torchvision.*pip install torchvision"):
        download.download_torchvision("mnist", cache=tmp_path)
    with pytest.raises(InputError, match="unknown torchvision set"):
        download.download_torchvision("imagenet", cache=tmp_path)


def test_kdd_downloader_refuses_cleanly(monkeypatch, tmp_path):
    from odcore.data import download

    with pytest.raises(InputError, match="not in the cache"):
        download.download_kddcup99(cache=tmp_path, allow_download=False)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(InputError, match="needs scikit-learn"):
        download.download_kddcup99(cache=tmp_path / "other")


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    from odcore.data import download

    monkeypatch.setenv("ODCORE_CACHE_DIR", str(tmp_path))
    assert download.cache_dir() == tmp_path
