"""Loading finished runs for the analysis pages (cached: a run on disk never changes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from ui import state


def finished_runs(**filters: Any) -> list[dict]:
    """Finished runs, newest first, as the store's listing dicts."""
    try:
        return state.store().list_runs(status="done", **filters)
    except Exception:  # noqa: BLE001 - an unreadable index must not take the page down
        return []


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
