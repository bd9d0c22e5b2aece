"""Benchmark grids: (dataset x method x seed) cells run one after the other or as Ray tasks.

A cell is a plain, picklable dict (a :class:`~odcore.runs.spec.RunSpec` record), so the same cells
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
from odcore.runs.execution import execute, load_data, make_split
from odcore.runs.spec import RunSpec

_DATA_CACHE: dict[str, Any] = {}
_DATA_CACHE_LOCK = threading.Lock()


def cached_dataset(data: str, data_options: dict | None = None) -> Dataset:
    """``odcore.data.load`` memoised per process (a grid loads each dataset once per worker)."""
    key = json.dumps([data, data_options or {}], sort_keys=True, default=str)
    with _DATA_CACHE_LOCK:
        if key in _DATA_CACHE:
            return _DATA_CACHE[key]
    ds = load_data(RunSpec(data=data, method="", data_options=dict(data_options or {})))
    with _DATA_CACHE_LOCK:
        if len(_DATA_CACHE) >= 8:
            _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
        _DATA_CACHE[key] = ds
    return ds


def options_for(data: str, data_options: dict | None) -> dict:
    """Loader options apply to files; built-ins (which refuse options they do not know) get none."""
    import odcore.data

    return {} if data in odcore.data.builtin_names() else dict(data_options or {})


def validate_grid(datasets: list[str], protocol: str, protocol_options: dict, data_options: dict | None = None) -> None:
    """Load every dataset and split it once, so bad files and unsupported protocols fail up front."""
    for d in datasets:
        try:
            ds = cached_dataset(d, options_for(d, data_options))
            make_split(ds, protocol, 0, dict(protocol_options))
        except InputError as exc:
            raise InputError(f"{d}: {exc}") from None


def grid_cells(datasets: list[str], methods: list[str], protocol: str, *, seeds: Iterable[int],
               protocol_options: dict | None = None,
               params: dict[str, dict] | None = None, data_options: dict | None = None) -> list[dict[str, Any]]:
    """One plain-dict cell per (dataset, method, seed), in that nesting order (picklable for Ray)."""
    cells = []
    for d in datasets:
        for m in methods:
            for s in seeds:
                spec = RunSpec(data=d, method=m, protocol=protocol, data_options=options_for(d, data_options),
                               protocol_options=dict(protocol_options or {}), params=dict((params or {}).get(m, {})),
                               seed=int(s), monitor=False)
                cells.append({"dataset": d, "spec": spec.to_dict()})
    return cells


def run_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Run one grid cell; returns the benchmark record (the keys of ``odcore bench --json``, plus ``used``: the
    detectors an ``ensemble`` / ``auto`` run combined, for detectors that report a choice)."""
    spec = RunSpec.from_dict(cell["spec"])
    ds = cached_dataset(spec.data, spec.data_options)
    res = execute(dataclasses.replace(spec, data=ds))
    m = res["metrics"]
    out = {"dataset": cell["dataset"], "method": spec.method, "protocol": spec.protocol, "seed": spec.seed,
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
