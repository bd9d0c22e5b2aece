"""Loading finished runs for the analysis pages (cached: a run on disk never changes).

Sessions are kept apart: a session sees the runs it made (the run's ``owner`` is its token) and
the shared demo runs (runs without an owner: made with the command line, the benchmarks or a
script by whoever runs the server). With the setting ``runs.team_store`` (env
``ODCORE_TEAM_STORE=1``) every session sees every run. A damaged run is listed as such on
Compare and left out of the run pickers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from ui import state


def team_store() -> bool:
    """Whether every session sees every run (setting ``runs.team_store``)."""
    from odcore import settings

    try:
        return bool(settings.get("runs.team_store"))
    except Exception:  # noqa: BLE001 - a bad setting keeps sessions apart
        return False


def visible(row: dict) -> bool:
    """Whether this session may see the run of listing ``row``: its own, a shared demo run, or any in a team store."""
    owner = row.get("owner")
    return not owner or owner == state.owner() or team_store()


def visible_runs(**filters: Any) -> list[dict]:
    """The runs this session may see (any status, damaged ones included), newest first."""
    try:
        return [r for r in state.store().list_runs(**filters) if visible(r)]
    except Exception:  # noqa: BLE001 - an unreadable index must not take the page down
        return []


def finished_runs(**filters: Any) -> list[dict]:
    """Finished runs this session may see, newest first, as the store's listing dicts."""
    return visible_runs(status="done", **filters)


def may_see(run_id: str | None) -> bool:
    """Whether this session may open run ``run_id`` (a run id kept in its state, or typed)."""
    if not run_id:
        return False
    try:
        return visible({"owner": state.store().get(run_id).owner})
    except Exception:  # noqa: BLE001
        return False


def run_label(r: dict) -> str:
    name = r.get("data_name") or r.get("data") or "?"
    name = str(name).split("/")[-1]
    m = r.get("metrics") or {}
    au = m.get("auroc") if isinstance(m, dict) else None
    tail = f" · AUROC {au:.3f}" if isinstance(au, float) and au == au else ""
    return f"{r.get('method', '?')} on {name} · {r.get('id', r.get('run_id', '?'))}{tail}"


def run_id_of(r: dict) -> str:
    return str(r.get("id") or r.get("run_id"))


@st.cache_resource(show_spinner="Loading the model ...", max_entries=8)
def model(run_id: str):
    from odcore.runs.rebuild import load_model

    return load_model(state.store().get(run_id))


@st.cache_resource(show_spinner="Loading the data ...", max_entries=8)
def data_split(run_id: str):
    from odcore.runs.rebuild import load_split

    return load_split(state.store().get(run_id))


@st.cache_data(show_spinner=False, max_entries=16)
def scores(run_id: str):
    return state.store().get(run_id).scores


@st.cache_resource(show_spinner=False, max_entries=16)
def score_view(run_id: str):
    """The run's scores and labels as arrays held for the threshold workbench (read once per run, shared by the
    sessions: read-only arrays), :class:`odcore.analysis.thresholds.Workbench`."""
    from odcore.analysis.thresholds import Workbench

    df = state.store().get(run_id).scores
    y = df["label"].to_numpy() if "label" in df and df["label"].notna().all() else None
    return Workbench(df["score"].to_numpy(), y)


@st.cache_data(show_spinner=False, max_entries=16)
def history(run_id: str) -> list[dict]:
    return list(state.store().get(run_id).history or [])


@st.cache_data(show_spinner=False, max_entries=16)
def config(run_id: str) -> dict:
    return dict(state.store().get(run_id).config or {})


def method_of(run_id: str) -> str:
    c = config(run_id)
    return str(c.get("method") or (c.get("spec") or {}).get("method") or "")


def capabilities(run_id: str) -> list[str]:
    from odcore.models import registry

    m = method_of(run_id)
    try:
        return sorted(registry.capabilities(m).names())  # the capability names run_picker(need=...) filters on
    except Exception:  # noqa: BLE001
        return []


@st.cache_data(show_spinner="Embedding the rows ...", max_entries=8)
def codes(run_id: str) -> np.ndarray:
    """Latent codes of the scored (test) rows, in the order of the run's scores table."""
    _, split = data_split(run_id)
    sc = scores(run_id)
    pos = _positions(split.test_index, sc["row_id"].to_numpy())
    return np.asarray(model(run_id).embed(split.X_test[pos]))


def _positions(index: np.ndarray, row_ids: np.ndarray) -> np.ndarray:
    """Positions in ``index`` of each of ``row_ids``."""
    lookup = {int(r): i for i, r in enumerate(np.asarray(index))}
    return np.array([lookup[int(r)] for r in row_ids], dtype=np.int64)


def test_rows(run_id: str, row_ids) -> np.ndarray:
    """Standardised feature rows (as the model sees them) for dataset row ids of the test part."""
    _, split = data_split(run_id)
    return split.X_test[_positions(split.test_index, np.asarray(row_ids))]
