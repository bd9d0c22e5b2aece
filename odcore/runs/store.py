"""The run store: every run on disk, one folder each, plus a SQLite index for listing.

Layout of ``<root>/<run_id>/``::

    config.json      spec, method + full parameters, dataset reference and content hash,
                     protocol + options + split seed, seed, device, library versions,
                     created / finished times, status, timings, metrics, error message
    history.jsonl    one JSON record per epoch, appended as training goes
    model/           the fitted model's own save (safetensors weights + JSON config)
    transform.npz    the run's standardiser (odcore.data.scaling.Standardizer arrays: mean, scale)
    scores.parquet   row_id, score, label (if known), pred, decoder (if the detector has assign)
    metrics.json     odcore.metrics.summary of the test part
    error.txt        message and traceback of a failed run
    cache/           per-run cache (embeddings ...)

Datasets that cannot be re-derived from a name or a path (uploads, in-memory data) are kept
once under ``<root>/_data/<content_hash>.npz`` (no pickle) with their meta table beside it.

Every file is written to a temporary name and renamed into place, and ``config.json`` with
its ``status`` is written last, so a reader never sees a half-written run as finished. A run
still marked ``running`` whose writer is gone (a crash, a kill) is marked ``failed`` the next
time a store opens the folder. The index (``index.sqlite``) is only a cache of the folders: it is
rebuilt from them when it is missing or unreadable (:meth:`RunStore.rebuild_index`).

The store persists and reads plain records (dicts, arrays, tables, files) and imports nothing above
the data layer: what a record means (re-deriving a run's split, loading its model, resolving a
device or a method's family) is worked out above it, in :mod:`odcore.runs.execution` and
:mod:`odcore.runs.rebuild`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import socket
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from odcore.data.record import Dataset
from odcore.data.scaling import Standardizer
from odcore.errors import InputError
from odcore.jsonio import atomic_write_bytes, atomic_write_json, jsonable

ENV_ROOT = "ODCORE_RUNS_DIR"
STATUSES = ("running", "done", "failed", "cancelled")
INDEX_FILE = "index.sqlite"
DATA_DIR = "_data"
TRANSFORM_FILE = "transform.npz"

# run ids written by this process right now, and a token that tells this process from a later
# one that happens to get the same pid
_LIVE: set[str] = set()
_LIVE_LOCK = threading.Lock()
_PROCESS_TOKEN = uuid.uuid4().hex


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def _versions() -> dict[str, str]:
    from importlib import metadata

    import odcore

    out = {"odcore": odcore.__version__, "python": ".".join(map(str, __import__("sys").version_info[:3]))}
    for pkg in ("torch", "numpy", "scikit-learn", "pandas", "pyarrow"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class Run:
    """A run folder, read lazily. Fields: ``id``, ``path``, ``config``, ``status``, ``error``,
    ``traceback``; properties ``history``, ``metrics``, ``scores``, ``cache_dir``, ``model_dir``;
    :meth:`standardizer`. Rebuilding its model and split: :mod:`odcore.runs.rebuild`."""

    def __init__(self, store: RunStore, run_id: str, path: Path, config: dict[str, Any]):
        self.store = store
        self.id = run_id
        self.path = path
        self.config = config
        self.status: str = config.get("status", "failed")
        self.error: str | None = config.get("error")
        self.traceback: str | None = None
        err = path / "error.txt"
        if err.exists():
            text = err.read_text(errors="replace")
            head, _, rest = text.partition("\n\n")
            self.error = self.error or head
            self.traceback = rest or None

    def __repr__(self) -> str:
        return f"Run({self.id!r}, status={self.status!r})"

    @property
    def method(self) -> str:
        """The method name the run trained."""
        return self.config.get("method", "")

    @property
    def history(self) -> list[dict]:
        """Per-epoch records; a torn last line (crash mid-append) is skipped."""
        p = self.path / "history.jsonl"
        if not p.exists():
            return []
        out = []
        for line in p.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    @property
    def metrics(self) -> dict[str, Any]:
        """The test part's metrics (empty before the run is done)."""
        p = self.path / "metrics.json"
        return json.loads(p.read_text()) if p.exists() else {}

    @property
    def scores(self) -> Any:
        """DataFrame (row_id, score, label if known, pred, decoder if any); None before the run is done."""
        p = self.path / "scores.parquet"
        if not p.exists():
            return None
        import pandas as pd

        return pd.read_parquet(p)

    @property
    def cache_dir(self) -> Path:
        """The run's cache folder (embeddings ...), created on first use."""
        p = self.path / "cache"
        p.mkdir(exist_ok=True)
        return p

    @property
    def model_dir(self) -> Path:
        """The folder holding the saved model (exists only for finished runs)."""
        return self.path / "model"

    def standardizer(self) -> Standardizer:
        """The run's standardiser (saved from its split); the identity when the protocol had none."""
        p = self.path / TRANSFORM_FILE
        if not p.exists():
            return Standardizer.identity()
        with np.load(p, allow_pickle=False) as z:
            return Standardizer.from_arrays(z)


class RunStore:
    """Runs on disk under ``root`` (argument, env ``ODCORE_RUNS_DIR``, or ``./runs``)."""

    def __init__(self, root: str | os.PathLike | None = None, *, recover: bool = True):
        self.root = Path(root or os.environ.get(ENV_ROOT) or "runs").resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._index_path = self.root / INDEX_FILE
        self._open_index()
        if recover:
            self.recover()

    # ------------------------------------------------------------------ index
    def _connect(self) -> sqlite3.Connection:
        """Open the index (WAL journal) and create the runs table when it is missing."""
        con = sqlite3.connect(self._index_path, timeout=30, check_same_thread=False)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(
            "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, method TEXT, data TEXT, "
            "data_hash TEXT, protocol TEXT, status TEXT, created TEXT, seed INTEGER, row TEXT)")
        con.commit()
        return con

    def _open_index(self) -> None:
        with self._lock:
            try:
                self._con = self._connect()
                ids = {r[0] for r in self._con.execute("SELECT id FROM runs")}
            except sqlite3.DatabaseError:
                self._reset_index()
                return
            on_disk = set(self._run_dirs())
            if ids != on_disk:  # folders added or removed behind our back: bring the index up to date
                for rid in ids - on_disk:
                    self._con.execute("DELETE FROM runs WHERE id=?", (rid,))
                for rid in on_disk - ids:
                    cfg = self._read_config(rid)
                    if cfg is not None:
                        self._index(cfg, commit=False)
                self._con.commit()

    def _reset_index(self) -> None:
        try:
            self._con.close()
        except Exception:  # noqa: BLE001
            pass
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self._index_path) + suffix)
            if p.exists():
                p.unlink()
        self._con = self._connect()
        self.rebuild_index()

    def rebuild_index(self) -> int:
        """Re-create the index from the run folders; returns the number of runs indexed."""
        with self._lock:
            self._con.execute("DELETE FROM runs")
            n = 0
            for rid in self._run_dirs():
                cfg = self._read_config(rid)
                if cfg is not None:
                    self._index(cfg, commit=False)
                    n += 1
            self._con.commit()
            return n

    def _run_dirs(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(("_", ".")) and (p / "config.json").exists())

    @staticmethod
    def _row(cfg: dict[str, Any]) -> dict[str, Any]:
        spec = cfg.get("spec", {})
        return {"id": cfg["id"], "method": cfg.get("method"), "data": spec.get("data"),
                "data_name": cfg.get("dataset", {}).get("name"), "protocol": spec.get("protocol"),
                "status": cfg.get("status"), "created": cfg.get("created"), "finished": cfg.get("finished"),
                "seed": spec.get("seed"), "metrics": cfg.get("metrics", {}), "error": cfg.get("error"),
                "fit_seconds": cfg.get("timings", {}).get("fit_seconds")}

    def _index(self, cfg: dict[str, Any], commit: bool = True) -> None:
        row = self._row(cfg)
        with self._lock:
            try:
                self._con.execute(
                    "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?)",
                    (row["id"], row["method"], row["data"], cfg.get("dataset", {}).get("hash"), row["protocol"],
                     row["status"], row["created"], row["seed"], json.dumps(row)))
                if commit:
                    self._con.commit()
            except sqlite3.DatabaseError:
                self._reset_index()

    def list_runs(self, *, method: str | None = None, data: str | None = None, protocol: str | None = None,
                  status: str | list[str] | None = None, created_after: str | None = None,
                  created_before: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Runs as dicts (id, method, data, protocol, status, created, seed, metrics, error ...),
        newest first, filtered by equality on the named fields and by ISO creation time."""
        where, args = [], []
        for col, val in (("method", method), ("data", data), ("protocol", protocol)):
            if val is not None:
                where.append(f"{col}=?")
                args.append(val)
        if status is not None:
            sts = [status] if isinstance(status, str) else list(status)
            where.append(f"status IN ({','.join('?' * len(sts))})")
            args += sts
        if created_after:
            where.append("created>=?")
            args.append(created_after)
        if created_before:
            where.append("created<?")
            args.append(created_before)
        sql = "SELECT row FROM runs" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            try:
                rows = self._con.execute(sql, args).fetchall()
            except sqlite3.DatabaseError:
                self._reset_index()
                rows = self._con.execute(sql, args).fetchall()
        return [json.loads(r[0]) for r in rows]

    # ------------------------------------------------------------------ reading
    def _read_config(self, run_id: str) -> dict[str, Any] | None:
        p = self.root / run_id / "config.json"
        try:
            return json.loads(p.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def get(self, run_id: str) -> Run:
        """The run ``run_id`` (raises :class:`InputError` naming a few known ids when missing)."""
        if not run_id or "/" in run_id or run_id.startswith((".", "_")):
            raise InputError(f"not a run id: {run_id!r}")
        cfg = self._read_config(run_id)
        if cfg is None:
            known = [r["id"] for r in self.list_runs(limit=5)]
            hint = f"; recent runs: {', '.join(known)}" if known else "; the store is empty"
            raise InputError(f"no run {run_id!r} in {self.root}{hint}")
        return Run(self, run_id, self.root / run_id, cfg)

    def __contains__(self, run_id: str) -> bool:
        return self._read_config(run_id) is not None

    # ------------------------------------------------------------------ writing
    def new_id(self, method: str = "run") -> str:
        """A fresh run id: time stamp, method, random suffix."""
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return f"{stamp}-{method}-{uuid.uuid4().hex[:6]}"

    def _write_config(self, cfg: dict[str, Any]) -> None:
        atomic_write_json(self.root / cfg["id"] / "config.json", cfg)
        self._index(cfg)

    def _update(self, run_id: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            cfg = self._read_config(run_id)
            if cfg is None:
                raise InputError(f"no run {run_id!r} in {self.root}")
            cfg.update(fields)
            self._write_config(cfg)
            return cfg

    def begin(self, method: str, spec: dict[str, Any], *, run_id: str | None = None) -> Run:
        """Create the run folder with status ``running``: the method and the spec record (a
        ``RunSpec.to_dict()``); what preparing the run resolves follows with :meth:`update`."""
        run_id = run_id or self.new_id(method)
        path = self.root / run_id
        path.mkdir(parents=True, exist_ok=False)
        cfg = {"id": run_id, "status": "running", "created": _now(), "method": method,
               "spec": dict(spec), "pid": os.getpid(), "host": socket.gethostname(),
               "process": _PROCESS_TOKEN, "versions": _versions()}
        with _LIVE_LOCK:
            _LIVE.add(run_id)
        self._write_config(cfg)
        return Run(self, run_id, path, cfg)

    def update(self, run_id: str, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the run's config record (written atomically, index updated)."""
        return self._update(run_id, **fields)

    def save_standardizer(self, run_id: str, scaler: Standardizer) -> None:
        """Keep the run's standardiser beside it (nothing is written for the identity)."""
        arrays = scaler.to_arrays()
        if not arrays:
            return
        import io

        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(self.root / run_id / TRANSFORM_FILE, buf.getvalue())

    def append_history(self, run_id: str, record: dict[str, Any]) -> None:
        """Append one per-epoch record to ``history.jsonl``."""
        line = json.dumps(jsonable(record)) + "\n"
        with open(self.root / run_id / "history.jsonl", "a") as fh:
            fh.write(line)
            fh.flush()

    def finish(self, run_id: str, *, model: Any, scores: dict[str, np.ndarray], metrics: dict[str, Any],
               timings: dict[str, float], device: str | None = None) -> None:
        """Write model, scores and metrics, then flip the status to ``done`` (the commit point).

        ``model`` is anything with ``save(folder)`` (a fitted detector); ``device`` the device it
        ran on, when known (else the one recorded earlier stays).
        """
        import pandas as pd

        path = self.root / run_id
        tmp_model = path / ".model.tmp"  # hidden *.tmp: removed by recover() after a crash
        if tmp_model.exists():
            shutil.rmtree(tmp_model)
        model.save(tmp_model)
        if (path / "model").exists():
            shutil.rmtree(path / "model")
        os.replace(tmp_model, path / "model")
        order = [c for c in ("row_id", "score", "label", "pred", "decoder") if c in scores]
        df = pd.DataFrame({c: scores[c] for c in order})
        tmp = path / ".scores.parquet.tmp"
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path / "scores.parquet")
        atomic_write_json(path / "metrics.json", metrics)
        extra = {"device": device} if device else {}
        self._update(run_id, status="done", finished=_now(), metrics=metrics, timings=timings, **extra)
        self._release(run_id)

    def mark(self, run_id: str, status: str, *, error: str | None = None, traceback: str | None = None) -> None:
        """Finish a run as ``failed`` or ``cancelled`` (history kept), with its error."""
        if status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)}")
        if traceback:
            atomic_write_bytes(self.root / run_id / "error.txt", f"{error}\n\n{traceback}".encode())
        self._update(run_id, status=status, finished=_now(), error=error)
        self._release(run_id)

    def _release(self, run_id: str) -> None:
        with _LIVE_LOCK:
            _LIVE.discard(run_id)

    def delete(self, run_id: str) -> None:
        """Remove a run folder and its index entry."""
        self.get(run_id)  # validates the id
        shutil.rmtree(self.root / run_id)
        with self._lock:
            self._con.execute("DELETE FROM runs WHERE id=?", (run_id,))
            self._con.commit()

    # ------------------------------------------------------------------ crash recovery
    def _writer_alive(self, cfg: dict[str, Any]) -> bool:
        if cfg.get("process") == _PROCESS_TOKEN:
            with _LIVE_LOCK:
                return cfg["id"] in _LIVE
        if cfg.get("host") not in (None, socket.gethostname()):
            return True  # another machine's run: we cannot tell, leave it alone
        pid = cfg.get("pid")
        return isinstance(pid, int) and pid != os.getpid() and _pid_alive(pid)

    def recover(self) -> list[str]:
        """Mark runs left ``running`` by a writer that is gone as ``failed``; returns their ids."""
        marked = []
        for row in self.list_runs(status="running"):
            cfg = self._read_config(row["id"])
            if cfg is None or cfg.get("status") != "running" or self._writer_alive(cfg):
                continue
            self.mark(row["id"], "failed",
                      error="the process writing this run stopped before it finished (crash or kill); "
                            "the history so far is kept",
                      traceback=f"writer pid {cfg.get('pid')} on {cfg.get('host')} is gone")
            for leftover in (self.root / row["id"]).glob(".*.tmp"):  # half-written files of the dead writer
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
            marked.append(row["id"])
        return marked

    # ------------------------------------------------------------------ stored datasets
    def save_dataset(self, ds: Dataset) -> str:
        """Keep an in-memory dataset under ``_data/<hash>.npz`` (no pickle); returns the hash."""
        h = ds.content_hash()
        folder = self.root / DATA_DIR
        folder.mkdir(exist_ok=True)
        target = folder / f"{h}.npz"
        if target.exists():
            return h
        import io

        arrays: dict[str, np.ndarray] = {"X": ds.X, "feature_names": np.asarray(ds.feature_names, dtype=str)}
        if ds.y is not None:
            arrays["y"] = ds.y
        if ds.image_shape is not None:
            arrays["image_shape"] = np.asarray(ds.image_shape, dtype=np.int64)
        if ds.classes is not None:
            c = np.asarray(ds.classes)
            arrays["classes"] = c.astype(str) if c.dtype == object else c
        info = {"name": ds.name, "kind": ds.kind, "source": ds.source, "notes": ds.notes, "table": ds.table}
        arrays["info"] = np.asarray(json.dumps(info))
        if ds.meta is not None:
            tmp = folder / f".{h}.meta.parquet.tmp"
            ds.meta.to_parquet(tmp, index=False)
            os.replace(tmp, folder / f"{h}.meta.parquet")
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(target, buf.getvalue())
        return h

    def load_dataset(self, content_hash: str) -> Dataset:
        """The dataset saved by :meth:`save_dataset`."""
        p = self.root / DATA_DIR / f"{content_hash}.npz"
        if not p.exists():
            raise InputError(f"stored dataset {content_hash} is not in {self.root / DATA_DIR}; "
                             "load the data again from its file")
        with np.load(p, allow_pickle=False) as z:
            info = json.loads(str(z["info"]))
            ds = Dataset(name=info["name"], X=z["X"], y=z["y"] if "y" in z else None, kind=info["kind"],
                         image_shape=tuple(int(s) for s in z["image_shape"]) if "image_shape" in z else None,
                         feature_names=[str(s) for s in z["feature_names"]], source=info["source"],
                         notes=info["notes"], classes=z["classes"] if "classes" in z else None,
                         table=info.get("table"))
        meta = p.with_name(f"{content_hash}.meta.parquet")
        if meta.exists():
            import pandas as pd

            ds.meta = pd.read_parquet(meta)
        return ds
