"""Retraining with the analyst's marks, the re-ranking that carries them to every detector, and what moved.

How each detector uses the marks and the re-ranking that carries them to every detector:
:mod:`odcore.runs.rerank`.

**Retraining** (:func:`retrain_spec`, :func:`retrain`) builds the run spec of a finished run again with
the table's marks in its protocol options (``marks=``, so the new run records exactly which marks it
used), on the protocol that lets the detector use them (``pu`` for WALDO, ``all`` for the others).
:func:`moved` compares two runs on the same table, row by row through the rows' keys: the rows that left
the flags, the rows that entered them, and why.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from odcore.data import marks as M
from odcore.data.record import Dataset
from odcore.errors import InputError
from odcore.runs.rerank import Reranked
from odcore.runs.spec import RunSpec
from odcore.runs.store import Run, RunStore

#: the protocols on which a retraining can use marks (the analyst's protocols: every row is scored)
MARK_PROTOCOLS = ("all", "pu")


# ---------------------------------------------------------------------------------- retraining
def marks_protocol(method: str, protocol: str) -> str:
    """The protocol a retraining of ``method`` with marks runs on: ``pu`` for positive-unlabelled detectors
    (the marked expected rows join the known normals), ``all`` for every other (all rows fit and scored)."""
    from odcore.models import registry

    if registry.info(method).setting == "pu":
        return "pu"
    return "all"


def _store_of(run: Run, store: RunStore | None) -> RunStore:
    return store if store is not None else run.store


def table_marks(run: Run, *, store: RunStore | None = None, author: str | None = None) -> tuple[Dataset, Any]:
    """The dataset of ``run`` and its table's stored marks (:class:`odcore.runs.marks.MarkSet`, the rows
    they name in it)."""
    from odcore.runs.execution import load_data
    from odcore.runs.marks import MarkStore
    from odcore.runs.rebuild import run_spec

    st = _store_of(run, store)
    ds = load_data(run_spec(run), st)
    return ds, MarkStore(st).list(ds, author=author)


def with_marks_spec(spec: RunSpec, ds: Dataset, *, store: RunStore, author: str | None = None,
                    marks: Sequence[M.Mark] | None = None, source: str | None = None) -> tuple[RunSpec, dict[str, Any]]:
    """``spec`` (a run spec on ``ds``) with marks in its protocol options, on the protocol that lets its
    detector use them (:func:`marks_protocol`; the options that protocol has are kept). The marks are the
    table's stored ones (those ``author`` sees when given: ``odcore.runs.marks.visible``) or ``marks`` (from a
    file). Marks on rows ``ds`` does not have are left out and reported (``info["not_in_table"]``) when some
    match; when none does, they are refused. Returns ``(spec, info)``: what it uses (``marks``, ``expected``,
    ``confirmed``, ``protocol``, ``problem`` of a damaged marks file, ``from`` = ``source``)."""
    import odcore.data
    from odcore.models import registry
    from odcore.runs.marks import MarkStore

    table = M.table_record(ds)
    problem = None
    if marks is None:
        got = MarkStore(store).list(ds, author=author)
        problem, marks = got.problem, got.marks
    marks = list(marks)
    if not marks:
        raise M.MarksError(f"{ds.name} has no marks yet" + (f" ({problem})" if problem else "")
                           + ": mark flagged rows as expected or confirmed first (the Flagged rows page, or "
                             "`odcore marks add`)")
    matched = M.match(ds, marks)
    usable = [m for m in marks if m.id in matched.rows]
    if not usable:
        M.refuse_unmatched(ds, matched.unmatched, len(marks))
    option = {**M.option(usable, table), **({"from": source} if source else {})}
    if len(matched.conflicts):
        M.option_rows(ds, option)  # raises, naming the rows marked both ways
    method = spec.method
    protocol = marks_protocol(method, spec.protocol)
    allowed = odcore.data.protocol_defaults(protocol)
    popts = {k: v for k, v in dict(spec.protocol_options).items() if k in allowed and k != "marks"}
    popts["marks"] = option
    n_exp = sum(m.kind == "expected" for m in usable)
    n_conf = len(usable) - n_exp
    info = registry.info(method)
    if info.setting == "limited-negatives" and n_conf == 0:
        raise M.MarksError(f"{info.title} learns from confirmed anomalies, and none of the {len(usable)} marks is "
                           "confirmed: confirm at least one flagged row first")
    new = RunSpec(data=spec.data, method=method, protocol=protocol, data_options=dict(spec.data_options),
                  protocol_options=popts, params=dict(spec.params), seed=int(spec.seed), monitor=spec.monitor)
    return new, {"from": source, "table": table["identity"], "marks": len(usable), "expected": n_exp,
                 "confirmed": n_conf, "protocol": protocol, "problem": problem,
                 "not_in_table": [m.label for m in matched.unmatched]}


def retrain_spec(run: Run, *, store: RunStore | None = None, author: str | None = None,
                 marks: Sequence[M.Mark] | None = None) -> tuple[RunSpec, dict[str, Any]]:
    """The spec of the finished ``run`` again, with the marks of its table (:func:`with_marks_spec`)."""
    from odcore.runs.execution import load_data
    from odcore.runs.rebuild import run_spec

    if run.status != "done":
        raise InputError(f"run {run.id} is {run.status}; retrain from a finished run")
    st = _store_of(run, store)
    base = run_spec(run)
    return with_marks_spec(base, load_data(base, st), store=st, author=author, marks=marks, source=run.id)


def retrain(run: Run, *, store: RunStore | None = None, author: str | None = None,
            marks: Sequence[M.Mark] | None = None, callbacks: Iterable[Any] = (), owner: str | None = None,
            cancel: Any = None) -> dict[str, Any]:
    """Train ``run``'s detector again with the marks (:func:`retrain_spec`) and store the new run. Returns
    :func:`odcore.runs.execution.execute`'s result with ``info`` (what was used)."""
    from odcore.runs.execution import execute
    from odcore.runs.spec import resolve

    spec, info = retrain_spec(run, store=store, author=author, marks=marks)
    st = _store_of(run, store)
    res = execute(resolve(spec, store=st), store=st, callbacks=callbacks, owner=owner, cancel=cancel)
    return {**res, "info": info}


def used_marks(run: Run) -> dict[str, Any] | None:
    """The marks a run trained with (its ``marks=`` protocol option: table, keys, marks, ``from``) and how
    each kind was used (``used``: fit / rerank), or None for a run without marks."""
    opt = ((run.config.get("spec") or {}).get("protocol_options") or {}).get("marks")
    if not opt:
        return None
    return {**opt, "used": run.config.get("marks_used") or {}}


def ranking(run: Run, *, store: RunStore | None = None, author: str | None = None) -> Any:
    """The run's rows in rank order with their key columns, score, rank and flag, and the table's marks
    beside them (``mark``: expected / confirmed / empty, ``mark reason``, ``mark note``, ``mark id``): the
    ranking an analyst exports, with what they decided about each row."""
    import pandas as pd

    ds, got = table_marks(run, store=store, author=author)
    r = _ranked(run, ds).sort_values("rank", kind="stable")
    cols = M.key_columns(ds)
    meta = ds.meta.reset_index(drop=True).iloc[r["row"].to_numpy()][cols].reset_index(drop=True)
    out = pd.concat([meta, r[["rank", "score", "flagged"]].reset_index(drop=True)], axis=1)
    mark = np.full(len(ds.X), "", dtype=object)
    reason, note, ids = mark.copy(), mark.copy(), mark.copy()
    by_id = got.by_id()
    for mid, rows in (got.matched.rows if got.matched is not None else {}).items():
        m = by_id[mid]
        mark[rows], reason[rows], note[rows], ids[rows] = m.kind, m.reason or "", m.note or "", m.id
    rows = r["row"].to_numpy()
    out["mark"], out["mark reason"], out["mark note"], out["mark id"] = mark[rows], reason[rows], note[rows], ids[rows]
    return out


# ---------------------------------------------------------------------------------- what moved
def _ranked(run: Run, ds: Dataset) -> Any:
    """A run's scored rows with their keys: key, score, flagged, rank (1 = highest score)."""
    import pandas as pd

    sc = run.scores
    if sc is None:
        raise InputError(f"run {run.id} has no scores ({run.status}); only finished runs can be compared")
    rows = sc["row_id"].to_numpy()
    keys = M.row_keys(ds)[rows]
    score = sc["score"].to_numpy(dtype=np.float64)
    order = np.argsort(-score, kind="stable")
    rank = np.empty(len(score), dtype=np.int64)
    rank[order] = np.arange(1, len(score) + 1)
    return pd.DataFrame({"key": keys, "row": rows, "score": score, "flagged": sc["pred"].to_numpy() == 1,
                         "rank": rank}).drop_duplicates("key")


def moved(before: Run, after: Run, *, store: RunStore | None = None) -> Any:
    """What changed between two runs on the same table (rows matched by their keys, so a longer re-upload
    compares too): one row per row that ``left`` the flags or ``entered`` them (flag = score above the run's
    threshold), with its key columns, ranks and scores before and after, and ``why`` in words (a mark on
    it, a mark it resembles in the re-ranking, or the retrained model's score). Marked rows that stayed
    flagged are listed too (``stayed``), so an expected mark that did not clear its row is visible."""
    import pandas as pd

    from odcore.runs.execution import load_data
    from odcore.runs.rebuild import load_model, run_spec

    st = store if store is not None else after.store
    ds_a, ds_b = load_data(run_spec(before), st), load_data(run_spec(after), st)
    cols = M.key_columns(ds_b)
    if M.key_columns(ds_a) != cols:
        raise M.MarksError(f"runs {before.id} and {after.id} are on tables with other keys ({', '.join(cols)} vs "
                           f"{', '.join(M.key_columns(ds_a))}); compare runs on the same table")
    a, b = _ranked(before, ds_a), _ranked(after, ds_b)
    both = a.merge(b, on="key", suffixes=(" before", " after"))
    marks = used_marks(after)
    kind_of: dict[str, tuple[str, M.Mark]] = {}
    by_id: dict[str, M.Mark] = {}
    if marks:
        keys, ms = M.option_marks(marks)
        by_id = {m.id: m for m in ms}
        for m in ms:
            kind_of[M._join([m.key[c] for c in keys])] = (m.kind, m)
    used = (marks or {}).get("used") or {}
    change = np.where(both["flagged before"] & ~both["flagged after"], "left",
                      np.where(~both["flagged before"] & both["flagged after"], "entered", ""))
    marked = both["key"].isin(list(kind_of))
    keep = (change != "") | (marked & both["flagged after"])
    out = both[keep].copy()
    out["change"] = np.where(change[keep] == "", "stayed", change[keep])
    infl = None
    if len(out):
        model = load_model(after)
        if isinstance(model, Reranked):
            from odcore.runs.rebuild import load_split

            _, split = load_split(after)
            infl = model.influence(split.transform(ds_b.X[out["row after"].to_numpy()]))
    whys = []
    for i, (_, r) in enumerate(out.iterrows()):
        whys.append(_why_moved(r, kind_of.get(r["key"]), used, infl, i, by_id))
    out["why"] = whys
    key_frame = pd.DataFrame([dict(zip(cols, str(k).split(M._SEP))) for k in out["key"]], index=out.index,
                             columns=cols)
    res = pd.concat([key_frame, out[["change", "rank before", "rank after", "score before", "score after", "why"]]],
                    axis=1)
    order = {"left": 0, "entered": 1, "stayed": 2}
    res["_marked"] = ~res["why"].str.startswith("marked")  # the analyst's own rows first in each group
    res = res.sort_values(["change", "_marked", "rank after"], key=lambda s: s.map(order) if s.name == "change" else s,
                          kind="stable")
    return res.drop(columns="_marked").reset_index(drop=True)


def _why_moved(r: Any, mark: tuple[str, M.Mark] | None, used: dict[str, Any], infl: dict | None, i: int,
               by_id: dict[str, M.Mark]) -> str:
    ranks = f"rank {int(r['rank before'])} -> {int(r['rank after'])}"
    if mark is not None:
        kind, m = mark
        why = m.reason or m.note
        head = f"marked {kind}" + (f" ({why})" if why else "")
        how = "its score falls to the typical level" if kind == "expected" else "its score rises to the top"
        if kind in used.get("fit", []):
            how += (", and the model learnt from it as a known-normal row" if kind == "expected"
                    else ", and the model learnt from it as a labelled anomaly")
        tail = "; still flagged" if r["change"] == "stayed" else ""
        return f"{head}: {how} ({ranks}){tail}"
    if infl is not None:
        w_e, w_c = float(infl["w_expected"][i]), float(infl["w_confirmed"][i])
        if r["change"] == "left" and w_e >= 0.1:
            m = by_id.get(str(infl["near_expected"][i]))
            return (f"like the expected row {M.key_text(m.key) if m else '?'} (similarity {w_e:.2f}): "
                    f"{w_e:.0%} of its excess score removed ({ranks})")
        if r["change"] == "entered" and w_c >= 0.1:
            m = by_id.get(str(infl["near_confirmed"][i]))
            return (f"like the confirmed anomaly {M.key_text(m.key) if m else '?'} (similarity {w_c:.2f}): moved "
                    f"{w_c:.0%} of the way to the top ({ranks})")
    same = abs(float(r["score after"]) - float(r["score before"])) <= 1e-6 * (abs(float(r["score before"])) + 1e-12)
    if r["change"] == "left":
        return (f"its score did not change; rows that rose above it pushed it below the threshold ({ranks})" if same
                else f"the retrained model scores it lower ({ranks})")
    if same:
        return f"its score did not change; it moved up as rows above it left the flags ({ranks})"
    return f"the retrained model scores it higher ({ranks})"
