"""Benchmark grids: (dataset x method x seed) cells run one after the other or as Ray tasks.

A cell is a plain, picklable dict (a :class:`~odcore.runs.spec.ResolvedRun` record), so the same cells
run in this process (``engine="local"``) or on a Ray cluster (``engine="ray"``) and give the same
records. ``python -m odcore bench`` and ``bench/`` use these.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

from odcore.data.record import Dataset
from odcore.errors import InputError
from odcore.runs.execution import execute, make_split
from odcore.runs.spec import ResolvedRun, RunSpec, resolve

_DATA_CACHE: dict[str, Any] = {}
_DATA_CACHE_LOCK = threading.Lock()


def _memo(key: str, load: Callable[[], Any]) -> Any:
    with _DATA_CACHE_LOCK:
        if key in _DATA_CACHE:
            return _DATA_CACHE[key]
    value = load()
    with _DATA_CACHE_LOCK:
        if len(_DATA_CACHE) >= 8:
            _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
        _DATA_CACHE[key] = value
    return value


def loaded(data: str, data_options: dict | None = None) -> tuple[Dataset, str | None]:
    """``(Dataset, source hash)`` of a built-in or file (``odcore.runs.prepared.load``), memoised per process:
    a grid loads each dataset once per worker."""
    from odcore.runs import prepared

    key = json.dumps([data, data_options or {}], sort_keys=True, default=str)
    return _memo(key, lambda: prepared.load(data, dict(data_options or {})))


def cached_dataset(run: ResolvedRun) -> Dataset:
    """The Dataset of a resolved grid cell, loaded once per process (and checked against the run's hash)."""
    ds = loaded(run.data, run.data_options)[0]
    if ds.content_hash() != run.data_hash:
        raise InputError(f"the data behind {run.data} changed since the grid was set up (hash {ds.content_hash()} "
                         f"!= {run.data_hash}); restore the file or set the grid up again")
    return ds


def options_for(data: str, data_options: dict | None) -> dict:
    """Loader options apply to files; built-ins (which refuse options they do not know) get none."""
    import odcore.data

    return {} if data in odcore.data.builtin_names() else dict(data_options or {})


def validate_grid(datasets: list[str], protocol: str, protocol_options: dict, data_options: dict | None = None) -> None:
    """Load every dataset and split it once, so bad files and unsupported protocols fail up front."""
    import odcore.data

    for d in datasets:
        try:
            opts = odcore.data.parse_options(d, options_for(d, data_options))
            make_split(loaded(d, opts)[0], protocol, 0, dict(protocol_options))
        except InputError as exc:
            raise InputError(f"{d}: {exc}") from None


def grid_cells(datasets: list[str], methods: list[str], protocol: str, *, seeds: Iterable[int],
               protocol_options: dict | None = None,
               params: dict[str, dict] | None = None, data_options: dict | None = None) -> list[dict[str, Any]]:
    """One plain-dict cell per (dataset, method, seed), in that nesting order (picklable for Ray): the
    dataset's label and the cell's :class:`~odcore.runs.spec.ResolvedRun` record (each cell's request is
    resolved here, once: its parameters, options and data checked)."""
    cells = []
    for d in datasets:
        for m in methods:
            for s in seeds:
                spec = RunSpec(data=d, method=m, protocol=protocol, data_options=options_for(d, data_options),
                               protocol_options=dict(protocol_options or {}), params=dict((params or {}).get(m, {})),
                               seed=int(s), monitor=False)
                run = resolve(spec, split=False, load=loaded)
                cells.append({"dataset": d, "run": run.to_dict()})
    return cells


def run_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Run one grid cell; returns the benchmark record (the keys of ``odcore bench --json``, plus ``used``: the
    detectors an ``ensemble`` / ``auto`` run combined, for detectors that report a choice)."""
    run = ResolvedRun.from_dict(cell["run"])
    res = execute(dataclasses.replace(run, dataset=cached_dataset(run)))
    m = res["metrics"]
    out = {"dataset": cell["dataset"], "method": run.method, "protocol": run.protocol, "seed": run.seed,
           "auroc": m.get("auroc"), "auprc": m.get("auprc"), "precision_at_10": m.get("precision_at_10"),
           "f1": m.get("f1"), "fit_seconds": res["fit_seconds"], "score_seconds": res["score_seconds"]}
    if res.get("report"):
        out["used"] = list(res["report"].get("used", []))
    return out


RAY_MISSING = ("the ray engine needs Ray, an optional dependency: pip install -r requirements-ray.txt "
               "(or pip install '.[ray]' for the library; or use --engine local)")


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError(RAY_MISSING) from None
    return ray


def run_grid(cells: list[dict[str, Any]], *, engine: str = "local", address: str | None = None,
             progress: Callable[[dict], None] | None = None) -> list[dict[str, Any]]:
    """Run every cell and return the records in cell order.

    ``engine="local"`` runs them one after the other in this process; ``engine="ray"`` runs
    each cell as a Ray task (one CPU each) on a local Ray instance, or on the cluster at
    ``address``. Data paths must be readable where the tasks run. ``progress(record)`` is
    called as each cell finishes.
    """
    if engine == "local":
        out = []
        for c in cells:
            rec = run_cell(c)
            out.append(rec)
            if progress is not None:
                progress(rec)
        return out
    if engine != "ray":
        raise InputError(f"unknown engine {engine!r}; choose local or ray")
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False,
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    try:
        task = ray.remote(num_cpus=1)(run_cell)
        refs = [task.remote(c) for c in cells]
        pending = list(refs)
        done: dict[Any, dict] = {}
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for r in ready:
                done[r] = ray.get(r)
                if progress is not None:
                    progress(done[r])
        return [done[r] for r in refs]
    finally:
        if started_here and hasattr(ray, "shutdown"):
            ray.shutdown()
