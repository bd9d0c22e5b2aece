"""Shared test fixtures.

- ``shared_file(relpath)``: a file under the shared datasets folder (env ``ODCORE_DATA_DIR``,
  default ``../shared/datasets``). Skips with a reason when it is missing, fails under ``CI=true``.
- ``require(module)``: skip when an optional module is missing, fail under ``CI=true``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# the app warms UMAP up in the background (~60 s of numba compilation): not in tests
os.environ.setdefault("ODCORE_WARM_UMAP", "0")


def shared_dir() -> Path:
    return Path(os.environ.get("ODCORE_DATA_DIR", ROOT.parent / "shared" / "datasets"))


def missing(reason: str):
    """Skip locally, fail in CI: CI must not pass by skipping."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing requirement is a failure, not a skip)")
    pytest.skip(reason)


def require(module: str):
    """Import an optional module, or skip (fail under CI=true, where requirements-dev.txt installs it)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        missing(f"{module} is not installed (pip install -r requirements-dev.txt)")


@pytest.fixture
def shared_file():
    def get(rel: str) -> Path:
        p = shared_dir() / rel
        if not p.exists():
            missing(f"shared dataset {p} is not present; set ODCORE_DATA_DIR to the datasets folder")
        return p

    return get


def clear_streamlit_caches() -> None:
    """Empty Streamlit's data and resource caches (each AppTest starts from nothing)."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def fresh_caches():
    """Streamlit's caches empty before and after the test (use with ``pytest.mark.usefixtures``)."""
    clear_streamlit_caches()
    yield
    clear_streamlit_caches()


@pytest.fixture(autouse=True, scope="session")
def _torch_threads():
    """Two threads at most: the CI machine has two cores."""
    try:
        import torch
    except ImportError:
        yield
        return
    torch.set_num_threads(min(2, torch.get_num_threads()))
    yield
