"""Protocols: seeded splits of a Dataset into what a detector fits and what is scored.

Standardisation (z-score) is fitted on the rows ``fit`` sees only (for "pu": the labelled
inliers and the unlabelled mixture), constant columns keep scale 1. Images are not standardised
unless ``standardize=True``; tabular data are unless ``standardize=False``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from odcore.data.record import Dataset, Split
from odcore.data.scaling import Standardizer
from odcore.errors import InputError
from odcore.params import Declaration, Param

PROTOCOLS: dict[str, str] = {
    "unsupervised": "Stratified 70/30 split; fit on the contaminated training part, score the test part.",
    "novelty": "Fit on normal rows only; test on held-out normals (test_normal_share) plus every anomaly.",
    "one-vs-rest": "Classes in inlier_classes are normal, all others anomalies; then a novelty split.",
    "pu": "WALDO: labelled inliers X_pos plus an unlabelled mixture with outlier share nu; score the mixture.",
    "drocc": "DROCC: test = all anomalies + as many random normals; the other normals train.",
    "kdd-alad": "ALAD: 50/50 split; fit on the training half's normal (y=0) rows; score the other half.",
    "all": "Fit and score every row (for unlabelled data).",
}

#: every protocol option, declared once (type, range or choices, default, help); a protocol takes the ones
#: :data:`_TAKES` lists, plus ``standardize``. A new option: one Param line here and its name in _TAKES.
OPTIONS = Declaration.of(
    Param("standardize", None, "z-score features with training statistics (default: yes for tables, no for images)",
          kind="bool", optional=True),
    Param("test_size", 0.3, "share of rows held out for testing", low=0, high=1, low_open=True, high_open=True),
    Param("test_normal_share", 0.3, "share of the normal rows held out for testing", low=0, high=1, low_open=True,
          high_open=True),
    Param("inlier_classes", None, "original classes treated as normal (default: the smallest class value)",
          kind="values", optional=True),
    Param("train_on", "inliers", "'inliers' (train on normal rows only) or 'all' (contaminated 70/30 split)",
          kind="str", choices=("inliers", "all")),
    Param("nu", None, "outlier share of the unlabelled mixture (default: all remaining rows, natural share)",
          low=0, high=1, low_open=True, high_open=True, optional=True),
    Param("n_pos", None, "number of labelled inliers (default: pos_share of the inliers)", kind="int", low=1,
          optional=True),
    Param("pos_share", 0.2, "share of the inliers given as labelled positives when n_pos is not set", low=0, high=1,
          low_open=True, high_open=True),
    Param("pos_contamination", 0.0, "share of the labelled sample that is secretly outliers", low=0, high=1,
          high_open=True),
    Param("known_normal", None, "rows the analyst marks as known normal (the labelled inliers): 'before=YYYY-MM-DD', "
          "'COLUMN=v1|v2' or a 0/1 COLUMN of the table; every row is scored", kind="str", optional=True),
    Param("train_share", 0.5, "share of rows in the training half", low=0, high=1, low_open=True, high_open=True),
    Param("marks", None, "the analyst's marks a retraining uses (odcore.data.marks.option: expected rows are labelled "
          "inliers, confirmed rows labelled anomalies); written by `odcore train --marks` and the Retrain button",
          kind="json", optional=True),
)
_TAKES: dict[str, tuple[str, ...]] = {
    "unsupervised": ("test_size",),
    "novelty": ("test_normal_share",),
    "one-vs-rest": ("inlier_classes", "test_normal_share", "train_on"),
    "pu": ("nu", "n_pos", "pos_share", "pos_contamination", "inlier_classes", "known_normal", "marks"),
    "drocc": (),
    "kdd-alad": ("train_share",),
    "all": ("marks",),
}


def declaration(name: str) -> Declaration:
    """The declared options of protocol ``name`` (its own, then ``standardize``)."""
    _check_name(name)
    return OPTIONS.only((*_TAKES[name], "standardize"))


def protocol_defaults(name: str) -> dict[str, Any]:
    """Default options of a protocol (``standardize=None`` means: by data kind)."""
    return declaration(name).defaults()


def protocol_help(name: str) -> dict[str, str]:
    """One line of help per option of a protocol."""
    return declaration(name).help()


def check_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` of protocol ``name`` typed and checked by the declarations (text from a command line or a
    form is parsed; typed values are only checked); unknown options are refused with the valid ones."""
    decl = declaration(name)
    unknown = sorted(set(options) - set(decl.names()))
    if unknown:
        raise InputError(f"protocol {name!r} has no option(s) {', '.join(unknown)}; valid: {', '.join(decl.names())}")
    return decl.parse(options, f"protocol {name!r}")


def _check_name(name: str) -> None:
    if name not in PROTOCOLS:
        raise InputError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")


def clean_training(protocol: str, options: dict[str, Any] | None = None) -> bool:
    """True when ``protocol`` (with ``options``) fits on normal rows only: ``novelty``, ``kdd-alad``,
    ``drocc`` (its limited negatives are labelled) and ``one-vs-rest`` with ``train_on='inliers'``. Detectors
    may choose differently then (``Param.clean_default``: ``auto`` judges its candidates on held-out
    training rows, which only makes sense when those rows are normal)."""
    if protocol == "one-vs-rest":
        return str((options or {}).get("train_on", "inliers")) == "inliers"
    return protocol in ("novelty", "kdd-alad", "drocc")


def split(ds: Dataset, protocol: str, *, seed: int = 0, **options: Any) -> Split:
    """Split ``ds`` by ``protocol`` (see :data:`PROTOCOLS`), seeded by ``seed``."""
    opts = {**protocol_defaults(protocol), **check_options(protocol, options)}
    if opts["standardize"] is None:
        opts["standardize"] = ds.kind != "image"
    rng = np.random.default_rng(seed)
    sp = _SPLITTERS[protocol](ds, rng, opts)
    sp.options = {**opts, "seed": seed}
    return _finish(ds, sp, bool(opts["standardize"]))


# ----------------------------------------------------------------------------- helpers


def _need_labels(ds: Dataset, protocol: str, *, anomalies: bool = True) -> np.ndarray:
    if ds.y is None:
        raise InputError(f"the {protocol!r} protocol needs outlier labels, and {ds.name!r} has none; use the "
                         "'all' protocol for unlabelled data, or load it with a label column (label_column=)")
    if anomalies and ds.y.sum() == 0:
        raise InputError(f"{ds.name!r} has no labelled anomalies (every y is 0), so the {protocol!r} protocol "
                         "cannot test anything; use 'all', or 'one-vs-rest' when the data have classes")
    if anomalies and ds.y.sum() == len(ds.y):
        raise InputError(f"every row of {ds.name!r} is labelled an anomaly; check the label direction "
                         "(1 must mark outliers)")
    return ds.y


def _share(value: Any, name: str, *, low_open: bool = True) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in (0, 1), got {value!r}") from None
    if not (0.0 < v < 1.0) and not (not low_open and v == 0.0):
        raise InputError(f"{name} must lie {'in (0, 1)' if low_open else 'in [0, 1)'}, got {value!r}")
    return v


def _relabel(ds: Dataset, inlier_classes: Any, protocol: str) -> np.ndarray:
    if ds.classes is None:
        raise InputError(f"the {protocol!r} protocol with inlier_classes needs class labels, and {ds.name!r} has "
                         "none; load a multi-class set (digits, MNIST with its labels file, KDD)")
    classes = np.asarray(ds.classes)
    values = np.unique(classes)
    if inlier_classes is None:
        inlier_classes = [values[0]]
    elif isinstance(inlier_classes, str):
        inlier_classes = inlier_classes.split(",") if "," in inlier_classes else [inlier_classes]
    elif np.isscalar(inlier_classes):
        inlier_classes = [inlier_classes]
    wanted = []
    for c in inlier_classes:
        match = [v for v in values if v == c or str(v) == str(c).strip()]
        if not match:
            raise InputError(f"inlier class {c!r} does not occur in {ds.name!r}; the classes are "
                             f"{', '.join(map(str, values[:20]))}")
        wanted.append(match[0])
    y = (~np.isin(classes, wanted)).astype(np.int64)
    if y.sum() == 0:
        raise InputError("every class is an inlier class; leave at least one class as the anomalies")
    return y


def _novelty(y: np.ndarray, rng: np.random.Generator, test_normal_share: float) -> tuple[np.ndarray, np.ndarray]:
    normals = rng.permutation(np.flatnonzero(y == 0))
    n_test = int(round(len(normals) * test_normal_share))
    if n_test < 1 or n_test >= len(normals):
        raise InputError(f"with {len(normals)} normal rows, test_normal_share={test_normal_share} leaves no normal "
                         "row for training or for testing; change test_normal_share")
    train = np.sort(normals[n_test:])
    test = np.sort(np.r_[normals[:n_test], np.flatnonzero(y == 1)])
    return train, test


def _stratified(y: np.ndarray | None, n: int, rng: np.random.Generator, test_share: float):
    if y is None:
        perm = rng.permutation(n)
        k = int(round(n * test_share))
        return np.sort(perm[k:]), np.sort(perm[:k])
    tr, te = [], []
    for cls in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == cls))
        k = int(round(len(idx) * test_share))
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        te.append(idx[:k])
        tr.append(idx[k:])
    return np.sort(np.concatenate(tr)), np.sort(np.concatenate(te))


def _mk(protocol: str, X: np.ndarray, y: np.ndarray | None, train: np.ndarray, test: np.ndarray, notes: str,
        **kw: Any) -> Split:
    return Split(protocol=protocol, X_train=X[train], y_train=None if y is None else y[train], X_test=X[test],
                 y_test=None if y is None else y[test], train_index=train, test_index=test, notes=notes, **kw)


def _finish(ds: Dataset, sp: Split, standardize: bool) -> Split:
    if len(sp.train_index) == 0:
        raise InputError(f"the {sp.protocol!r} split of {ds.name!r} left no training rows")
    if len(sp.test_index) == 0:
        raise InputError(f"the {sp.protocol!r} split of {ds.name!r} left no test rows")
    if standardize:
        inside = sp.pos_index is not None and bool(np.isin(sp.pos_index, sp.train_index).all())
        fit_rows = sp.X_train if sp.X_pos is None or inside else np.vstack([sp.X_pos, sp.X_train])
        sp.scaler = Standardizer.fit(fit_rows)
        sp.X_train = sp.transform(sp.X_train)
        sp.X_test = sp.transform(sp.X_test)
        if sp.X_pos is not None:
            sp.X_pos = sp.transform(sp.X_pos)
    else:
        sp.X_train = np.ascontiguousarray(sp.X_train, dtype=np.float32)
        sp.X_test = np.ascontiguousarray(sp.X_test, dtype=np.float32)
    return sp


# ----------------------------------------------------------------------------- protocols


def _unsupervised(ds: Dataset, rng: np.random.Generator, o: dict[str, Any]) -> Split:
    test_size = _share(o["test_size"], "test_size")
    if ds.n_rows < 2:
        raise InputError("the 'unsupervised' protocol needs at least 2 rows")
    train, test = _stratified(ds.y, ds.n_rows, rng, test_size)
    strat = "stratified by label" if ds.y is not None else "random (no labels: nothing to evaluate)"
    return _mk("unsupervised", ds.X, ds.y, train, test,
               f"{len(train)} training rows (contaminated), {len(test)} test rows; {strat}.")


def _novelty_protocol(ds: Dataset, rng: np.random.Generator, o: dict[str, Any]) -> Split:
    y = _need_labels(ds, "novelty")
    train, test = _novelty(y, rng, _share(o["test_normal_share"], "test_normal_share"))
    return _mk("novelty", ds.X, y, train, test,
               f"{len(train)} normal training rows; test = {len(test) - int(y.sum())} held-out normals + "
               f"{int(y.sum())} anomalies.")


def _one_vs_rest(ds: Dataset, rng: np.random.Generator, o: dict[str, Any]) -> Split:
    y = _relabel(ds, o["inlier_classes"], "one-vs-rest")
    inl = sorted({str(c) for c in np.asarray(ds.classes)[y == 0]})
    if o["train_on"] == "all":
        train, test = _stratified(y, ds.n_rows, rng, 0.3)
        how = "contaminated 70/30 split"
    elif o["train_on"] == "inliers":
        train, test = _novelty(y, rng, _share(o["test_normal_share"], "test_normal_share"))
        how = "trained on inlier-class rows only"
    else:
        raise InputError(f"train_on must be 'inliers' or 'all', got {o['train_on']!r}")
    return _mk("one-vs-rest", ds.X, y, train, test,
               f"inlier classes {', '.join(inl)}; all other classes are anomalies; {how}: {len(train)} training "
               f"rows, {len(test)} test rows ({int(y[test].sum())} anomalies).")


def _pu(ds: Dataset, rng: np.random.Generator, o: dict[str, Any]) -> Split:
    """WALDO's positive-unlabelled setting: ``X_pos`` labelled inliers, ``X`` the unlabelled mixture.

    The mixture is scored transductively (``X_test`` is the same set), as the paper evaluates.
    """
    if o["known_normal"] is not None or o["marks"] is not None:
        return _pu_known_normal(ds, o["known_normal"], o["marks"])
    y = _relabel(ds, o["inlier_classes"], "pu") if o["inlier_classes"] is not None else _need_labels(ds, "pu")
    inliers = rng.permutation(np.flatnonzero(y == 0))
    outliers = rng.permutation(np.flatnonzero(y == 1))
    if o["n_pos"] is not None:
        try:
            n_pos = int(o["n_pos"])
        except (TypeError, ValueError):
            raise InputError(f"n_pos must be a whole number, got {o['n_pos']!r}") from None
    else:
        n_pos = int(round(_share(o["pos_share"], "pos_share") * len(inliers)))
    c = _share(o["pos_contamination"], "pos_contamination", low_open=False)
    n_pos_out = int(round(c * n_pos))
    n_pos_in = n_pos - n_pos_out
    if n_pos < 1 or n_pos_in >= len(inliers):
        raise InputError(f"n_pos={n_pos} labelled inliers is impossible with {len(inliers)} inliers: it must be at "
                         "least 1 and leave inliers for the unlabelled set")
    if n_pos_out >= len(outliers):
        raise InputError(f"pos_contamination={c} needs {n_pos_out} outliers in the labelled sample, but there are "
                         f"only {len(outliers)} outliers; lower pos_contamination")
    pos = np.r_[inliers[:n_pos_in], outliers[:n_pos_out]]
    rest_in = inliers[n_pos_in:]
    rest_out = outliers[n_pos_out:]
    if o["nu"] is None:
        n_in, n_out = len(rest_in), len(rest_out)
    else:
        nu = _share(o["nu"], "nu")
        n_in, n_out = len(rest_in), int(round(nu / (1.0 - nu) * len(rest_in)))
        if n_out > len(rest_out):  # not enough outliers: subsample the inliers instead
            n_out = len(rest_out)
            n_in = int(round(n_out * (1.0 - nu) / nu))
        if n_out < 1 or n_in < 1:
            raise InputError(f"nu={nu} is impossible with {len(rest_in)} unlabelled inliers and {len(rest_out)} "
                             "outliers left: the mixture would hold no outlier or no inlier; choose nu between "
                             f"{1.0 / (len(rest_in) + 1):.4f} and {len(rest_out) / (len(rest_out) + 1):.4f}")
    unl = np.sort(np.r_[rest_in[:n_in], rest_out[:n_out]])
    pos = np.sort(pos)
    sp = _mk("pu", ds.X, y, unl, unl,
             f"{len(pos)} labelled inliers (X_pos, {n_pos_out} of them secretly outliers); unlabelled mixture of "
             f"{len(unl)} rows with {n_out} outliers (nu = {n_out / max(len(unl), 1):.3f}); scored transductively.",
             X_pos=ds.X[pos], pos_index=pos)
    return sp


def _pu_known_normal(ds: Dataset, spec: str | None, marks: Any = None) -> Split:
    """PU with the analyst's marks: ``X_pos`` = the rows marked known normal
    (:func:`odcore.data.table.known_normal_mask`) and the rows marked *expected* (``marks``, see
    :mod:`odcore.data.marks`), less the rows marked *confirmed* (a confirmed anomaly is never a labelled
    inlier); the unlabelled mixture = the other rows, and every row scored (the Flagged rows page ranks
    them all); labels, when the data have them, only evaluate."""
    from odcore.data.table import known_normal_mask

    mask = np.zeros(ds.n_rows, dtype=bool)
    if spec is not None:
        mask |= np.asarray(known_normal_mask(ds.meta, spec), dtype=bool)
    what = [spec] if spec is not None else []
    marked = None
    if marks is not None:
        from odcore.data.marks import option_rows

        got = option_rows(ds, marks)
        mask[got.expected] = True
        mask[got.confirmed] = False
        marked = {"expected": got.expected, "confirmed": got.confirmed}
        what.append(f"{len(got.expected)} marked expected, {len(got.confirmed)} marked confirmed")
    pos, unl = np.flatnonzero(mask), np.flatnonzero(~mask)
    if len(pos) < 2 or len(unl) < 2:
        hint = ("mark at least 2 rows expected, or add known-normal rows (known_normal=before=YYYY-MM-DD)"
                if spec is None else "widen or narrow the filter")
        raise InputError(f"known normal rows ({'; '.join(what)}): {len(pos)} of {ds.n_rows} rows; WALDO needs at "
                         f"least 2 known-normal and 2 other rows: {hint}")
    idx = np.arange(ds.n_rows)
    return _mk("pu", ds.X, ds.y, unl, idx,
               f"{len(pos)} rows known normal ({'; '.join(what)}) are the labelled inliers X_pos; the other "
               f"{len(unl)} rows are the unlabelled mixture; all {ds.n_rows} rows are scored.", X_pos=ds.X[pos],
               pos_index=pos, marked=marked)


def _drocc(ds: Dataset, rng: np.random.Generator, o: dict[str, Any]) -> Split:
    y = _need_labels(ds, "drocc")
    normals = rng.permutation(np.flatnonzero(y == 0))
    anomalies = np.flatnonzero(y == 1)
    if len(normals) <= len(anomalies):
        raise InputError(f"the 'drocc' protocol tests on all {len(anomalies)} anomalies plus as many normals, but "
                         f"there are only {len(normals)} normals, leaving none to train; use 'novelty'")
    test = np.sort(np.r_[anomalies, normals[:len(anomalies)]])
    train = np.sort(normals[len(anomalies):])
    return _mk("drocc", ds.X, y, train, test,
               f"{len(train)} normal training rows; test = {len(anomalies)} anomalies + {len(anomalies)} normals "
               "(anomaly share 50%).")


def _kdd_alad(ds: Dataset, rng: np.random.Generator, o: dict[str, Any]) -> Split:
    y = _need_labels(ds, "kdd-alad")
    share = _share(o["train_share"], "train_share")
    perm = rng.permutation(ds.n_rows)
    k = int(round(ds.n_rows * share))
    half = perm[:k]
    train = np.sort(half[y[half] == 0])
    test = np.sort(perm[k:])
    return _mk("kdd-alad", ds.X, y, train, test,
               f"{share:.0%} training half: {len(train)} non-anomalous rows kept for fitting; test = the other "
               f"{len(test)} rows ({int(y[test].sum())} anomalies, {y[test].mean():.1%}). Flag the top 20%.")


def _all(ds: Dataset, rng: np.random.Generator, o: dict[str, Any]) -> Split:
    idx = np.arange(ds.n_rows)
    if o["marks"] is None:
        return _mk("all", ds.X, ds.y, idx, idx, f"fit and score all {ds.n_rows} rows.")
    from odcore.data.marks import option_rows

    got = option_rows(ds, o["marks"])
    y_marks = np.zeros(ds.n_rows, dtype=np.int64)  # fit learns from the confirmed rows, never from the data's labels
    y_marks[got.confirmed] = 1
    sp = _mk("all", ds.X, ds.y, idx, idx,
             f"fit and score all {ds.n_rows} rows; {len(got.expected)} rows marked expected (labelled inliers for "
             f"detectors that take them), {len(got.confirmed)} marked confirmed (labelled anomalies).",
             X_pos=ds.X[got.expected] if len(got.expected) else None,
             pos_index=got.expected if len(got.expected) else None,
             marked={"expected": got.expected, "confirmed": got.confirmed})
    sp.y_train = y_marks
    return sp


_SPLITTERS: dict[str, Callable[[Dataset, np.random.Generator, dict[str, Any]], Split]] = {
    "unsupervised": _unsupervised, "novelty": _novelty_protocol, "one-vs-rest": _one_vs_rest, "pu": _pu,
    "drocc": _drocc, "kdd-alad": _kdd_alad, "all": _all,
}
