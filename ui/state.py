"""Process-wide resources (run store, job registry) and per-session state.

One :class:`odcore.jobs.JobRegistry` serves every browser session (``st.cache_resource``); each
session gets an owner token so it sees and cancels only its own jobs. Finished runs are shared
through the run store.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from typing import Any

import streamlit as st

DATASET = "dataset"  # the loaded odcore Dataset
DATA_SPEC = "data_spec"  # what RunSpec.data should be for it: a name, a path, or the Dataset
DATA_OPTIONS = "data_options"
RUN = "run_id"  # the run the analysis pages look at
THRESHOLDS = "thresholds"  # run id -> threshold, shared by Scores and Flagged rows
#: owner token -> script seconds of that session's last run (written by app.py; session state
#: cannot be written after st.stop, so this is a plain process-wide dict)
SCRIPT_SECONDS: dict[str, float] = {}


def owner() -> str:
    """This browser session's owner token for jobs."""
    if "owner" not in st.session_state:
        st.session_state["owner"] = uuid.uuid4().hex[:12]
    return st.session_state["owner"]


@st.cache_resource(show_spinner=False)
def store():
    """The run store (root from ODCORE_RUNS_DIR or ./runs)."""
    from odcore.runs.store import RunStore

    return RunStore()


@st.cache_resource(show_spinner=False)
def registry():
    """The one job registry of this process (thread-safe, shared by all sessions)."""
    from odcore.jobs import JobRegistry

    return JobRegistry(store())


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Import torch and the detector modules once per process in a background thread, so that the
    first page needing them does not pay ~2 s (more on a busy machine) in its script run."""

    def work() -> None:
        try:
            from odcore.models import registry

            for name in registry.available():
                registry.get_class(name)
        except Exception:  # noqa: BLE001 - a failed warm-up only means a slower first page
            pass

    t = threading.Thread(target=work, name="odcore-warm-up", daemon=True)
    t.start()
    return t


@st.cache_resource(show_spinner=False)
def warm_up_umap() -> threading.Thread | None:
    """Compile umap-learn's numba code once per process, off the script thread.

    The first UMAP fit in a process spends ~60 s compiling (DESIGN.md); started when the Latent
    map page is first opened, the compile is usually done before anyone asks for a UMAP view.
    ``ODCORE_WARM_UMAP=0`` turns it off (the tests do, to keep the CPU for themselves).
    """
    if os.environ.get("ODCORE_WARM_UMAP", "1") == "0":
        return None

    def work() -> None:
        try:
            import numpy as np

            from odcore import embed

            embed.umap(np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32))
        except Exception:  # noqa: BLE001 - a failed warm-up only means a slower first UMAP
            pass

    t = threading.Thread(target=work, name="umap-warm-up", daemon=True)
    t.start()
    return t


@st.cache_data(show_spinner=False, max_entries=16)
def load_dataset(source: str, options_json: str = "{}"):
    """``odcore.data.load`` cached per source and options (raises InputError on bad input)."""
    import odcore.data

    return odcore.data.load(source, **json.loads(options_json))


def set_dataset(ds, spec: Any, options: dict | None = None) -> None:
    st.session_state[DATASET] = ds
    st.session_state[DATA_SPEC] = spec
    st.session_state[DATA_OPTIONS] = dict(options or {})


def dataset():
    """The session's dataset, or None."""
    return st.session_state.get(DATASET)


def threshold(run_id: str, default: float) -> float:
    return float(st.session_state.setdefault(THRESHOLDS, {}).get(run_id, default))


def set_threshold(run_id: str, value: float) -> None:
    st.session_state.setdefault(THRESHOLDS, {})[run_id] = float(value)


def my_jobs() -> list:
    """This session's jobs, newest first."""
    jobs = list(registry().list(owner=owner()))
    return sorted(jobs, key=lambda j: getattr(j, "submitted", 0) or 0, reverse=True)


def active(jobs: list) -> bool:
    return any(j.state in ("queued", "running") for j in jobs)
