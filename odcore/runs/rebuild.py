"""Rebuilding what a stored run saw: its spec, its fitted model and its (dataset, split).

The run store only keeps records (:mod:`odcore.runs.store`); turning them back into live objects
needs the data layer's loaders and protocols and the models' ``load``, so it lives here, above
the store.
"""

from __future__ import annotations

from typing import Any

from odcore.data.record import Dataset, Split
from odcore.errors import InputError
from odcore.runs.execution import make_split
from odcore.runs.spec import RunSpec
from odcore.runs.store import Run


def run_spec(run: Run) -> RunSpec:
    """The :class:`RunSpec` the run was started with."""
    return RunSpec.from_dict(run.config["spec"])


def load_model(run: Run) -> Any:
    """The fitted detector saved with the run, wrapped in its re-ranking when it trained with marks
    (:class:`odcore.runs.rerank.Reranked`); raises :class:`InputError` when it has none."""
    from odcore.models.base import BaseDetector

    if getattr(run, "damage", None):
        raise InputError(f"run {run.id} is damaged: {run.damage}; its model cannot be loaded: train it again, "
                         "or delete the run")
    if not run.model_dir.exists():
        raise InputError(f"run {run.id} has no saved model (status {run.status}); "
                         "only finished runs can be reloaded")
    from odcore.runs.rerank import load as with_rerank

    return with_rerank(BaseDetector.load(run.model_dir), run.model_dir)  # a run trained with marks: its re-ranking


def table_prep(run: Run) -> Any:
    """The fitted :class:`odcore.data.table.TablePrep` the run's data went through, or None (data
    that were not prepared as a table: built-ins, arrays, plain CSV loads)."""
    from odcore.data.table import TablePrep

    rec = run.config.get("dataset", {}).get("table")
    return None if not rec else TablePrep.from_dict(rec)


def load_split(run: Run) -> tuple[Dataset, Split]:
    """Re-derive ``(Dataset, Split)`` exactly as the run saw them (same data hash and seed): a stored dataset, or
    the file's prepared table from the store's cache (prepared again only when the cache no longer has it)."""
    from odcore.runs.prepared import spec_data

    spec = run_spec(run)
    ds = spec_data(spec, run.store)  # a file's prepared table from the store's cache
    want = run.config.get("dataset", {}).get("hash")
    if want and ds.content_hash() != want:
        raise InputError(f"the data behind run {run.id} ({spec.data}) changed since the run "
                         f"(hash {ds.content_hash()} != {want}); restore the original file")
    return ds, make_split(ds, spec.protocol, int(spec.seed), dict(spec.protocol_options))
