"""Benchmark suites: every file x protocol x method x seed on the same splits, and their summary.

A :class:`Suite` is a plain declaration (files relative to the shared datasets folder, protocols,
methods, seeds, one parameter setting per method); the suites themselves are declared in
:mod:`odcore.recipes.suites` (declarations that name methods live there). ``odcore bench --suite NAME``
runs one through :func:`suite_cells` and :func:`odcore.runs.grid.run_grid` (so the local and Ray
engines give the same records) and writes :func:`markdown_report`.

Every method of a cell sees the same split: the split depends only on (file, protocol, seed).

The summary, per protocol: per-file AUROC (mean over seeds) of every method, the mean AUROC and
AUPRC over files, the total fit seconds, the average rank over files, Friedman's test and the
Nemenyi critical difference of the average ranks (Demšar, *Statistical comparisons of classifiers
over multiple data sets*, JMLR 7, 2006, section 3.2.2: ``CD = q_alpha sqrt(k (k + 1) / (6 N))``), and
the wins / ties / losses of chosen methods against every other one (a tie: per-file AUROC within
:data:`TIE`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from odcore.errors import InputError

#: per-file AUROC differences at most this large count as ties in the win / tie / loss table
TIE = 0.005


@dataclass(frozen=True)
class Suite:
    """A benchmark suite: ``files`` (paths relative to the shared datasets folder), ``protocols``,
    ``methods`` (registry names), ``seeds`` (0 .. seeds-1), ``params`` (one setting per method for the
    whole suite), ``versus`` (methods whose wins / ties / losses against the others are tabled)."""

    name: str
    files: tuple[str, ...]
    protocols: tuple[str, ...]
    methods: tuple[str, ...]
    seeds: int = 3
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    versus: tuple[str, ...] = ()
    description: str = ""


def resolve_files(suite: Suite, data_dir: str | Path | None = None) -> list[Path]:
    """The suite's files under ``data_dir`` (default: the shared datasets folder); missing files are
    refused together, with the folder and the fix."""
    from odcore.data import shared_data_dir

    root = Path(data_dir) if data_dir is not None else shared_data_dir()
    paths = [root / f for f in suite.files]
    missing = [str(p.relative_to(root)) for p in paths if not p.exists()]
    if missing:
        raise InputError(f"suite {suite.name!r}: {len(missing)} file(s) missing under {root}: {', '.join(missing[:5])}"
                         f"{' ...' if len(missing) > 5 else ''}; set ODCORE_DATA_DIR to the shared datasets folder")
    return paths


def label(path: str | Path) -> str:
    """The name a file goes by in the tables (its stem)."""
    return Path(path).stem


def suite_cells(suite: Suite, *, data_dir: str | Path | None = None, seeds: int | None = None,
                methods: list[str] | None = None, protocols: list[str] | None = None,
                params: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Grid cells (plain dicts, see :mod:`odcore.runs.grid`) for protocol x file x method x seed; ``params``
    (per method) change the suite's own setting of each method."""
    from odcore.runs.grid import grid_cells

    paths = resolve_files(suite, data_dir)
    methods = list(methods or suite.methods)
    cells = []
    for protocol in protocols or suite.protocols:
        for p in paths:
            for c in grid_cells([str(p)], methods, protocol, seeds=range(int(seeds or suite.seeds)),
                                params={m: {**suite.params.get(m, {}), **(params or {}).get(m, {})}
                                        for m in methods}):
                c["dataset"] = label(p)
                cells.append(c)
    return cells


# ---------------------------------------------------------------------------------- summary
def _table(records: list[dict], key: str) -> tuple[list[str], list[str], np.ndarray]:
    """(files, methods, values[file, method] = mean over seeds of ``key``), in first-seen order."""
    files = list(dict.fromkeys(r["dataset"] for r in records))
    methods = list(dict.fromkeys(r["method"] for r in records))
    V = np.full((len(files), len(methods)), np.nan)
    for i, f in enumerate(files):
        for j, m in enumerate(methods):
            vals = [r[key] for r in records if r["dataset"] == f and r["method"] == m and r.get(key) is not None]
            if vals:
                V[i, j] = float(np.mean(vals))
    return files, methods, V


def average_ranks(V: np.ndarray) -> np.ndarray:
    """Mean rank of each column over the rows (rank 1 = highest value; ties share their mean rank)."""
    from scipy.stats import rankdata

    return np.mean([rankdata(-row) for row in V], axis=0)


def critical_difference(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi's critical difference of average ranks for ``k`` methods on ``n`` data sets (Demšar 2006,
    eq. 5): ``q_alpha sqrt(k (k + 1) / (6 n))`` with ``q_alpha`` the studentised range quantile / sqrt 2."""
    from scipy.stats import studentized_range

    q = studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n)))


def friedman_p(V: np.ndarray) -> float | None:
    """p-value of Friedman's test that all columns rank alike over the rows (None below 3 columns / 2 rows)."""
    from scipy.stats import friedmanchisquare

    if V.shape[1] < 3 or V.shape[0] < 2:
        return None
    return float(friedmanchisquare(*V.T).pvalue)


def win_tie_loss(V: np.ndarray, a: int, b: int, tie: float = TIE) -> tuple[int, int, int]:
    """Files where column ``a`` beats / ties (within ``tie``) / loses to column ``b``."""
    d = V[:, a] - V[:, b]
    return int((d > tie).sum()), int((np.abs(d) <= tie).sum()), int((d < -tie).sum())


def summarize(records: list[dict], *, versus: tuple[str, ...] = ()) -> dict[str, Any]:
    """Per protocol: files, methods, per-file AUROC, means, fit seconds, ranks, Friedman p, CD and the
    win / tie / loss counts of ``versus`` against every other method (plain data for JSON and tables)."""
    out: dict[str, Any] = {}
    for protocol in dict.fromkeys(r["protocol"] for r in records):
        rs = [r for r in records if r["protocol"] == protocol]
        files, methods, auroc = _table(rs, "auroc")
        _, _, auprc = _table(rs, "auprc")
        _, _, fit = _table(rs, "fit_seconds")
        complete = ~np.isnan(auroc).any(axis=1)
        A = auroc[complete]
        seeds = len({r["seed"] for r in rs})
        summary = {"files": files, "methods": methods, "auroc": auroc.tolist(), "auprc": auprc.tolist(),
                   "seeds": seeds, "mean_auroc": np.nanmean(auroc, axis=0).tolist(),
                   "mean_auprc": np.nanmean(auprc, axis=0).tolist(),
                   "fit_seconds": (np.nansum(fit, axis=0) * seeds).tolist(),
                   "complete_files": int(complete.sum())}
        if A.shape[0] >= 2:
            summary["ranks"] = average_ranks(A).tolist()
            summary["friedman_p"] = friedman_p(A)
            summary["cd"] = critical_difference(len(methods), A.shape[0]) if len(methods) >= 2 else None
        wtl = {}
        for v in versus:
            if v in methods:
                a = methods.index(v)
                wtl[v] = {m: win_tie_loss(A, a, b) for b, m in enumerate(methods) if b != a}
        summary["win_tie_loss"] = wtl
        out[protocol] = summary
    return out


def markdown_report(records: list[dict], *, versus: tuple[str, ...] = (), title: str = "") -> str:
    """The suite's tables in Markdown (per protocol: per-file AUROC, means, ranks, CD, wins / ties / losses)."""
    summ = summarize(records, versus=versus)
    lines = [f"### {title}", ""] if title else []
    for protocol, s in summ.items():
        methods = s["methods"]
        best = int(np.nanargmax(s["mean_auroc"]))
        lines += [f"#### Protocol `{protocol}`: AUROC per file (mean over {s['seeds']} seeds)", "",
                  "| file | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
        for i, f in enumerate(s["files"]):
            row = s["auroc"][i]
            top = np.nanmax(row)
            cells = [("**%.3f**" if v == top else "%.3f") % v if v == v else "-" for v in row]
            lines.append(f"| {f} | " + " | ".join(cells) + " |")
        fmt = lambda vals, d=3: " | ".join(f"{v:.{d}f}" if v == v else "-" for v in vals)  # noqa: E731
        lines.append("| **mean AUROC** | " + " | ".join(
            ("**%.3f**" if j == best else "%.3f") % v for j, v in enumerate(s["mean_auroc"])) + " |")
        lines.append("| mean AUPRC | " + fmt(s["mean_auprc"]) + " |")
        if "ranks" in s:
            lines.append("| average rank | " + fmt(s["ranks"], 2) + " |")
        lines.append("| fit seconds (all files and seeds) | " + fmt(s["fit_seconds"], 0) + " |")
        lines.append("")
        if "ranks" in s and s.get("cd") is not None:
            p = s["friedman_p"]
            order = np.argsort(s["ranks"])
            friedman = f"Friedman p = {p:.2g}; " if p is not None else ""
            lines.append(f"Average ranks over {s['complete_files']} files (1 = best): "
                         + ", ".join(f"{methods[j]} {s['ranks'][j]:.2f}" for j in order)
                         + f". {friedman}Nemenyi critical difference (alpha 0.05) = {s['cd']:.2f}: "
                         "methods whose average ranks differ by less are not significantly different.")
            lines.append("")
        for v, counts in s["win_tie_loss"].items():
            lines.append(f"`{v}` against each method, per file (win / tie within {TIE} AUROC / loss): "
                         + ", ".join(f"{m} {w}/{t}/{lo}" for m, (w, t, lo) in counts.items()))
            lines.append("")
    return "\n".join(lines)


def run_suite(cells: list[dict[str, Any]], *, engine: str = "local", address: str | None = None,
              progress: Callable[[dict], None] | None = None) -> list[dict[str, Any]]:
    """Run the suite's cells (see :func:`odcore.runs.grid.run_grid`); records in cell order."""
    from odcore.runs.grid import run_grid

    return run_grid(cells, engine=engine, address=address, progress=progress)
