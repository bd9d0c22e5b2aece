"""Compare: stored runs grouped by what they were tested on, and benchmark tables with the papers' numbers."""

import json
from pathlib import Path

import streamlit as st

from odcore import plots
from odcore.recipes import paper
from ui import compare, runs, state, widgets

widgets.intro("Compare", "Runs from the store, grouped by what they were tested on: the same data, protocol and "
              "test set. Metrics rank runs within a group only; across groups the rows differ, so the numbers do not "
              "compare. Below, benchmark tables with the papers' numbers beside ours — where we fall short, the gap "
              "is shown, not hidden.")


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


def _curves(key: tuple, table) -> None:
    """Every run of one group: ROC / PR of its test set, and a per-epoch quantity (runs without epochs as a level)."""
    done = table[table["status"] == "done"]
    names = {rid: f"{m} · {rid}" for rid, m in zip(done["id"], done["method"])}
    scored = {}
    for rid, name in names.items():
        df = widgets.guarded(lambda rid=rid: runs.scores(rid))
        if df is not None and "label" in df and df["label"].notna().all():
            scored[name] = (df["label"].to_numpy(), df["score"].to_numpy())
    if scored:
        st.plotly_chart(plots.compare_roc(scored), key="cmp_roc")
    hist = {names[rid]: runs.history(rid) for rid in names}
    keys = sorted({k for h in hist.values() for rec in h for k, v in rec.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)
                   and k not in ("epoch", "epochs", "phase_epoch", "seconds", "lr")})
    if keys:
        curve = st.selectbox("per-epoch curve", keys, index=keys.index("val_auroc") if "val_auroc" in keys else 0,
                             key="cmp_curve")
        final = curve.removeprefix("val_")  # the test-set metric a run without epochs ends with
        levels = {names[rid]: v for rid, v in zip(done["id"], done[final] if final in done else [None] * len(done))
                  if not hist[names[rid]] and v is not None and v == v}
        st.plotly_chart(plots.compare_curves({n: h for n, h in hist.items() if h}, curve, finals=levels),
                        key="cmp_curves")
        left = [n for n, h in hist.items() if not h and n not in levels]
        if left:
            st.caption("No per-epoch values of this quantity (fitted in one go): " + ", ".join(left))


all_runs = runs.visible_runs()  # this session's runs and the shared demo runs (damaged ones say why)
if not all_runs:
    st.info("No runs in the store yet. Train one on the **Train** page.")
else:
    for r in all_runs:
        r["search"], r["searched values"] = search_of(runs.run_id_of(r), str(r.get("status")))
    searches = sorted({r["search"] for r in all_runs if r["search"]})
    if searches:
        n = sum(1 for r in all_runs if r["search"])
        st.caption(f"{n} of these runs are trials of {len(searches)} parameter search(es) (`odcore tune`): the "
                   "**search** column names the search, **searched values** what the trial tried; a trial stopped "
                   "early by the scheduler is *cancelled*.")
    c1, c2, c3, c4 = st.columns(4)
    fm = c1.multiselect("method", sorted({str(r.get("method")) for r in all_runs}), key="cmp_method",
                        format_func=compare.method_title)
    fd = c2.multiselect("data", sorted({compare.group_key(r)[0] for r in all_runs}), key="cmp_data")
    fs = c3.multiselect("status", sorted({str(r.get("status")) for r in all_runs}), key="cmp_status")
    ft = c4.multiselect("search", searches, key="cmp_search", disabled=not searches,
                        help="trials of a parameter search (odcore tune)")
    shown = [r for r in all_runs if (not fm or str(r.get("method")) in fm) and (not fd or compare.group_key(r)[0] in fd)
             and (not fs or str(r.get("status")) in fs) and (not ft or r["search"] in ft)]
    groups = compare.run_groups(shown)
    if len(groups) > 1:
        st.info(f"These runs were tested on {len(groups)} different test sets, so they are shown in {len(groups)} "
                "groups, each ranked on its own (best AUROC first). Runs in different groups are not ranked against "
                "each other: their data, protocol or test set differ.", icon=":material/info:")
    titles = [compare.group_title(k, len(t)) for k, t in groups]
    for i, ((_, table), title) in enumerate(zip(groups, titles)):
        st.markdown(f"**{widgets.plain(title, 300)}**")
        st.dataframe(table, hide_index=True, key=f"cmp_group_{i}",
                     column_config={k: st.column_config.NumberColumn(k, format="%.3f") for k in compare.METRICS})
    if groups:
        st.subheader("Curves of one group")
        at = st.selectbox("group", range(len(groups)), format_func=lambda i: titles[i], key="cmp_curve_group")
        _curves(*groups[at])

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
def bench_table(records: list[dict]):
    return compare.bench_frame(records, paper.paper_value)


if records:
    widgets.guarded(lambda: st.dataframe(bench_table(records), hide_index=True))
    st.caption("Mean ± standard deviation over seeds; a (paper) column gives the paper's number where the paper "
               "reports this dataset, method and metric. The benchmark column names what wrote the rows "
               "(`odcore reproduce` lists the paper tables).")
else:
    st.caption("No benchmark records yet: `python -m odcore bench --data ... --methods ... --json "
               "bench/results/<name>.json` writes them.")
with st.expander("The papers' numbers"):
    st.dataframe(paper.table(), hide_index=True)
