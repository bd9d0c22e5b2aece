"""Named benchmark sources: KDD Cup 99 raw, MNIST IDX images, the Kaggle pharmacy daily-sales file
and UCI abalone with the DROCC protocol.

Each turns one known file layout into a :class:`~odcore.data.record.Dataset` with the paper's
preprocessing, on top of the generic readers in :mod:`odcore.data.formats`. :func:`sniff` tells
:func:`odcore.data.loaders.detect_format` which of them a text file looks like.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from odcore.data import limits
from odcore.data.files import opened
from odcore.data.formats import WEEKDAYS, Source, as_list, open_text, read_head, read_idx, refuse_unknown_options
from odcore.data.record import Dataset
from odcore.data.validate import check_finite, check_rows
from odcore.errors import InputError


def sniff(name: str, first_line: str) -> str | None:
    """The named text source a file looks like (``pharma``, ``abalone``, ``kdd99``), or None.

    ``name`` is the lower-case file name, ``first_line`` the first line of its (decompressed) text.
    """
    if first_line.startswith("datum;") and "Weekday Name" in first_line:
        return "pharma"
    if "abalone" in name and first_line.replace(" ", "").lower().startswith(("sex,", "m,", "f,", "i,")):
        return "abalone"
    fields = first_line.split(",")
    if len(fields) == 42 and fields[-1].strip().endswith(".") and not fields[-1].strip()[:-1].isdigit():
        return "kdd99"
    return None


# ----------------------------------------------------------------------------- KDD Cup 99

KDD_COLUMNS = (
    "duration", "protocol_type", "service", "flag", "src_bytes", "dst_bytes", "land", "wrong_fragment",
    "urgent", "hot", "num_failed_logins", "logged_in", "num_compromised", "root_shell", "su_attempted",
    "num_root", "num_file_creations", "num_shells", "num_access_files", "num_outbound_cmds",
    "is_host_login", "is_guest_login", "count", "srv_count", "serror_rate", "srv_serror_rate",
    "rerror_rate", "srv_rerror_rate", "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate",
    "dst_host_count", "dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
    "dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
    "dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate",
)
#: the 7 categorical columns one-hot encoded (ALAD / WALDO preprocessing)
KDD_CATEGORICAL = ("protocol_type", "service", "flag", "land", "logged_in", "is_host_login", "is_guest_login")


def kdd_categories(path: Source) -> dict[str, list[str]]:
    """The categories of the 7 categorical KDD columns in a (training) file, sorted."""
    import pandas as pd

    with open_text(path, sep=",") as fh:
        df = pd.read_csv(fh, header=None, names=[*KDD_COLUMNS, "label"], usecols=list(KDD_CATEGORICAL), dtype=str)
    return {c: sorted(df[c].str.strip().unique().tolist()) for c in KDD_CATEGORICAL}


def load_kdd99(path: Source, *, positive: str | Sequence[str] = "normal.",
               categories: dict[str, Sequence[str]] | None = None, max_rows: int | None = None,
               **options: Any) -> Dataset:
    """KDD Cup 99 raw file (``kddcup.data_10_percent`` gz or plain): 41 columns + label, no header.

    The 7 categorical columns are one-hot encoded with the categories found in this (training)
    file, or with ``categories`` (from :func:`kdd_categories` of the training file) so a test file
    gets the same columns; unseen categories become all-zero. The 10% file gives 34 numeric + 87
    one-hot = 121 features. ``classes`` holds the label names (``smurf.``, ``normal.`` ...).

    ``y = 1`` marks ``positive`` (default ``"normal."``): in the ALAD and WALDO protocols the
    ``normal.`` traffic is the minority (19.7%) and plays the *anomaly*; pass e.g.
    ``positive=["smurf.", "neptune."]`` for another choice.
    """
    refuse_unknown_options("load_kdd99", options)
    with opened(path) as p:
        return _load_kdd99(p, positive, categories, max_rows)


def _load_kdd99(p: Any, positive: str | Sequence[str], categories: dict[str, Sequence[str]] | None,
                max_rows: int | None) -> Dataset:
    import pandas as pd

    head = read_head(p).decode("utf-8", errors="replace").splitlines()
    if head and len(head[0].split(",")) != 42:
        raise InputError(f"{p.name}: a KDD Cup 99 row has 41 features and a label (42 comma-separated "
                         f"fields); the first line has {len(head[0].split(','))}. Is this the raw KDD file?")
    dtypes = {c: "category" for c in KDD_CATEGORICAL} | {"label": "category"}
    lim = limits.active()
    cap = lim.max_rows + 1 if lim.max_rows is not None else None
    nrows = cap if max_rows is None else (max_rows if cap is None else min(max_rows, cap))
    try:
        with open_text(p, sep=",", lim=lim) as fh:
            df = pd.read_csv(fh, header=None, names=[*KDD_COLUMNS, "label"], dtype=dtypes, nrows=nrows)
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"{p.name}: not a valid KDD Cup 99 file ({str(exc).splitlines()[0][:100]}); each row "
                         "must have 41 features and a label") from None
    lim.check_shape(p.name, len(df), len(KDD_COLUMNS) + 1, at_least=True)
    check_rows(len(df), p.name)
    numeric_cols = [c for c in KDD_COLUMNS if c not in KDD_CATEGORICAL]
    if df.isna().any().any():
        raise InputError(f"{p.name}: some rows have fewer than 42 fields or empty values; "
                         "the raw KDD file has 41 features and a label on every row")
    bad = [c for c in numeric_cols if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise InputError(f"{p.name}: column(s) {', '.join(bad[:5])} must be numeric; the file is not raw KDD Cup 99 "
                         "data or is damaged")

    def codes_of(col: str, cats: Sequence[str]) -> np.ndarray:
        """Row codes into ``cats`` (-1 for a category the training file lacks), via the few distinct values."""
        c = df[col].cat
        per_value = pd.Index(list(cats)).get_indexer([str(v).strip() for v in c.categories])
        return np.where(c.codes >= 0, per_value[c.codes], -1)

    width = len(numeric_cols)
    chosen: dict[str, list[str]] = {}
    for col in KDD_CATEGORICAL:
        found = sorted({str(v).strip() for v in df[col].cat.categories})
        chosen[col] = list(categories[col]) if categories and col in categories else found
        width += len(chosen[col])
    X = np.zeros((len(df), width), dtype=np.float32)
    names: list[str] = []
    rows = np.arange(len(df))
    for col in KDD_COLUMNS:
        j = len(names)
        if col in KDD_CATEGORICAL:
            codes = codes_of(col, chosen[col])
            ok = codes >= 0
            X[rows[ok], j + codes[ok]] = 1.0
            names.extend(f"{col}={c}" for c in chosen[col])
        else:
            X[:, j] = df[col].to_numpy(np.float32)
            names.append(col)
    check_finite(X, names, p.name)
    label_cats = np.array([str(v).strip() for v in df["label"].cat.categories], dtype=object)
    labels = label_cats[df["label"].cat.codes.to_numpy()]
    pos = [positive] if isinstance(positive, str) else list(positive)
    y = np.isin(labels, pos).astype(np.int64)
    n_num = len(numeric_cols)
    return Dataset(
        name=p.name.split(".")[0], X=X, y=y, feature_names=names, source=p.path, classes=labels,
        notes=f"KDD Cup 99: {len(df):,} connections, {n_num} numeric + {X.shape[1] - n_num} one-hot features. "
              f"y=1 marks {', '.join(pos)} ({y.mean():.2%}): in the ALAD/WALDO protocol normal traffic is the "
              "minority and plays the anomaly. Use the kdd-alad protocol for ALAD's table.")


# ----------------------------------------------------------------------------- MNIST IDX


def _labels_path_for(images: Path) -> Path | None:
    name = images.name
    for a, b in (("images-idx3", "labels-idx1"), ("images.idx3", "labels.idx1"), ("images", "labels")):
        if a in name:
            for cand in (name.replace(a, b), name.replace(a, b).removesuffix(".gz"),
                         name.replace(a, b) + ".gz"):
                if (images.parent / cand).exists():
                    return images.parent / cand
    return None


def load_mnist(path: Source, *, labels: str | os.PathLike | None = None, inlier_classes: Any = None,
               max_rows: int | None = None, **options: Any) -> Dataset:
    """MNIST-style IDX images (gz or plain), values scaled to [0, 1], as flattened (1, H, W) images.

    The labels file is found beside the images file (``...images-idx3...`` -> ``...labels-idx1...``)
    or given as ``labels``; its digits go to ``classes``. ``y`` is None unless ``inlier_classes``
    is given (then 1 for every other class).
    """
    from odcore.data.builtins import _one_vs_rest_labels

    refuse_unknown_options("load_mnist", options)
    with opened(path) as f:
        arr = read_idx(f)
    p = Path(f.path)
    if arr.ndim == 1:
        raise InputError(f"{p.name} is a labels file; pass the images file (…images-idx3-ubyte…) instead")
    if arr.ndim not in (3, 4):
        raise InputError(f"{p.name}: expected images of shape (n, H, W), found {arr.shape}")
    if max_rows is not None:
        arr = arr[:max_rows]
    n = arr.shape[0]
    check_rows(n, p.name)
    shape = (1, arr.shape[1], arr.shape[2]) if arr.ndim == 3 else (arr.shape[3], arr.shape[1], arr.shape[2])
    if arr.ndim == 4:  # (n, H, W, C) -> channels first
        arr = arr.transpose(0, 3, 1, 2)
    X = arr.reshape(n, -1).astype(np.float32)
    if arr.dtype == np.uint8:
        X /= 255.0
    lab_path = Path(labels) if labels is not None else _labels_path_for(p)  # opened through the policy in force
    classes = None
    if lab_path is not None:
        classes = read_idx(lab_path).astype(np.int64)
        if max_rows is not None:
            classes = classes[:max_rows]
        if classes.ndim != 1 or len(classes) != n:
            raise InputError(f"{lab_path.name}: {classes.shape} labels for {n} images; pass the matching labels "
                             "file")
    elif inlier_classes is not None:
        raise InputError(f"{p.name}: inlier_classes needs the labels file; pass labels=<...labels-idx1-ubyte.gz>")
    y = _one_vs_rest_labels(classes, inlier_classes) if classes is not None else None
    h, w = shape[1], shape[2]
    return Dataset(
        name=p.name.split(".")[0].replace("-idx3-ubyte", ""), X=X, y=y, kind="image", image_shape=shape,
        feature_names=[f"px{i}" for i in range(X.shape[1])], source=str(p), classes=classes,
        notes=f"{n:,} {h}x{w} images in [0, 1]" + ("" if classes is not None else " (no labels file found)")
              + ". Use the one-vs-rest protocol with inlier_classes.")


# ----------------------------------------------------------------------------- pharmacy / abalone


def load_pharma(path: Source, *, categories: Iterable[str] | None = None, **options: Any) -> Dataset:
    """The Kaggle pharmacy daily-sales file (``salesdaily.csv``) as weekly rows.

    Semicolon-separated, ``datum`` in m/d/Y, one column per drug category (ATC codes). Returns
    one row per (category, whole Monday-to-Sunday week) with features ``mon..sun``; partial weeks
    at the ends are dropped (300 weeks x 8 categories = 2,400 rows for the shared file). ``meta``
    holds ``category``, ``week_start`` and ``week``. No labels: the WALDO weekend rule does not fit
    this pharmacy (12-46% of its weeks follow it), so the rows are real, unlabelled data.
    """
    import pandas as pd

    refuse_unknown_options("load_pharma", options)
    try:
        with opened(path) as p, open_text(p, sep=";") as fh:
            df = pd.read_csv(fh, sep=";")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"{p.name}: cannot read the pharmacy file ({str(exc).splitlines()[0][:100]})") from None
    limits.active().check_shape(p.name, len(df), df.shape[1])
    if "datum" not in df.columns:
        raise InputError(f"{p.name}: the pharmacy file needs a 'datum' column (m/d/Y dates) and one column per "
                         f"category, separated by ';'; found columns {list(df.columns)[:10]}")
    try:
        dates = pd.to_datetime(df["datum"], format="%m/%d/%Y")
    except (ValueError, TypeError) as exc:
        raise InputError(f"{p.name}: the datum column must hold m/d/Y dates ({exc})") from None
    skip = {"datum", "Year", "Month", "Hour", "Weekday Name"}
    cats = [c for c in df.columns if c not in skip]
    if categories is not None:
        wanted = as_list(categories)
        missing = [c for c in wanted if c not in cats]
        if missing:
            raise InputError(f"{p.name}: categories {missing} not found; the categories are {cats}")
        cats = wanted
    values = df[cats].apply(pd.to_numeric, errors="coerce")
    check_finite(values.to_numpy(np.float64), cats, p.name)
    dates = dates.dt.normalize()
    if dates.duplicated().any():
        raise InputError(f"{p.name}: some dates occur twice; give one row per day")
    dow = dates.dt.day_of_week.to_numpy()
    week_start = (dates - pd.to_timedelta(dow, unit="D")).to_numpy()
    frame = pd.DataFrame(values.to_numpy(np.float64), columns=cats)
    frame["week_start"] = week_start
    frame["dow"] = dow
    full = frame.groupby("week_start")["dow"].transform("nunique") == 7
    frame = frame[full.to_numpy()]
    check_rows(len(frame), f"{p.name} (whole weeks)")
    weeks = np.sort(frame["week_start"].unique())
    long = frame.melt(id_vars=["week_start", "dow"], value_vars=cats, var_name="category", value_name="v")
    wide = long.pivot_table(index=["category", "week_start"], columns="dow", values="v", aggfunc="first")
    wide = wide.reindex(pd.MultiIndex.from_product([cats, weeks], names=["category", "week_start"]))
    X = wide.to_numpy(np.float64)
    meta = pd.DataFrame({"category": wide.index.get_level_values(0).astype(str),
                         "week_start": wide.index.get_level_values(1),
                         "week": np.tile(np.arange(len(weeks)), len(cats))})
    return Dataset(
        name="pharma-weekly", X=X, y=None, feature_names=list(WEEKDAYS), source=p.path, meta=meta,
        notes=f"Real pharmacy sales: {len(weeks)} whole weeks x {len(cats)} drug categories = {len(X):,} weekly rows "
              "(7 daily values, Mon..Sun). Unlabelled: the WALDO weekend rule does not fit this shop; use the "
              "'all' protocol and read the flagged rows.")


_ABALONE_COLUMNS = ("Sex", "Length", "Diam", "Ht", "WWt", "SWt", "VWt", "Shell", "Rings")
_SEX_CODES = {"M": 0, "F": 1, "I": 2}


def load_abalone(path: Source, *, anomaly_rings: Sequence[int] = (3, 21),
                 normal_rings: Sequence[int] = (8, 9, 10), **options: Any) -> Dataset:
    """UCI abalone with the DROCC protocol: rings 3 and 21 anomalous, 8/9/10 normal, others dropped.

    Sex is encoded M=0, F=1, I=2 (one column, as the DROCC reference does); the 7 measurements
    follow. ``classes`` holds the number of rings. Works with or without the header line.
    """
    import pandas as pd

    refuse_unknown_options("load_abalone", options)
    with opened(path) as p:
        first = read_head(p, 256).decode("utf-8", errors="ignore").splitlines()[0:1]
        has_header = bool(first) and first[0].split(",")[0].strip() not in _SEX_CODES
        try:
            with open_text(p, sep=",") as fh:
                df = pd.read_csv(fh, header=0 if has_header else None, skipinitialspace=True)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"{p.name}: cannot read the abalone file ({str(exc).splitlines()[0][:100]})") from None
    limits.active().check_shape(p.name, len(df), df.shape[1])
    if df.shape[1] != 9:
        raise InputError(f"{p.name}: abalone rows have 9 fields (Sex, 7 measurements, Rings); found {df.shape[1]}")
    df.columns = list(_ABALONE_COLUMNS)
    sex = df["Sex"].astype(str).str.strip().map(_SEX_CODES)
    if sex.isna().any():
        raise InputError(f"{p.name}: Sex must be M, F or I; found {sorted(df['Sex'][sex.isna()].unique())[:5]}")
    rings = pd.to_numeric(df["Rings"], errors="coerce").to_numpy()
    keep = np.isin(rings, list(anomaly_rings)) | np.isin(rings, list(normal_rings))
    X = np.column_stack([sex.to_numpy(np.float64), df[list(_ABALONE_COLUMNS[1:8])].to_numpy(np.float64)])[keep]
    check_finite(X, list(_ABALONE_COLUMNS[:8]), p.name)
    y = np.isin(rings[keep], list(anomaly_rings)).astype(np.int64)
    check_rows(len(y), p.name)
    return Dataset(
        name="abalone", X=X, y=y, feature_names=["sex", *[c.lower() for c in _ABALONE_COLUMNS[1:8]]],
        source=p.path, classes=rings[keep].astype(np.int64),
        notes=f"UCI abalone, DROCC protocol: rings {tuple(anomaly_rings)} anomalous ({int(y.sum())}), rings "
              f"{tuple(normal_rings)} normal ({int((y == 0).sum())}), {int((~keep).sum())} other rows dropped; "
              "sex encoded M=0, F=1, I=2. Use the drocc protocol for DROCC's Table 2.")
