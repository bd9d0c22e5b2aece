"""Compare: stored runs side by side, and benchmark tables with the papers' numbers beside ours."""

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from odcore import plots
from odcore.recipes import paper
from ui import runs, state, widgets

widgets.intro("Compare", "Runs from the store, filterable, side by side: final metrics and per-epoch curves. "
              "Below, benchmark tables written by `python -m odcore bench --json` with the papers' numbers "
              "beside ours — where we fall short, the gap is shown, not hidden.")



@st.cache_data(show_spinner=False, max_entries=4096)
def search_of(run_id: str, status: str) -> tuple[str, str]:
    """``(search id, searched values)`` of a trial of a parameter search (``odcore tune`` tags its runs
    with ``tune``), else ``("", "")``; ``status`` keys the cache (a trial's record changes as it ends)."""
    try:
        tag = state.store().get(run_id).config.get("tune") or {}
    except Exception:  # noqa: BLE001 - a damaged run shows without its search
        return "", ""
    values = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                       for k, v in (tag.get("values") or {}).items())
    return str(tag.get("id") or ""), values


all_runs = runs.visible_runs()  # this session's runs and the shared demo runs (damaged ones say why)
if not all_runs:
    st.info("No runs in the store yet. Train one on the **Train** page.")
else:
    rows = []
    for r in all_runs:
        m = r.get("metrics") or {}
        rows.append({"id": runs.run_id_of(r), "method": r.get("method"), "data": r.get("data_name") or r.get("data"),
                     "protocol": r.get("protocol"), "status": r.get("status"), "seed": r.get("seed"),
                     "created": r.get("created"), "auroc": m.get("auroc"), "auprc": m.get("auprc"),
                     "precision_at_10": m.get("precision_at_10"), "f1": m.get("f1"),
                     "fit_seconds": r.get("fit_seconds"), "error": r.get("error")})
        rows[-1]["search"], rows[-1]["searched values"] = search_of(rows[-1]["id"], str(r.get("status")))
    table = pd.DataFrame(rows)
    searches = sorted(v for v in table["search"].unique() if v)
    if searches:  # a search's trials are told apart by what they tried: show it beside the status
        cols = [c for c in table.columns if c not in ("search", "searched values")]
        at = cols.index("status") + 1
        table = table[cols[:at] + ["search", "searched values"] + cols[at:]]
    if searches:
        n = int((table["search"] != "").sum())
        st.caption(f"{n} of these runs are trials of {len(searches)} parameter search(es) (`odcore tune`): the "
                   "**search** column names the search, **searched values** what the trial tried; a trial stopped "
                   "early by the scheduler is *cancelled*.")
    c1, c2, c3, c4 = st.columns(4)
    fm = c1.multiselect("method", sorted(table["method"].dropna().unique()), key="cmp_method")
    fd = c2.multiselect("data", sorted(table["data"].dropna().astype(str).unique()), key="cmp_data")
    fs = c3.multiselect("status", sorted(table["status"].dropna().unique()), key="cmp_status")
    ft = c4.multiselect("search", searches, key="cmp_search", disabled=not searches,
                        help="trials of a parameter search (odcore tune)")
    view = table
    for col, vals in (("method", fm), ("data", fd), ("status", fs), ("search", ft)):
        if vals:
            view = view[view[col].astype(str).isin([str(v) for v in vals])]
    event = st.dataframe(view, hide_index=True, on_select="rerun", selection_mode="multi-row", key="cmp_table",
                         height=300)
    chosen = [view.iloc[i]["id"] for i in (event.selection.rows if event is not None else [])]
    if not chosen:
        st.caption("Select runs in the table to compare their curves.")
    else:
        hist = {f"{table.set_index('id').loc[i, 'method']} · {i}": runs.history(i) for i in chosen}
        keys = sorted({k for h in hist.values() for rec in h for k, v in rec.items()
                       if isinstance(v, (int, float)) and k not in ("epoch", "epochs", "seconds", "lr")})
        if keys:
            key = st.selectbox("curve", keys, index=keys.index("val_auprc") if "val_auprc" in keys else 0,
                               key="cmp_curve")
            st.plotly_chart(plots.compare_curves(hist, key), key="cmp_curves")
        else:
            st.caption("The selected runs have no per-epoch history (classical methods).")

st.subheader("Benchmark tables")


@st.cache_data(show_spinner=False, max_entries=4)
def read_records(stamps: tuple) -> list[dict]:
    """Records of every bench JSON file; ``stamps`` (path, mtime) pairs key the cache."""
    records = []
    for name, _ in stamps:
        try:
            data = json.loads(Path(name).read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, list):
            records += [dict(r, file=Path(name).name) for r in data if isinstance(r, dict) and "method" in r]
    return records


files = sorted(Path("bench/results").glob("*.json")) + sorted(Path("runs").glob("*.json"))
records = read_records(tuple((str(f), f.stat().st_mtime) for f in files))


@st.cache_data(show_spinner=False, max_entries=4)
def bench_table(records: list[dict]) -> pd.DataFrame:
    """Mean ± std per (dataset, method) over seeds, the papers' value beside each metric."""
    df = pd.DataFrame(records)
    if "dataset" not in df:
        df["dataset"] = df.get("data", "?")
    df["dataset"] = df["dataset"].fillna(df.get("data", "?")).astype(str)
    if "nu" in df:
        df["dataset"] = df["dataset"] + df["nu"].map(lambda v: "" if pd.isna(v) else f" (nu={v:g})")
    metrics = [m for m in ("auroc", "auprc", "precision_at_10", "f1") if m in df]
    out = []
    for (d, m), g in df.groupby(["dataset", "method"]):
        rec = {"dataset": d, "method": m, "seeds": len(g)}
        for k in metrics:
            v = pd.to_numeric(g[k], errors="coerce")
            rec[k] = f"{v.mean():.3f} ± {0.0 if len(v) < 2 else v.std():.3f}"
            pv = paper.paper_value(d, str(m).lower(), k)
            rec[f"{k} (paper)"] = "" if pv is None else f"{pv:.3f}"
        out.append(rec)
    return pd.DataFrame(out)


if records:
    widgets.guarded(lambda: st.dataframe(bench_table(records), hide_index=True))
    st.caption("From " + ", ".join(sorted({r["file"] for r in records})))
else:
    st.caption("No benchmark records yet: `python -m odcore bench --data ... --methods ... --json "
               "bench/results/<name>.json` writes them.")
with st.expander("The papers' numbers"):
    st.dataframe(paper.table(), hide_index=True)
