"""File loaders, each on small files written here in the real format, then on the shared real files."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pandas as pd
import pytest

from odcore import data
from odcore.data.loaders import detect_format
from odcore.data.sources import KDD_COLUMNS, kdd_categories, load_kdd99
from odcore.errors import InputError

# ----------------------------------------------------------------------------- KDD Cup 99


def _kdd_row(proto="tcp", service="http", flag="SF", land=0, logged=1, host=0, guest=0, label="normal.", v=1):
    nums = [str(v)] * 41
    nums[1], nums[2], nums[3] = proto, service, flag
    nums[6], nums[11], nums[20], nums[21] = str(land), str(logged), str(host), str(guest)
    nums[24] = "0.50"
    return ",".join(nums + [label])


KDD_ROWS = [
    _kdd_row(),
    _kdd_row(proto="udp", service="private", flag="SF", logged=0, label="smurf.", v=2),
    _kdd_row(proto="icmp", service="ecr_i", flag="REJ", land=1, label="neptune.", v=3),
    _kdd_row(proto="tcp", service="smtp", flag="S0", guest=1, label="normal.", v=4),
]


@pytest.mark.parametrize("compress", [False, True])
def test_kdd99_raw_file_one_hot_and_labels(tmp_path, compress):
    text = "\n".join(KDD_ROWS) + "\n"
    path = tmp_path / ("kddcup.data_10_percent.gz" if compress else "kdd.data")
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    assert detect_format(path) == "kdd99"
    ds = data.load(path)
    # 34 numeric + protocol 3 + service 4 + flag 3 + land 2 + logged_in 2 + is_host_login 1 + is_guest_login 2
    assert ds.X.shape == (4, 34 + 3 + 4 + 3 + 2 + 2 + 1 + 2)
    np.testing.assert_array_equal(ds.y, [1, 0, 0, 1])  # normal. is the anomaly in the ALAD/WALDO protocol
    assert list(ds.classes) == ["normal.", "smurf.", "neptune.", "normal."]
    onehot = [i for i, n in enumerate(ds.feature_names) if n.startswith("protocol_type=")]
    assert ds.X[:, onehot].sum(axis=1).tolist() == [1, 1, 1, 1]
    assert ds.feature_names.index("protocol_type=udp") in onehot
    assert ds.X[1, ds.feature_names.index("protocol_type=udp")] == 1
    assert ds.X[0, ds.feature_names.index("serror_rate")] == pytest.approx(0.5)
    other = data.load(path, positive=["smurf.", "neptune."])
    np.testing.assert_array_equal(other.y, [0, 1, 1, 0])


def test_kdd99_categories_from_the_training_file(tmp_path):
    train = tmp_path / "train.data"
    train.write_text("\n".join(KDD_ROWS) + "\n")
    test = tmp_path / "test.data"
    test.write_text(_kdd_row(service="ftp", label="back.") + "\n" + _kdd_row() + "\n")
    cats = kdd_categories(train)
    ds_train = load_kdd99(train)
    ds_test = load_kdd99(test, categories=cats)
    assert ds_test.feature_names == ds_train.feature_names
    service = [i for i, n in enumerate(ds_test.feature_names) if n.startswith("service=")]
    assert ds_test.X[0, service].sum() == 0  # unseen category: all zeros
    assert ds_test.X[1, service].sum() == 1


def test_kdd99_wrong_field_count_is_refused(tmp_path):
    p = tmp_path / "bad.data"
    p.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(InputError, match="42 comma-separated"):
        data.load(p, format="kdd99")


# ----------------------------------------------------------------------------- MNIST IDX


def _idx(arr: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(np.uint8).tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_images_and_labels(tmp_path, compress):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(6, 28, 28)).astype(np.uint8)
    imgs[0, 0, 0] = 255
    labels = np.array([0, 1, 2, 0, 4, 4], dtype=np.uint8)
    suffix = ".gz" if compress else ""
    enc = gzip.compress if compress else (lambda b: b)
    (tmp_path / f"t10k-images-idx3-ubyte{suffix}").write_bytes(enc(_idx(imgs)))
    (tmp_path / f"t10k-labels-idx1-ubyte{suffix}").write_bytes(enc(_idx(labels)))
    path = tmp_path / f"t10k-images-idx3-ubyte{suffix}"
    assert detect_format(path) == "mnist"
    ds = data.load(path)
    assert ds.kind == "image" and ds.image_shape == (1, 28, 28) and ds.X.shape == (6, 784)
    np.testing.assert_allclose(ds.X, imgs.reshape(6, -1) / 255.0, atol=1e-6)
    assert ds.X.max() == 1.0 and ds.y is None
    np.testing.assert_array_equal(ds.classes, labels)
    ovr = data.load(path, inlier_classes=[4])
    np.testing.assert_array_equal(ovr.y, [1, 1, 1, 1, 0, 0])
    with pytest.raises(InputError, match="labels file"):
        data.load(tmp_path / f"t10k-labels-idx1-ubyte{suffix}")


def test_mnist_truncated_idx_is_refused(tmp_path):
    good = _idx(np.zeros((4, 28, 28), np.uint8))
    p = tmp_path / "x-images-idx3-ubyte"
    p.write_bytes(good[:-100])
    with pytest.raises(InputError, match="truncated"):
        data.load(p)


# ----------------------------------------------------------------------------- ODDS .mat, ADBench .npz


def test_odds_mat_v5(tmp_path):
    import scipy.io

    X = np.random.default_rng(0).normal(size=(20, 3))
    y = np.r_[np.zeros(18), np.ones(2)][:, None]
    p = tmp_path / "toy.mat"
    scipy.io.savemat(p, {"X": X, "y": y})
    assert detect_format(p) == "mat"
    ds = data.load(p)
    np.testing.assert_allclose(ds.X, X, rtol=1e-6)
    assert ds.y.tolist() == [0] * 18 + [1, 1]


def _write_mat73(path, X, y):
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        f["X"] = X.T  # MATLAB writes column-major: h5py sees (d, n)
        f["y"] = y.reshape(1, -1).astype(np.float64)
    with open(path, "r+b") as f:
        f.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 .")


def test_odds_mat_v73_through_h5py(tmp_path):
    X = np.arange(30, dtype=np.float64).reshape(10, 3)
    y = np.r_[np.zeros(9), 1.0]
    p = tmp_path / "big.mat"
    _write_mat73(p, X, y)
    ds = data.load(p)
    np.testing.assert_allclose(ds.X, X)
    assert ds.y.tolist() == [0] * 9 + [1]


def test_odds_mat_v73_without_h5py_says_so(tmp_path, monkeypatch):
    import sys

    p = tmp_path / "big.mat"
    _write_mat73(p, np.ones((4, 2)), np.array([0, 0, 0, 1.0]))
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(InputError, match="pip install h5py"):
        data.load(p)


def test_adbench_npz(tmp_path):
    X = np.random.default_rng(0).normal(size=(15, 4))
    y = np.r_[np.zeros(13), np.ones(2)]
    p = tmp_path / "adbench.npz"
    np.savez(p, X=X, y=y)
    ds = data.load(p)
    assert ds.X.shape == (15, 4) and ds.y.sum() == 2


def test_npz_with_python_objects_is_refused(tmp_path):
    p = tmp_path / "evil.npz"
    np.savez(p, X=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3))
    with pytest.raises(InputError, match="refused for safety"):
        data.load(p)


# ----------------------------------------------------------------------------- CSV / Parquet


def test_csv_features_label_and_one_hot(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,colour,label\n1,2.5,red,0\n2,3.5,blue,0\n3,1.5,red,1\n4,0.5,green,0\n")
    ds = data.load(p, label_column="label")
    assert ds.feature_names == ["a", "b", "colour=blue", "colour=green", "colour=red"]
    assert ds.y.tolist() == [0, 0, 1, 0]
    np.testing.assert_array_equal(ds.X[:, 2:].sum(axis=1), 1)
    sub = data.load(p, label_column="label", feature_columns=["b"])
    assert sub.feature_names == ["b"]


def test_csv_semicolon_gz_and_headerless(tmp_path):
    p = tmp_path / "semi.csv.gz"
    p.write_bytes(gzip.compress(b"x;y\n1,5;2\n3;4\n5;6\n"))  # ';' between fields, ',' in numbers: detected
    assert data.load(p).X[0].tolist() == [1.5, 2]
    assert data.load(p, decimal=",").X[0].tolist() == [1.5, 2]
    p.write_bytes(gzip.compress(b"x;y\n1.5;2\n3;4\n5;6\n"))
    ds = data.load(p)
    assert ds.X.shape == (3, 2) and ds.feature_names == ["x", "y"]
    q = tmp_path / "noheader.csv"
    q.write_text("1,2,3\n4,5,6\n7,8,9\n")
    ds = data.load(q)
    assert ds.X.shape == (3, 3) and ds.X[0].tolist() == [1, 2, 3]


def test_csv_positive_option_maps_text_labels(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("a,b,kind\n1,2,ok\n2,3,fraud\n3,4,ok\n")
    ds = data.load(p, label_column="kind", positive="fraud")
    assert ds.y.tolist() == [0, 1, 0] and list(ds.classes) == ["ok", "fraud", "ok"]


def test_weekly_rows_csv_keeps_ids_in_meta(tmp_path):
    weeks = pd.date_range("2020-01-06", periods=60, freq="7D").strftime("%Y-%m-%d")
    rng = np.random.default_rng(0)
    rows = []
    for market in ("north", "south"):
        for w in weeks:
            rows.append([market, w, *rng.integers(10, 50, 7)])
    df = pd.DataFrame(rows, columns=["market", "week", "mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    p = tmp_path / "weekly.csv"
    df.to_csv(p, index=False)
    ds = data.load(p, meta_columns=["market", "week"])
    assert ds.feature_names == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert list(ds.meta.columns) == ["market", "week"] and len(ds.meta) == 120
    assert ds.meta["market"].iloc[-1] == "south"
    # without options, a weekly-rows table is recognised: the days are features, the rest meta
    auto = data.load_bytes("weekly.csv", p.read_bytes())
    assert auto.feature_names == ds.feature_names and list(auto.meta.columns) == ["market", "week"]
    # other tables with an identifier column: refused as a category, with the fix
    df.rename(columns={"mon": "monday_sales"}).to_csv(p, index=False)
    with pytest.raises(InputError, match="meta_columns"):
        data.load(p)


def test_parquet_like_csv(tmp_path):
    df = pd.DataFrame({"a": np.arange(5.0), "b": np.arange(5) * 2, "shop": list("xxyyx"), "y": [0, 0, 0, 1, 0]})
    p = tmp_path / "t.parquet"
    df.to_parquet(p)
    assert detect_format(p) == "parquet"
    ds = data.load(p, label_column="y", meta_columns=["shop"])
    assert ds.feature_names == ["a", "b"] and ds.y.sum() == 1 and list(ds.meta["shop"]) == list("xxyyx")
    enc = data.load(p, label_column="y")
    assert "shop=x" in enc.feature_names


def test_load_bytes_upload(tmp_path):
    ds = data.load_bytes("my data.csv", b"a,b\n1,2\n3,4\n5,7\n")
    assert ds.X.shape == (3, 2) and ds.source == "upload: my data.csv"
    with pytest.raises(InputError, match="empty"):
        data.load_bytes("x.csv", b"")


# ----------------------------------------------------------------------------- pharmacy, abalone


def _pharma_text(days: pd.DatetimeIndex) -> str:
    cats = ["M01AB", "M01AE", "N02BA", "N02BE", "N05B", "N05C", "R03", "R06"]
    lines = ["datum;" + ";".join(cats) + ";Year;Month;Hour;Weekday Name"]
    for i, d in enumerate(days):
        vals = [f"{(i * (k + 1)) % 13 + 0.5:g}" for k in range(8)]
        lines.append(f"{d.month}/{d.day}/{d.year};" + ";".join(vals) + f";{d.year};{d.month};276;{d.day_name()}")
    return "\n".join(lines) + "\n"


def test_pharma_weekly_rows_from_a_small_file(tmp_path):
    days = pd.date_range("2014-01-02", "2014-01-29")  # Thu .. Wed: 3 whole weeks (Jan 6 - Jan 26)
    p = tmp_path / "salesdaily.csv"
    p.write_text(_pharma_text(days))
    assert detect_format(p) == "pharma"
    ds = data.load(p)
    assert ds.X.shape == (3 * 8, 7) and ds.y is None
    assert ds.feature_names == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert list(ds.meta.columns[:2]) == ["category", "week_start"]
    first = ds.meta.iloc[0]
    assert first["category"] == "M01AB" and pd.Timestamp(first["week_start"]) == pd.Timestamp("2014-01-06")
    # Monday 2014-01-06 is row 4 of the file (i = 4), category M01AB (k = 0)
    assert ds.X[0, 0] == pytest.approx(4 % 13 + 0.5)
    assert ds.X[1, 6] == pytest.approx((4 + 13) % 13 + 0.5)  # second week, Sunday 2014-01-19 (i = 17)
    ds2 = data.load(p, categories=["R03"])
    assert ds2.X.shape == (3, 7) and set(ds2.meta["category"]) == {"R03"}


def test_abalone_drocc_protocol_small_file(tmp_path):
    p = tmp_path / "abalone.data"
    rows = ["Sex,Length,Diam,Ht,WWt,SWt,VWt,Shell,Rings"]
    for sex, rings in [("M", 3), ("F", 8), ("I", 9), ("M", 10), ("F", 21), ("I", 5), ("M", 15)]:
        rows.append(f"{sex},0.4,0.3,0.1,0.5,0.2,0.1,0.15,{rings}")
    p.write_text("\n".join(rows) + "\n")
    assert detect_format(p) == "abalone"
    ds = data.load(p)
    assert ds.X.shape == (5, 8) and ds.y.tolist() == [1, 0, 0, 0, 1]
    assert ds.X[:, 0].tolist() == [0, 1, 2, 0, 1]
    plain = data.load(p, format="csv")  # plain CSV: sex one-hot, rings a feature
    assert plain.X.shape == (7, 3 + 8)


# ----------------------------------------------------------------------------- real shared files


def test_shared_kdd99_gives_121_features(shared_file):
    ds = data.load(shared_file("kddcup99/kddcup.data_10_percent.gz"))
    assert ds.X.shape == (494021, 121)
    assert abs(ds.y.mean() - 0.1969) < 1e-3


@pytest.mark.parametrize("rel,shape,share", [("odds/thyroid.mat", (3772, 6), 0.0247),
                                             ("odds/arrhythmia.mat", (452, 274), 0.1460),
                                             ("odds/cardio.mat", (1831, 21), 0.0961)])
def test_shared_odds_files(shared_file, rel, shape, share):
    ds = data.load(shared_file(rel))
    assert ds.X.shape == shape and abs(ds.y.mean() - share) < 1e-3


def test_shared_mnist(shared_file):
    ds = data.load(shared_file("mnist/t10k-images-idx3-ubyte.gz"))
    assert ds.X.shape == (10000, 784) and ds.image_shape == (1, 28, 28)
    assert 0 <= ds.X.min() and ds.X.max() <= 1 and len(ds.classes) == 10000


def test_shared_abalone(shared_file):
    ds = data.load(shared_file("uci_abalone/abalone.data"))
    raw = pd.read_csv(shared_file("uci_abalone/abalone.data"))
    assert ds.n_rows == raw["Rings"].isin([3, 21, 8, 9, 10]).sum()
    assert ds.y.sum() == raw["Rings"].isin([3, 21]).sum() and ds.n_features == 8


def test_shared_pharma_weekly(shared_file):
    path = shared_file("retail_pharma/salesdaily.csv")
    ds = data.load(path)
    assert ds.X.shape == (2400, 7) and ds.y is None
    assert ds.meta["category"].nunique() == 8 and ds.meta["week_start"].nunique() == 300
    raw = pd.read_csv(path, sep=";")
    raw["d"] = pd.to_datetime(raw["datum"], format="%m/%d/%Y")
    row = ds.meta.index[(ds.meta["category"] == "N02BE")][10]
    start = pd.Timestamp(ds.meta.loc[row, "week_start"])
    expect = raw.set_index("d").loc[start:start + pd.Timedelta(days=6), "N02BE"].to_numpy()
    np.testing.assert_allclose(ds.X[row], expect, rtol=1e-6)
    assert list(KDD_COLUMNS)[:2] == ["duration", "protocol_type"]
