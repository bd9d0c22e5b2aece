"""Scoring Parquet data on Ray Data: ``python -m odcore score --engine ray``.

:func:`score_dataset` reads a Parquet file, folder or glob with ``ray.data.read_parquet``, scores it
with ``map_batches`` on a pool of actors (:class:`RunScorer`: each loads the stored run once, then
scores Arrow batches with the same :class:`odcore.runs.scoring.Scorer` as the local engine) and
writes Parquet parts with ``write_parquet``. The output has the carried key columns, ``score``,
``pred`` (+ ``label``, ``decoder``), but no positions (``row_id``, ``source_row``): the parts are
written in parallel, so rows are joined back to the input on its key columns. A local Ray instance
is started when no address is given; on a cluster, the run store and the input and output folders
must be on storage every node reads (a shared file system, or URIs such as ``s3://``).
"""

from __future__ import annotations

import glob
import logging
import os
from pathlib import Path
from typing import Any

from odcore.errors import InputError

RAY_MISSING = ("the ray engine needs Ray Data, an optional dependency: pip install -r requirements-ray.txt "
               "(or pip install '.[ray]' for the library; or use --engine local)")


class RunScorer:
    """The callable class of ``map_batches``: loads the run from its store once per actor, then
    ``__call__(pyarrow.Table) -> pyarrow.Table`` with :meth:`Scorer.score_batch`."""

    def __init__(self, runs_root: str, run_id: str) -> None:
        from odcore.runs.scoring import Scorer
        from odcore.runs.store import RunStore

        self.scorer = Scorer(RunStore(runs_root, read_only=True).get(run_id), row_ids=False)

    def __call__(self, batch: Any) -> Any:
        return self.scorer.score_batch(batch)


def _is_uri(path: str) -> bool:
    return "://" in path


def input_paths(source: str | os.PathLike) -> list[str] | str:
    """What ``read_parquet`` reads: a URI as given, or the local Parquet file or folder, or a glob's
    files (checked by the local engine's :func:`odcore.runs.scoring.parquet_files`; refused when
    nothing matches)."""
    from odcore.runs.scoring import PARQUET_SUFFIXES, parquet_files

    text = str(source)
    if _is_uri(text):
        return text
    p = Path(text)
    if not glob.has_magic(text) and p.is_file() and not p.name.lower().endswith(PARQUET_SUFFIXES):
        raise InputError(f"--engine ray reads Parquet only ({p.name}); convert it, or score it with --engine local")
    files, _ = parquet_files(text, engine="ray")
    # a folder is listed by Ray itself (one listing; a list of paths is resolved in parallel threads)
    return [str(f) for f in files] if glob.has_magic(text) else str(p)


def _input_error(exc: BaseException) -> InputError | None:
    """The InputError behind a Ray task or actor failure (Ray wraps the worker's exception)."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, InputError):
            return e
        todo.extend([getattr(e, "cause", None), e.__cause__, e.__context__])
    return None


def score_dataset(run: Any, source: str | os.PathLike, output: str | os.PathLike, *, address: str | None = None,
                  workers: int = 1, gpus_per_worker: float = 0.0, batch_size: int = 100_000) -> dict[str, Any]:
    """Score Parquet data with a finished run on Ray Data; write Parquet parts into the folder ``output``.

    ``workers`` actors (one CPU each, ``gpus_per_worker`` GPUs each when a GPU is asked for) each load
    the run once and score ``batch_size``-row Arrow batches. Returns ``{"rows", "flagged",
    "threshold", "parts", "workers"}`` (rows and flagged counted from the written parts when the
    output is a local folder, else None).
    """
    from odcore.runs.scoring import Scorer

    if workers < 1:
        raise InputError("--workers must be at least 1")
    if batch_size < 1:
        raise InputError("chunk size must be at least 1")
    if gpus_per_worker < 0:
        raise InputError("--gpus must be 0 or more (GPUs per worker)")
    paths = input_paths(source)
    out = str(output)
    if not _is_uri(out):
        o = Path(out)
        if o.name.lower().endswith((".parquet", ".pq", ".csv")) and not o.is_dir():
            raise InputError(f"--engine ray writes a folder of Parquet parts; give a folder name, not {o.name}")
        if o.exists() and (not o.is_dir() or any(o.iterdir())):
            raise InputError(f"output folder {o} exists and is not empty; give a new folder (parts are never "
                             "mixed with older output)")
    scorer = Scorer(run)  # refuses an unfinished or damaged run here, before Ray starts
    if scorer.windowed:
        raise InputError(f"run {run.id} scores windows of whole series, which Ray's batches would split; "
                         "score it with --engine local")
    threshold = scorer.threshold
    del scorer
    try:
        import ray
        import ray.data
    except ImportError:
        raise InputError(RAY_MISSING) from None
    started_here = not ray.is_initialized()
    if started_here:
        # a local instance gets a CPU slot for the read and write tasks beside the actors (with one slot
        # per core, two actors on two cores starve them and the job never ends)
        local = {} if address else {"num_cpus": max(os.cpu_count() or 1, int(workers) + 1)}
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False, include_dashboard=False,
                 logging_level=logging.WARNING, runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}}, **local)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ds = ray.data.read_parquet(paths)  # hive key=value folders become columns, as on the local engine
        gpus = float(gpus_per_worker) or None
        scored = ds.map_batches(RunScorer, fn_constructor_args=(str(run.store.root), run.id),
                                batch_size=int(batch_size), batch_format="pyarrow",
                                compute=ray.data.ActorPoolStrategy(size=int(workers)), num_cpus=1, num_gpus=gpus)
        try:
            scored.write_parquet(out)
        except Exception as exc:  # noqa: BLE001 - Ray wraps the worker's error; the user gets its message
            found = _input_error(exc)
            if found is not None:
                raise InputError(str(found)) from None
            raise
    finally:
        if started_here:
            ray.shutdown()
    rows = flagged = None
    parts = 0
    if not _is_uri(out):
        import pyarrow.parquet as pq

        files = sorted(Path(out).glob("*.parquet"))
        parts, rows, flagged = len(files), 0, 0
        for f in files:
            pred = pq.read_table(f, columns=["pred"]).column("pred")
            rows += len(pred)
            flagged += int(pred.to_numpy().sum())
        if rows == 0:
            raise InputError(f"{source} has no rows to score")
    return {"rows": rows, "flagged": flagged, "threshold": threshold, "parts": parts, "workers": int(workers)}
