"""The Compare page's tables, without Streamlit: runs grouped so that only like is ranked with like, and the
benchmark records beside the papers' numbers.

Two runs' metrics compare only when they were measured on the same rows: the same data, the same protocol (with
the options that choose the normal class or the outlier share) and the same test set (how many normal and how
many anomalous rows it holds). :func:`run_groups` cuts the listed runs into such groups and ranks each group on
its own; runs of different groups are never put in one ranking.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

#: the metric columns, shown first after the method (the page is read left to right, and these are the point)
METRICS = ("auroc", "auprc", "precision_at_10", "f1")
#: the columns of a group's table, in order
RUN_COLUMNS = ("method", *METRICS, "status", "seed", "fit_seconds", "created", "id", "error")
#: protocol options that do not change which rows are tested (a retraining's marks are listed on its run)
_QUIET_OPTIONS = ("marks",)


def method_title(method: Any) -> str:
    """The method's display title (``Deep SVDD``), or its name when the registry does not know it."""
    try:
        from odcore.models import registry

        return str(registry.info(str(method)).title)
    except Exception:  # noqa: BLE001 - an unknown or removed method keeps its name
        return str(method)


def _option_text(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(_option_text(x) for x in v)
    return f"{v:g}" if isinstance(v, float) else str(v)


def protocol_text(protocol: Any, options: Mapping[str, Any] | None) -> str:
    """``one-vs-rest (inlier_classes=0)``: the protocol with the options that decide its rows."""
    opts = {k: v for k, v in dict(options or {}).items() if k not in _QUIET_OPTIONS and v is not None}
    inner = ", ".join(f"{k}={_option_text(v)}" for k, v in sorted(opts.items()))
    return f"{protocol or '?'}" + (f" ({inner})" if inner else "")


def test_set_text(normal: Any, anomalous: Any, rows: Any = None) -> str:
    """``53 normal / 1,619 anomalous``, ``1,797 rows without labels``; what is known when the run did not record it
    (a run from before test sets were recorded, or one that ended before it was split)."""
    if isinstance(normal, int) and isinstance(anomalous, int):
        return f"{normal:,} normal / {anomalous:,} anomalous"
    if isinstance(rows, int):
        return f"{rows:,} rows without labels (no metrics)"
    return "not recorded"


def group_key(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """``(data, protocol, test set)`` of a listed run: runs with equal keys were tested on the same rows."""
    data = str(row.get("data_name") or row.get("data") or "?").split("/")[-1]
    return (data, protocol_text(row.get("protocol"), row.get("protocol_options")),
            test_set_text(row.get("test_normal"), row.get("test_anomalous"), row.get("test_rows")))


def group_title(key: tuple[str, str, str], n: int) -> str:
    """One line naming a group: its data, protocol and test set, and how many runs it holds."""
    data, protocol, test = key
    return f"{data} · protocol {protocol} · test set {test} · {n} run{'s' if n != 1 else ''}"


def short_time(value: Any) -> str:
    """``2026-12-07 22:31`` from an ISO time stamp (no seconds, no zone, no ``T``)."""
    text = str(value or "")
    m = re.match(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})", text)
    return f"{m.group(1)} {m.group(2)}" if m else text


def run_row(r: Mapping[str, Any]) -> dict[str, Any]:
    """A listed run as one row of a group's table (metrics as numbers: None where there are none)."""
    m = r.get("metrics") if isinstance(r.get("metrics"), dict) else {}
    row = {"method": method_title(r.get("method")), "status": r.get("status"), "seed": r.get("seed"),
           "fit_seconds": r.get("fit_seconds"), "created": short_time(r.get("created")),
           "id": str(r.get("id") or r.get("run_id")), "error": r.get("error")}
    for k in METRICS:
        v = m.get(k)
        row[k] = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v else None
    return row


def run_groups(rows: Iterable[Mapping[str, Any]]) -> list[tuple[tuple[str, str, str], pd.DataFrame]]:
    """The runs cut into ``(key, table)`` groups of equal :func:`group_key`, largest group first.

    Each table has :data:`RUN_COLUMNS` (plus the ``search`` columns after the status when given), finished runs
    ranked by AUROC (then AUPRC) within the group, the others after them.
    """
    by_key: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        extra = {k: r[k] for k in ("search", "searched values") if k in r}
        by_key.setdefault(group_key(r), []).append({**run_row(r), **extra})
    out = []
    for key, items in by_key.items():
        df = pd.DataFrame(items)
        cols = list(RUN_COLUMNS)
        at = cols.index("status") + 1  # a search's columns beside the status, in view (not after the error column)
        cols[at:at] = [c for c in ("search", "searched values") if c in df and (df[c] != "").any()]
        df = df.reindex(columns=cols)
        df = df.sort_values(["auroc", "auprc"], ascending=False, na_position="last", kind="stable")
        out.append((key, df.reset_index(drop=True)))
    out.sort(key=lambda kv: (-len(kv[1]), kv[0]))
    return out


# ------------------------------------------------------------------------------------------ benchmark records
_WORDS = {"kdd": "KDD Cup 99", "mnist": "MNIST", "adbench": "ADBench", "t2": "Table 2", "lf": "LF"}


def benchmark_of(file_name: str) -> str:
    """What a bench results file holds, in words: the paper table that writes it (``odcore reproduce``), else
    its name read as words (``waldo_kdd_latent_small_nu.json`` -> ``WALDO KDD Cup 99 latent small nu``)."""
    stem = Path(str(file_name)).stem
    try:
        from odcore.recipes import tables

        for t in tables.TABLES.values():
            for step in t.steps:
                for i, arg in enumerate(step[:-1]):
                    if arg in ("--json", "--out") and Path(step[i + 1]).stem == stem:
                        return t.paper
    except Exception:  # noqa: BLE001 - the words below still name it
        pass
    words = [_WORDS.get(w.lower()) or _title_of(w) for w in re.split(r"[_\-]+", stem) if w]
    return " ".join(words)


def _title_of(word: str) -> str:
    """A word of a file name in capitals when it names a registered method (``drocc`` -> ``DROCC``), else itself."""
    try:
        from odcore.models import registry

        return word.upper() if word.lower() in registry.available() else word
    except Exception:  # noqa: BLE001
        return word


def _paper_setting(records: pd.DataFrame) -> bool:
    """Whether these records ran a paper's own setting: a benchmark suite (``adbench_suite.json``) runs every
    detector under one generic protocol on its own copies of the files, so a paper's number is not its match."""
    return not any("suite" in str(f) for f in records.get("file", pd.Series(dtype=str)))


def bench_frame(records: Iterable[Mapping[str, Any]], paper_value) -> pd.DataFrame:
    """Mean ± std per (benchmark, dataset, method) over seeds, the papers' value beside each metric where a paper
    gives one; a "(paper)" column no row fills is left out. ``paper_value(dataset, method, metric)`` is
    :func:`odcore.recipes.paper.paper_value`. Records carry the results file they came from in ``file``."""
    df = pd.DataFrame(list(records))
    if df.empty:
        return df
    if "dataset" not in df:
        df["dataset"] = df["data"] if "data" in df else "?"
    if "data" in df:
        df["dataset"] = df["dataset"].fillna(df["data"])
    df["dataset"] = df["dataset"].fillna("?").astype(str)
    if "nu" in df:
        df["dataset"] = df["dataset"] + df["nu"].map(lambda v: "" if pd.isna(v) else f" (nu={v:g})")
    df["benchmark"] = df["file"].map(benchmark_of) if "file" in df else ""
    metrics = [m for m in METRICS if m in df]
    df = df[df[metrics].notna().any(axis=1)] if metrics else df.iloc[:0]
    out = []
    for (b, d, m), g in df.groupby(["benchmark", "dataset", "method"], sort=True):
        rec: dict[str, Any] = {"dataset": d, "method": m}
        for k in metrics:
            v = pd.to_numeric(g[k], errors="coerce").dropna()
            rec[k] = "" if v.empty else f"{v.mean():.3f} ± {0.0 if len(v) < 2 else v.std():.3f}"
            pv = paper_value(d, str(m).lower(), k) if _paper_setting(g) else None
            rec[f"{k} (paper)"] = "" if pv is None else f"{pv:.3f}"
        rec["seeds"], rec["benchmark"] = len(g), b  # last: the metrics come first, after the method
        out.append(rec)
    table = pd.DataFrame(out)
    empty = [c for c in table.columns if (table[c] == "").all()]
    return table.drop(columns=empty)
