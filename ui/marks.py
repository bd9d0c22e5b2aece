"""The analyst's marks on the Flagged rows page and the Latent map: mark rows expected (with a reason) or confirmed
(with a note), list and remove marks, retrain with them, and see what moved.

The logic lives in the engine (:mod:`odcore.data.marks`, :mod:`odcore.runs.marks`, :mod:`odcore.runs.feedback`);
this module draws it. A session sees and uses its own marks and the ones made without a session (the command
line's); with a team store (``runs.team_store``) every mark on the table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from ui import runs, state, widgets

OTHER = "other (type it)"


def author() -> str:
    """This session's tag on the marks it makes."""
    from odcore.runs.marks import author_tag

    return author_tag(state.owner())


def _filter() -> str | None:
    """Whose marks this session sees: its own and the shared ones (odcore.runs.marks.visible; all in a team store)."""
    return None if runs.team_store() else author()


def store():
    from odcore.runs.marks import MarkStore

    return MarkStore(state.store())


def dataset(run_id: str):
    """The run's dataset (its rows, their keys)."""
    return runs.data_split(run_id)[0]


def markable(run_id: str) -> str | None:
    """Why the run's rows cannot be marked (no id, group or date columns), or None when they can."""
    from odcore.data import marks as M

    try:
        M.key_columns(dataset(run_id))
    except M.MarksError as err:
        return str(err)
    except Exception as err:  # noqa: BLE001 - the run's data cannot be loaded: the page says so elsewhere
        return widgets.one_line(err)
    return None


def table_marks(run_id: str):
    """The marks of the run's table this session sees (:class:`odcore.runs.marks.MarkSet`, matched to its rows)."""
    return store().list(dataset(run_id), author=_filter())


def annotate(frame: pd.DataFrame, run_id: str, keys: list[str] | tuple = ()) -> pd.DataFrame:
    """The analyst table with a ``mark`` column (expected / confirmed / empty) and the mark's reason or note,
    placed after the row's key columns ``keys`` (after the score without them): marks are shown, exported with
    the ranking, and filtered like any column."""
    if markable(run_id) is not None or "row" not in frame:
        return frame
    got = widgets.guarded(lambda: table_marks(run_id))
    kind = np.full(len(dataset(run_id).X), "", dtype=object)
    why = kind.copy()
    if got is not None and got.matched is not None:
        by_id = got.by_id()
        for mid, rows in got.matched.rows.items():
            m = by_id[mid]
            kind[rows], why[rows] = m.kind, m.reason or m.note or ""
    out = frame.copy()
    rows = out["row"].to_numpy()
    cols = list(out.columns)
    after = [cols.index(k) for k in keys if k in cols] or ([cols.index("score")] if "score" in cols else [])
    at = max(after) + 1 if after else len(cols)
    out.insert(at, "mark", kind[rows])
    out.insert(at + 1, "mark reason", why[rows])
    return out


def mark_controls(run_id: str, rows: list[int], *, key: str) -> None:
    """Mark the dataset rows ``rows`` (the selected rows) as expected or confirmed, or clear their marks."""
    from odcore.data import marks as M

    if not rows or markable(run_id) is not None:  # nothing selected, or rows without keys (images, plain arrays)
        return
    ds = dataset(run_id)
    cols = M.key_columns(ds)
    meta = ds.meta.reset_index(drop=True)
    names = [M.key_text(M.normalise_key(ds, {c: meta[c].iloc[r] for c in cols})) for r in rows[:3]]
    st.markdown(f"**Mark {len(rows)} selected row{'s' if len(rows) > 1 else ''}** "
                + widgets.plain("(" + "; ".join(names) + (" ..." if len(rows) > 3 else "") + ")", 300))
    c1, c2, c3 = st.columns([2, 3, 3])
    reason = c1.selectbox("Reason (expected)", [*M.REASONS[:-1], OTHER], key=f"{key}-reason")
    if reason == OTHER:
        reason = c1.text_input("Reason", key=f"{key}-reason-text", max_chars=M.MAX_TEXT).strip() or None
    note = c2.text_input("Note (optional)", key=f"{key}-note", max_chars=M.MAX_TEXT).strip() or None
    b1, b2, b3 = c3.columns(3)
    kind = None
    if b1.button("Expected", key=f"{key}-expected", help="a false alarm: normal for the reason given"):
        kind = "expected"
    if b2.button("Confirmed", key=f"{key}-confirmed", type="primary", help="a real anomaly"):
        kind = "confirmed"
    if b3.button("Clear", key=f"{key}-clear", help="remove this session's marks on these rows"):
        got = table_marks(run_id)
        ids = [mid for mid, r in (got.matched.rows if got.matched else {}).items()
               if np.isin(r, rows).any() and got.by_id()[mid].author in (author(), None)]
        if ids and widgets.guarded(lambda: store().remove(ds, ids, author=author())) is not None:
            st.toast(f"Removed {len(ids)} mark(s)")
            st.rerun()
    if kind is not None:
        added = widgets.guarded(lambda: store().add_rows(ds, rows, kind, reason=reason if kind == "expected" else None,
                                                         note=note, author=author(), run=run_id))
        if added is not None:
            st.toast(f"Marked {len(added)} row(s) {kind}")
            st.rerun()


def marks_panel(run_id: str) -> None:
    """The table's marks (this session's and the shared ones): list, remove, retrain with them, what moved."""
    if markable(run_id) is not None:
        return
    got = widgets.guarded(lambda: table_marks(run_id))
    if got is None:
        return
    if got.problem:
        st.warning(widgets.plain(got.problem, 600))
    frame = got.frame()
    n_exp, n_conf = int((frame["kind"] == "expected").sum()), int((frame["kind"] == "confirmed").sum())
    with st.expander(f"Your marks on this table: {n_exp} expected, {n_conf} confirmed", expanded=bool(len(frame))):
        if not len(frame):
            st.caption("No marks yet: select flagged rows above and mark them expected (a false alarm, with its "
                       "reason) or confirmed (a real anomaly). Marks stay with the table, keyed by its ids and dates.")
        else:
            shown = frame.drop(columns=["author", "run", "id"])
            event = st.dataframe(widgets.day_dates(shown), hide_index=True, on_select="rerun",
                                 selection_mode="multi-row", key=f"marks-{run_id}",
                                 height=min(300, 40 + 35 * len(frame)))
            picked = list(event.selection.rows) if event is not None else []
            outside = int((~frame["in table"]).sum()) if "in table" in frame else 0
            if outside:
                st.caption(f"{outside} mark(s) name rows this table does not have; they are kept and not used.")
            if picked and st.button(f"Remove {len(picked)} selected mark(s)", key=f"marks-remove-{run_id}"):
                ids = frame.iloc[picked]["id"].tolist()
                if widgets.guarded(lambda: store().remove(dataset(run_id), ids, author=_filter())) is not None:
                    st.rerun()
        if len(frame) and st.button(f"Retrain with my marks ({n_exp} expected, {n_conf} confirmed)", type="primary",
                                    key=f"marks-retrain-{run_id}"):
            retrain(run_id)


def retrain(run_id: str) -> None:
    """Start the retraining of ``run_id`` with this session's marks (a job; the new run shows what moved)."""
    from odcore.runs import feedback

    got = widgets.guarded(lambda: feedback.retrain_spec(state.store().get(run_id), store=state.store(),
                                                        author=_filter()))
    if got is None:
        return
    spec, info = got
    for label in info["not_in_table"][:5]:
        st.caption(widgets.plain(f"not used (no such row in this table): {label}", 300))
    st.session_state["flag_retrained_from"] = run_id
    widgets.start_job(spec, title=f"{spec.method} with {info['marks']} marks")


@st.cache_data(show_spinner="Comparing the two runs ...", max_entries=8)
def _moved(before: str, after: str) -> pd.DataFrame:
    from odcore.runs import feedback

    store_ = state.store()
    return feedback.moved(store_.get(before), store_.get(after), store=store_)


def moved_panel(run_id: str) -> dict[str, Any] | None:
    """For a run trained with marks: which rows left the flags, which entered, and why (against the run it was
    retrained from). Returns the counts (None for a run without marks)."""
    from odcore.runs import feedback

    used = feedback.used_marks(state.store().get(run_id))
    if not used:
        return None
    before = used.get("from")
    kinds = [m.get("kind") for m in used.get("marks", [])]
    how = used.get("used") or {}
    learnt = (f"; the model learnt from the {' and '.join(how['fit'])} rows" if how.get("fit") else "")
    st.markdown(f"**Trained with {kinds.count('expected')} expected and {kinds.count('confirmed')} confirmed "
                f"marks**{learnt}; every score re-ranked near the marks.")
    if not before or not runs.may_see(before):
        return None
    moved = widgets.guarded(lambda: _moved(before, run_id))
    if moved is None:
        return None
    counts = {k: int((moved["change"] == k).sum()) for k in ("left", "entered", "stayed")}
    why = moved["why"].astype(str)
    left_marked = int(((moved["change"] == "left") & why.str.startswith("marked expected")).sum())
    still = int(((moved["change"] == "stayed") & why.str.startswith("marked expected")).sum())
    top = int(((moved["change"] != "left") & why.str.startswith("marked confirmed")).sum())
    st.markdown(f"Against run `{before}`: **{counts['left']} rows left the flags** ({left_marked} of them marked "
                f"expected), **{counts['entered']} entered**"
                + (f"; {top} confirmed row{'s' if top > 1 else ''} ranked at the top" if top else "")
                + (f"; {still} row{'s' if still > 1 else ''} marked expected still flagged" if still else "") + ".")
    if len(moved):
        st.dataframe(widgets.day_dates(moved), hide_index=True, key=f"moved-{run_id}",
                     height=min(320, 40 + 35 * len(moved)),
                     column_config={"why": st.column_config.TextColumn("why", width="large"),
                                    "score before": st.column_config.NumberColumn(format="%.4g"),
                                    "score after": st.column_config.NumberColumn(format="%.4g")})
    return counts


def _marks_from(run_id: str) -> str | None:
    """The run a run was retrained from with marks (None for a run without marks)."""
    opt = ((runs.config(run_id).get("spec") or {}).get("protocol_options") or {}).get("marks")
    return opt.get("from") if isinstance(opt, dict) else None


def follow_retrained(labels: dict[str, str]) -> None:
    """When a retraining this session started has finished, select its run (``labels``: the runs offered,
    newest first) so that the page shows what moved."""
    src = st.session_state.get("flag_retrained_from")
    if not src:
        return
    for rid in labels:
        if rid != src and _marks_from(rid) == src:
            st.session_state["flag_run"] = rid
            st.session_state.pop("flag_retrained_from", None)
            return


def pick_table_run() -> tuple[Any, Any, dict] | None:
    """Every table this session trained on (its runs' stored data: after a reload or a server restart too): pick
    one; returns its dataset, the data reference new runs take, and its loader options."""
    tables: dict[str, list[str]] = {}
    for r in runs.finished_runs():
        rid = runs.run_id_of(r)
        d = runs.config(rid).get("dataset") or {}
        if d.get("hash") and (d.get("table") or d.get("meta_columns")):
            tables.setdefault(d["hash"], []).append(rid)
    if not tables:
        st.info("No run of yours on a table yet: load one on the **Data** page and train on it.")
        return None

    def label(h: str) -> str:
        d = runs.config(tables[h][0]).get("dataset") or {}
        n = len(tables[h])
        return f"{d.get('name', '?')} · {int(d.get('rows') or 0):,} rows · {n} run{'s' if n > 1 else ''}"

    h = st.selectbox("Table", list(tables), format_func=label, key="flag_table_pick")
    first = tables[h][0]
    spec = runs.config(first).get("spec") or {}
    ds = widgets.guarded(lambda: runs.data_split(first)[0])
    if ds is None:
        return None
    return ds, spec.get("data"), dict(spec.get("data_options") or {})
