"""The Flagged rows page's own code: every row of a table ranked, explained in the analyst's terms (a store-week's
sales against its expected value and band, in money), traced to the file, exported, scored again.

Logic worth testing lives in :mod:`odcore.analysis.analyst` (sentences, the ranked table, the series around a
row) and :mod:`odcore.plots` (``series_around``); this module draws them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from odcore import plots
from odcore.analysis import analyst
from ui import form, runs, state, widgets
from ui.row_details import reconstructions

# ---------------------------------------------------------------------------------- the Flagged rows page
#: explain at most this many cells (rows x features) per run; beyond, the highest-scored rows only
EXPLAIN_CELLS = 200_000


@st.cache_resource(show_spinner="Preparing the weekly store-sales table ...", max_entries=1)
def store_sales_rows():
    """The Walmart-like weekly store-sales table (``odcore.data.storesales``, blanks included), roles proposed:
    each store's weekly sales against its own expected value."""
    from odcore.data.formats import frame_to_dataset
    from odcore.data.storesales import store_sales

    ds = frame_to_dataset(store_sales(seed=0), name="store-sales-synthetic", source="built-in: odcore.data.storesales "
                          "(seed 0)", roles="auto")
    return ds


@st.cache_resource(show_spinner="Preparing the synthetic panel ...", max_entries=2)
def retail_rows(scaling: str):
    """The synthetic retail panel: the built-in (global scaling) or prepared per market (``odcore.data.retail``)."""
    if scaling == "global":
        return state.load_dataset("retail-synthetic")
    from odcore.data.retail import retail_table

    return retail_table(scaling=scaling)


def table_prep(run_id: str):
    """The run's fitted table preparation (roles, windows, scaling), or None."""
    from odcore.runs.rebuild import table_prep as prep_of

    return prep_of(state.store().get(run_id))


def _units(run_id: str, Z: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Model-space rows of dataset rows ``rows`` back in the data's units (standardiser, then series levels)."""
    from odcore.data import table

    ds, split = runs.data_split(run_id)
    X = np.asarray(split.inverse_transform(np.asarray(Z, dtype=np.float32)), dtype=np.float64)
    prep = table_prep(run_id)
    return X if prep is None else table.to_units(prep, X, ds.meta.iloc[np.asarray(rows)].reset_index(drop=True))


def _keys_values(ds, prep) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The columns that identify each row (ids, group, dates) and the row's values (full precision)."""
    from odcore.data import table

    if prep is None:
        keys = None if ds.meta is None else ds.meta.reset_index(drop=True)
        return keys, pd.DataFrame(np.asarray(ds.X, dtype=np.float64), columns=list(ds.feature_names))
    meta = ds.meta.reset_index(drop=True)
    cols = table.key_columns(prep, list(meta.columns))
    return meta[cols], meta.drop(columns=cols)


def series_rows(prep) -> bool:
    """True when the run's rows are each series' deviations from its expectation, one row per period."""
    return prep is not None and prep.series_mode and prep.window == "rows"


def _measure_order(ds, prep) -> np.ndarray:
    """Per row, the measures from the most deviating (|z| of each measure's feature) to the least."""
    from odcore.series.rows import feature_name

    names = list(ds.feature_names)
    cols = [names.index(feature_name(m)) for m in prep.columns("measure") if feature_name(m) in names]
    return np.argsort(-np.abs(np.asarray(ds.X, dtype=np.float64)[:, cols]), axis=1, kind="stable")


@st.cache_data(show_spinner="Scoring and explaining every row ...", max_entries=8)
def analyst_frame(run_id: str) -> tuple[pd.DataFrame, dict]:
    """The run's rows in rank order with keys, scores, flags at the model's threshold, explanations
    (series rows: each measure against its expected value and band, in its unit; other rows: the top three
    features in the data's units and as shares) and values; and what explained them."""
    from odcore.analysis import explain
    from odcore.runs.execution import score_rows

    ds, split = runs.data_split(run_id)
    model = runs.model(run_id)
    Z = split.transform(ds.X)
    scored = score_rows(model, Z)
    s = scored["score"]
    normal = np.flatnonzero(s <= model.threshold_)
    if normal.size < 2:
        normal = np.argsort(s, kind="stable")[: max(2, len(s) // 2)]
    prep = table_prep(run_id)
    if series_rows(prep):  # the reason is the measure against its own series' expectation
        keys, values = _keys_values(ds, prep)
        extra = {"label": ds.y} if ds.y is not None else {}
        cols = analyst.series_columns(ds.meta.reset_index(drop=True), prep, _measure_order(ds, prep))
        frame = analyst.ranked_table(s, float(model.threshold_), keys=keys, columns={**extra, **cols}, values=values)
        return frame, {"method": "series", "explained": int(len(s)), "normal": normal, "fallback": 0,
                       "keys": list(keys.columns)}
    limit = max(1, EXPLAIN_CELLS // max(Z.shape[1], 1))
    rows = np.argsort(-s, kind="stable")[:limit] if len(s) > limit else np.arange(len(s))
    e = explain.explain(model, Z[rows], Z[normal], row_ids=rows, normal_ids=normal)
    top = explain.top_features(e.share, _units(run_id, Z[rows], rows) - _units(run_id, e.reference, rows),
                               ds.feature_names)
    full: list[list] = [[] for _ in range(len(s))]
    for i, r in enumerate(rows):
        full[r] = top[i]
    extra: dict = {}
    if ds.y is not None:
        extra["label"] = ds.y
    if "decoder" in scored:
        extra["decoder"] = scored["decoder"]
    keys, values = _keys_values(ds, table_prep(run_id))
    frame = analyst.ranked_table(s, float(model.threshold_), keys=keys,
                                 columns={**extra, **analyst.explanation_columns(full)}, values=values)
    return frame, {"method": e.method, "explained": int(len(rows)), "normal": normal,
                   "fallback": int(e.fallback.sum()), "keys": [] if keys is None else list(keys.columns)}


def _one_unit(ds, prep) -> bool:
    """True when every feature is in one unit (the days of a window, a weekly-rows table): one y axis fits."""
    if prep is not None:
        sources = [x for x in (prep.fitted or {}).get("sources", []) if x is not None]
        return len(sources) == len(ds.feature_names) and len(set(sources)) == 1
    from odcore.data.table import DAYS

    return all(str(n).lower()[:3] in DAYS for n in ds.feature_names)


def _title(pick: pd.Series, keys: list[str], r: int, prep=None) -> str:
    """A selected row's name from its keys: its group values and date (ids only when it has neither), plain text
    for a figure title."""
    ids = set(prep.columns("id")) if prep is not None else set()
    named = [c for c in keys if c not in ids and c not in ("source_row", "window_end") and c in pick]
    parts = []
    for c in (named or [c for c in keys if c in pick]):
        v = pick[c]
        parts.append(str(pd.Timestamp(v).date()) if isinstance(v, pd.Timestamp) else f"{c} {v}")
    return (" · ".join(parts) or f"row {r}")[:120]


def _flags(meta: pd.DataFrame, prep) -> list[str]:
    """The context columns that are 0/1 flags (a holiday week ...)."""
    out = []
    for c in prep.columns("context"):
        if c in meta and pd.api.types.is_numeric_dtype(meta[c]) and set(meta[c].dropna().unique()) <= {0, 1}:
            out.append(c)
    return out


def series_row(run_id: str, pick: pd.Series) -> None:
    """A selected series row: one sentence (the series, the period, each measure against its expected value and
    band, filled cells), the series around it (actual, expected, band, the same period of other years) and its
    neighbouring periods and the same period of other years as a table."""
    from odcore.series.cadence import Cadence

    ds, _ = runs.data_split(run_id)
    prep = table_prep(run_id)
    meta = ds.meta.reset_index(drop=True)
    r = int(pick["row"])
    measures = [prep.columns("measure")[j] for j in _measure_order(ds, prep)[r]]
    rec = ((prep.fitted or {}).get("expectation") or {}).get(measures[0])
    period = Cadence.from_dict(rec["cadence"]).period_label if rec else "period"
    row = meta.iloc[r]
    sentence = analyst.series_sentence(row, measures[:3], prep.units, groups=prep.columns("group"),
                                       time_column=prep.time_column, period=period, flags=_flags(meta, prep),
                                       filled_context=prep.columns("context"))
    st.markdown(f"**Rank {int(pick['rank'])}** (score {float(pick['score']):.4g}, "
                f"{'flagged' if bool(pick['flagged']) else 'not flagged'}): " + widgets.plain(sentence, 1200))
    shown = measures[0]
    if len(measures) > 1:
        shown = st.selectbox("Measure", measures, key=f"flag-measure-{run_id}")
    data = analyst.series_around(meta, prep, r, shown)
    unit = prep.units.get(shown, "")
    title = analyst.row_title(row, prep.columns("group"), prep.time_column, period=period)
    st.plotly_chart(plots.series_around(data, measure=shown, unit=unit, title=title[:120]),
                    key=f"flag-series-{run_id}-{r}-{shown}")
    st.caption(f"The expected value of each {period}: the series' own level and trend, what every series shared that "
               f"{period} (holidays, the season) at this series' amplitude, and its own habit in the same {period} of "
               "other years; the band holds 95% of ordinary deviations. Blank cells are filled from the series itself "
               "and never count as a reason.")
    t = data["table"]
    view = pd.DataFrame({"": t["which"], "date": widgets.day_dates(pd.DataFrame({"d": t["date"]}))["d"].astype(str),
                         shown: [analyst.fmt_amount(v, unit) if not f else "blank (filled)"
                                 for v, f in zip(t["actual"], t["filled"])],
                         "expected": [analyst.fmt_amount(v, unit) for v in t["expected"]],
                         "change": [analyst.fmt_change(v) for v in t["change"]]})
    st.dataframe(view, hide_index=True, height=min(460, 38 + 35 * len(view)), key=f"flag-around-{run_id}-{r}")


def flagged_row(run_id: str, frame: pd.DataFrame, pick: pd.Series, info: dict) -> None:
    """One selected row: each feature's share of its deviation, its values against its reconstruction(s)
    and against the mean of its nearest normal rows (in the data's units), one sentence, and the
    neighbours themselves. Series rows: :func:`series_row`."""
    from odcore.analysis import explain

    prep = table_prep(run_id)
    if info.get("method") == "series" and series_rows(prep):
        series_row(run_id, pick)
        return
    ds, split = runs.data_split(run_id)
    model = runs.model(run_id)
    r = int(pick["row"])
    normal = np.asarray(info["normal"])
    Z = split.transform(ds.X)
    z = Z[r:r + 1]
    e = explain.explain(model, z, Z[normal], row_ids=[r], normal_ids=normal)
    values = _units(run_id, z, [r])[0]
    names = [str(n) for n in ds.feature_names]
    if ds.meta is not None:  # the row's own values at full precision where the table kept them (not float32 round-off)
        own = [j for j, n in enumerate(names) if n in ds.meta.columns]
        orig = pd.to_numeric(ds.meta.iloc[r][[names[j] for j in own]], errors="coerce").to_numpy(np.float64)
        values[own] = np.where(np.isnan(orig), values[own], orig)  # a blank keeps the value it was filled with
    refs = {k: _units(run_id, v, [r])[0] for k, v in reconstructions(model, z).items()}
    k = e.neighbours.shape[1]
    near = normal[e.neighbours[0]]
    near_name = f"mean of its {k} nearest normal rows"
    refs[near_name] = _units(run_id, Z[near].mean(axis=0, keepdims=True), [r])[0]  # in this row's own levels
    fig = plots.row_against(values, refs, e.share[0], names, title=_title(pick, info["keys"], r, prep),
                            lines=_one_unit(ds, prep))
    st.plotly_chart(fig, key=f"flag-row-{run_id}-{r}")
    against = "its reconstruction" if e.method == "reconstruction" else f"its {k} nearest normal rows"
    ref_units = _units(run_id, e.reference, [r])[0]
    ref_units = np.where(np.abs(ref_units) < 1e-7 * (np.abs(values) + 1.0), 0.0, ref_units)  # float32 round-off
    how = {"reconstruction": "squared error per feature against the reconstruction",
           "leave-one-out": "how much the score falls when one feature alone takes its nearest normal rows' value",
           "neighbours": "squared deviation per feature from the nearest normal rows"}[e.method]
    st.markdown(f"**Rank {int(pick['rank'])}** (score {float(pick['score']):.4g}, "
                f"{'flagged' if bool(pick['flagged']) else 'not flagged'}): "
                + widgets.plain(analyst.explain_row(values, ref_units, names, share=e.share[0], against=against), 800))
    scaled = " (each series in its own level)" if prep is not None and prep.scaling == "series" else ""
    st.caption(f"Shares: {how}, on the standardised rows the model sees{scaled}; values and differences in the "
               "data's units.")
    order = np.argsort(-e.share[0], kind="stable")
    cols = {"feature": [names[j] for j in order], "this row": values[order],
            ("reconstruction" if e.method == "reconstruction" else near_name): ref_units[order],
            "difference": (values - ref_units)[order], "share of the deviation": e.share[0][order]}
    st.dataframe(pd.DataFrame(cols), hide_index=True, height=min(320, 38 + 35 * len(names)),
                 key=f"flag-feat-{run_id}-{r}", column_config={
                     "share of the deviation": st.column_config.ProgressColumn(format="percent", min_value=0.0,
                                                                               max_value=1.0)})
    neighbours = frame[frame["row"].isin(near)].drop(columns=["row", "why"], errors="ignore")
    neighbours = neighbours.drop(columns=[c for c in neighbours.columns if c.startswith("top")])
    st.markdown(f"Its {k} nearest normal rows (what it is compared with)"
                + (": in their own series' units." if prep is not None and prep.scaling == "series" else ":"))
    st.dataframe(neighbours, hide_index=True, height=220, key=f"flag-near-{run_id}-{r}",
                 column_config={c: st.column_config.DatetimeColumn(format="YYYY-MM-DD") for c in neighbours.columns
                                if pd.api.types.is_datetime64_any_dtype(neighbours[c])})


def natural_order(values) -> list[str]:
    """``values`` (text) sorted as a person counts: numbers by value (1, 2, ..., 10), then the rest as text."""
    def key(v: str):
        try:
            return (0, float(v), "")
        except ValueError:
            return (1, 0.0, v)

    return sorted(values, key=key)


def score_new_file(run_id: str) -> None:
    """Score an uploaded file with the run (its preparation, standardiser and model: ``odcore score``)."""
    import tempfile
    from pathlib import Path

    from odcore.runs.scoring import OUTPUT_COLUMNS, score_file

    up = st.file_uploader("A new CSV or Parquet file with the training table's columns", type=["csv", "parquet"],
                          key=f"score-new-{run_id}")
    if up is None:
        return
    try:
        with tempfile.TemporaryDirectory(prefix="odcore-score-") as tmp:
            src = Path(tmp) / ("input.parquet" if up.name.lower().endswith(".parquet") else "input.csv")
            src.write_bytes(up.getvalue())
            out = Path(tmp) / "scored.parquet"
            stats = score_file(state.store().get(run_id), src, out)
            scored = pd.read_parquet(out)
    except Exception as err:  # noqa: BLE001 - the scorer's message (missing columns named), no traceback
        widgets.show_error(err)
        return
    st.markdown(f"**{stats['rows']:,}** rows scored, **{stats['flagged']:,}** flagged at the run's threshold "
                f"{stats['threshold']:.4g}.")
    for note in stats.get("notes", []):
        st.caption(widgets.plain(note, 300))
    scored = scored.sort_values("score", ascending=False, kind="stable")
    st.dataframe(widgets.day_dates(scored.head(500)), hide_index=True, height=260, key=f"score-new-table-{run_id}")
    st.caption("Columns: " + "; ".join(f"{k}: {v}" for k, v in OUTPUT_COLUMNS.items()))
    st.download_button("Download the scored file (CSV)", analyst.export_bytes(scored, "csv"),
                       file_name=f"scored-{run_id}.csv", mime="text/csv", key=f"score-new-dl-{run_id}")


def _group_and_date(frame: pd.DataFrame, prep) -> tuple[str | None, str | None]:
    """The column to filter series by and the date column of the analyst table."""
    from odcore.data import table

    if prep is not None:
        groups = prep.columns("group") + ([table.SERIES] if prep.columns_are_series else [])
        group = next((c for c in groups if c in frame), None)
        date = table.WINDOW_START if table.WINDOW_START in frame else prep.time_column
        return group, date if date in frame else None
    group = next((c for c in ("market", "category", "store") if c in frame), None)
    date = next((c for c in ("week_start", "date") if c in frame), None)
    return group, date


def train_form(ds, spec_data, data_options: dict) -> None:
    """Every registered detector that can learn from these rows, its protocol, WALDO's known-normal rows."""
    from odcore.data import table
    from odcore.models import registry
    from odcore.runs.spec import RunSpec, analyst_methods
    from ui import presets

    labelled = ds.y is not None and 0 < int(ds.y.sum()) < ds.n_rows
    fits, not_offered = analyst_methods(labelled=labelled, has_meta=ds.meta is not None)
    choices = list(fits)
    table_default = (registry.recommended("tables"),) if getattr(ds, "table", None) else ()
    first = [m for m in (*table_default, *presets.FLAGGED_DEFAULT_METHODS)
             if m in fits and (labelled or registry.info(m).setting != "pu")]
    mkey = f"flag_method-{ds.content_hash()}"  # each table its default (stable keys, no index=: see ui/form.py)
    if st.session_state.get(mkey) not in choices:
        st.session_state[mkey] = first[0] if first else choices[0]
    method = st.selectbox("Method", choices, key=mkey, format_func=lambda m: registry.info(m).title)
    narrow = max(2, ds.n_features // 2)  # a code as wide as the row lets an autoencoder copy its input
    latent = registry.declaration(method).params.get("latent")
    own = {"latent": min(int(latent.default or narrow), narrow)} if latent is not None and latent.kind == "int" else {}
    params, errors = form.method_fields(
        method, prefix="flagparam", defaults=own, columns=4,
        notes={"latent": f"here at most half the row's {ds.n_features} features: a code as wide as the row lets a "
                         "reconstruction copy the row, anomalies included"})
    protocol, popts = fits[method], {}
    if registry.info(method).setting == "pu" and not labelled:
        dates = [c for c in ds.meta.columns if pd.api.types.is_datetime64_any_dtype(ds.meta[c])]
        hint = ""
        if dates:
            d = pd.to_datetime(ds.meta[dates[0]])
            hint = f"before={(d.min() + (d.max() - d.min()) / 3).date()}"
        from odcore.data.protocols import declaration as options_of

        st.caption("Known-normal rows (the labelled inliers): before=YYYY-MM-DD, COLUMN=v1|v2, or a 0/1 COLUMN")
        spec = widgets.guarded(lambda: form.field(options_of("pu")["known_normal"], f"flag_known_normal-{mkey}",
                                                  hint or None)) or ""
        if spec.strip():
            marked = widgets.guarded(lambda: table.known_normal_mask(ds.meta, spec.strip()))
            if marked is not None:
                st.caption(f"{int(marked.sum()):,} of {ds.n_rows:,} rows marked known normal; the others are the "
                           "unlabelled mixture; every row is scored.")
            popts = {"known_normal": spec.strip()}
    if not_offered:
        st.caption("Not offered on these rows: " + "; ".join(f"{registry.info(m).title} ({why})"
                                                             for m, why in not_offered.items()))
    ready = (protocol != "pu" or labelled or bool(popts)) and not errors
    # reads the widgets of this run, what is shown; keyed by the rows and method, as the form's fields (ui/form.py)
    if form.submit("Train", "flag_train", mkey, method, disabled=not ready):
        widgets.start_job(RunSpec(data=spec_data, method=method, protocol=protocol, data_options=dict(data_options),
                                  protocol_options=popts, params=params), title=f"{method} on {ds.name}")


def flagged_view(run_id: str, frame: pd.DataFrame, info: dict) -> pd.DataFrame:
    """The threshold (shared with the Scores page) and the filters; the rows they keep, in rank order."""
    from odcore.analysis import thresholds

    model = runs.model(run_id)
    scores = frame["score"].to_numpy()
    lo, hi, step = thresholds.slider_range(scores)
    key = f"fthr-{run_id}"
    if key not in st.session_state:
        st.session_state[key] = min(max(state.threshold(run_id, float(getattr(model, "threshold_", hi))), lo), hi)
    thr = st.slider("Threshold (flag score > threshold; shared with Scores)", lo, hi, step=step, key=key,
                    format="%.4g")
    state.set_threshold(run_id, thr)
    frame = frame.copy()
    frame["flagged"] = frame["score"] > thr
    group, date = _group_and_date(frame, table_prep(run_id))
    c1, c2, c3 = st.columns(3)
    srange = c1.slider("score range", lo, hi, (lo, hi), step=step, key=f"frange-{run_id}", format="%.3g")
    groups = c2.multiselect(group, natural_order(frame[group].astype(str).unique()), key=f"flag_groups-{run_id}") \
        if group else []  # stores 1, 2, ..., 10, not 1, 10, 11
    flagged_only = c3.checkbox("flagged rows only", value=True, key="flag_only")
    dates = None
    if date:
        d = pd.to_datetime(frame[date])
        if d.notna().any() and d.min() < d.max():
            lo_d, hi_d = d.min().to_pydatetime(), d.max().to_pydatetime()
            dates = st.slider("dates", lo_d, hi_d, (lo_d, hi_d), key=f"flag_dates-{run_id}", format="YYYY-MM-DD")
    keep = frame[group].astype(str).isin(groups) if group and groups else None  # ids may be numbers
    view = analyst.filter_rows(frame if keep is None else frame[keep], score_range=srange, date_column=date,
                               date_range=dates, flagged_only=flagged_only)
    st.markdown(f"**{int(frame['flagged'].sum()):,}** of {len(frame):,} rows flagged · {len(view):,} shown, "
                "highest score first")
    return view


def flagged_table(run_id: str, view: pd.DataFrame, info: dict) -> pd.DataFrame:
    """The ranked table (rows selectable: to see one, to mark several), the CSV and Parquet exports of what it
    shows; the picked rows (empty when none is)."""
    from odcore.analysis.explain import METHODS

    hidden = ["row"] + [c for c in view.columns if c.startswith("top")]
    if info["method"] == "series":  # the reason, in money, right after the row's keys
        hidden += [c for c in view.columns if c.endswith((" vs expected", " low", " high"))]
    shown = view.drop(columns=hidden)
    dates = {c: st.column_config.DatetimeColumn(format="YYYY-MM-DD") for c in shown.columns
             if pd.api.types.is_datetime64_any_dtype(shown[c])}
    event = st.dataframe(shown, hide_index=True, on_select="rerun", selection_mode="multi-row", key="flag_table",
                         height=340, column_config={
                             "score": st.column_config.NumberColumn(format="%.4g"),
                             "mark": st.column_config.TextColumn("mark", width=90),
                             "why": st.column_config.TextColumn(
                                 "why (against the expected value)" if info["method"] == "series"
                                 else "why (deviation in data units, share)", width="large"),
                             **dates})
    methods = {**METHODS, "series": "each measure against its series' expected value and band (what the model sees: "
                                    "the standardised deviation from it), in the column's unit; 'filled' lists the "
                                    "row's cells that were blank in the file"}
    note = f"Why: {methods[info['method']]}"
    if info["explained"] < len(view) or info["explained"] < len(runs.data_split(run_id)[0].X):
        note += f" (the {info['explained']:,} highest-scored rows are explained)"
    st.caption(note + ". The exports hold every shown row in rank order with its original columns at full precision, "
               "the top three features (name, deviation, share) and the analyst's marks.")
    export = view.drop(columns=["row"])
    c1, c2 = st.columns(2)
    c1.download_button("Download the ranking (CSV)", lambda: analyst.export_bytes(export, "csv"),
                       file_name=f"flagged-{run_id}.csv", mime="text/csv", key="flag_download")
    c2.download_button("Download the ranking (Parquet)", lambda: analyst.export_bytes(export, "parquet"),
                       file_name=f"flagged-{run_id}.parquet", mime="application/octet-stream",
                       key="flag_download_parquet")
    picked = [i for i in (list(event.selection.rows) if event is not None else []) if i < len(view)]
    return view.iloc[picked]
