"""Runs: what to run, running it, keeping it, and using it afterwards.

- :mod:`odcore.runs.spec`: :class:`RunSpec`, a plain record of what to run, and :func:`resolve`, which
  validates it once into a :class:`ResolvedRun` (what jobs, estimates, execution, grids and searches take);
- :mod:`odcore.runs.prepared`: a file's data loaded and prepared once per (content, options), cached in
  the run store;
- :mod:`odcore.runs.execution`: :func:`prepare` (data, split, detector) and :func:`execute` (fit,
  score, metrics, store);
- :mod:`odcore.runs.store`: :class:`RunStore`, runs on disk as plain records (it imports nothing
  above the data layer);
- :mod:`odcore.runs.rebuild`: a stored run's spec, fitted model and (dataset, split);
- :mod:`odcore.runs.scoring`: :func:`score_file`, scoring new files with a finished run;
- :mod:`odcore.runs.grid`: benchmark grids on the local or the Ray engine.

The names below are imported lazily (``from odcore.runs import RunStore`` does not import torch).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RunSpec": "odcore.runs.spec", "STORED_PREFIX": "odcore.runs.spec", "ResolvedRun": "odcore.runs.spec",
    "resolve": "odcore.runs.spec",
    "prepare": "odcore.runs.execution", "execute": "odcore.runs.execution",
    "RunStore": "odcore.runs.store", "Run": "odcore.runs.store",
    "load_model": "odcore.runs.rebuild", "load_split": "odcore.runs.rebuild", "run_spec": "odcore.runs.rebuild",
    "score_file": "odcore.runs.scoring",
    "grid_cells": "odcore.runs.grid", "run_grid": "odcore.runs.grid",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'odcore.runs' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
