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
rebuilt from them when it is missing or unreadable (:meth:`RunStore.rebuild_index`) and reconciled
with them (:meth:`RunStore.sync`): a run whose config file is damaged, or whose finished files
(the manifest ``files`` in its config) are missing or changed, is listed as ``damaged`` with the
reason, and one damaged run never breaks a listing.

The store degrades, it does not lie: opened with ``read_only=True`` it writes nothing (the index
is then built in memory); a folder it cannot write (read-only, full) turns it read-only with a
warning; a failure record it cannot write is kept in memory and in the log and retried.

The store persists and reads plain records (dicts, arrays, tables, files) and imports nothing above
the data layer: what a record means (re-deriving a run's split, loading its model, resolving a
device or a method's family) is worked out above it, in :mod:`odcore.runs.execution` and
:mod:`odcore.runs.rebuild`.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import logging
import os
import shutil
import socket
import sqlite3
import tempfile
import threading
import time
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
#: prepared datasets (a file's data loaded and prepared with some options), a bounded cache under ``_data/``
PREPARED_DIR = "prepared"
PREPARED_MAX = 16
PREPARED_MAX_BYTES = 2 << 30
TRANSFORM_FILE = "transform.npz"
#: a block reserved in every run folder at ``begin`` for the run's outcome: on a full disk a failure
#: is written into it in place (no new block is needed), so the next start knows the real cause
RESERVED_FILE = ".outcome"
RESERVED_BYTES = 4096

log = logging.getLogger(__name__)

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


class StoreError(InputError):
    """The run store cannot do what was asked (read-only folder, full disk, damaged run); the message
    says what and how to fix it."""


def _why(exc: OSError) -> str:
    """A write failure in words, with the fix."""
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return "the disk is full (no space left on device); free space or move the runs folder (ODCORE_RUNS_DIR)"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return ("the folder is read-only for this server; make it writable or point ODCORE_RUNS_DIR at a "
                "writable folder")
    return f"{exc.strerror or exc} ({type(exc).__name__}); check the runs folder (ODCORE_RUNS_DIR)"


def _out_of_space(exc: BaseException, path: Path) -> bool:
    """Whether a failed write ran out of space (a saver's own error type that wraps ENOSPC included)."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if "no space left" in str(exc).lower() or "disk is full" in str(exc).lower():
        return True
    try:
        return shutil.disk_usage(path).free < 64 * 1024
    except OSError:
        return False


def _sig(path: Path) -> str | None:
    """``mtime_ns-size`` of a file (None when it is missing): tells a changed config.json from the indexed one."""
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{st.st_mtime_ns}-{st.st_size}"


#: the largest config.json read (a bigger one is damage, not a record)
MAX_RECORD_BYTES = 64 << 20
#: the deepest nesting a record may have (a real one nests about 6 deep)
MAX_RECORD_DEPTH = 64
_NONE = type(None)
_NUMBER = (int, float, _NONE)
_SCALAR = (str, int, float, bool, _NONE)


class _ListOf:
    """A JSON list whose items are each of ``types``."""

    def __init__(self, *types: Any):
        self.types = types


class _MapOf:
    """A JSON object whose values are each of ``types``."""

    def __init__(self, *types: Any):
        self.types = types


#: What each field of a run record must be, for the fields the store and the layers above read: a type or
#: a tuple of types, a nested schema (a dict: that object's fields), a list or a map of a type. A field
#: that is absent is fine, one not named here is kept as it is.
RECORD_SCHEMA: dict[str, Any] = {
    "id": str, "status": str, "created": (str, _NONE), "finished": (str, _NONE), "method": str,
    "owner": (str, _NONE), "error": (str, _NONE), "device": (str, _NONE), "family": (str, _NONE),
    "protocol": (str, _NONE), "seed": (int, _NONE), "split_seed": (int, _NONE), "pid": (int, _NONE),
    "host": (str, _NONE), "process": (str, _NONE), "params": dict, "protocol_options": dict, "split": dict,
    "versions": _MapOf(*_SCALAR), "metrics": _MapOf(*_SCALAR), "timings": _MapOf(*_NUMBER),
    "files": _MapOf(int, _NONE), "state": (dict, _NONE), "report": (dict, _NONE), "marks_used": (dict, _NONE),
    "spec": {"data": (str, _NONE), "method": (str, _NONE), "protocol": (str, _NONE), "seed": (int, _NONE),
             "params": dict, "data_options": dict, "protocol_options": dict},
    "dataset": {"name": (str, _NONE), "hash": (str, _NONE), "source": (str, _NONE), "rows": (int, _NONE),
                "features": (int, _NONE), "kind": (str, _NONE), "label_column": (str, _NONE),
                "feature_names": (_ListOf(str), _NONE), "image_shape": (_ListOf(int), _NONE),
                "meta_columns": (_ListOf(str), _NONE), "table": (dict, _NONE)},
}
_JSON_TYPES = {dict: "an object", list: "a list", str: "text", int: "a whole number", float: "a number",
               bool: "true or false", _NONE: "null"}


def _type_name(v: Any) -> str:
    return _JSON_TYPES.get(type(v), type(v).__name__)


def _expected(rule: Any) -> str:
    if isinstance(rule, dict):
        return "an object"
    if isinstance(rule, _ListOf):
        return f"a list of {' or '.join(_expected(t) for t in rule.types)}"
    if isinstance(rule, _MapOf):
        return "an object of " + " or ".join(_expected(t) for t in rule.types if t is not _NONE)
    if isinstance(rule, tuple):
        return " or ".join(_expected(t) for t in rule)
    return _JSON_TYPES.get(rule, getattr(rule, "__name__", str(rule)))


def _fits(v: Any, rule: Any) -> bool:
    if isinstance(rule, tuple):
        return any(_fits(v, r) for r in rule)
    if isinstance(rule, dict):
        return isinstance(v, dict)
    if isinstance(rule, _ListOf):
        return isinstance(v, list) and all(any(_fits(x, t) for t in rule.types) for x in v)
    if isinstance(rule, _MapOf):
        return isinstance(v, dict) and all(any(_fits(x, t) for t in rule.types) for x in v.values())
    if rule is int:
        return isinstance(v, int) and not isinstance(v, bool)
    if rule is float:
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    return isinstance(v, rule)


def _too_deep(value: Any, limit: int) -> bool:
    """Whether ``value`` nests more than ``limit`` levels (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(v, dict):
            stack.extend((x, depth + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)
    return False


def record_problem(record: Any, run_id: str | None = None) -> str | None:
    """Why ``record`` (a parsed config.json) cannot be a run's record, or None when it can.

    Checks the nesting depth, that it is this run's record, the status, and the type of every field
    of :data:`RECORD_SCHEMA` (nested objects too), so that one ill-typed record is one damaged run and
    never an error in a page or a command that lists the runs."""
    if not isinstance(record, dict):
        return f"config.json is damaged (it holds {_type_name(record)}, not a run's record)"
    if _too_deep(record, MAX_RECORD_DEPTH):
        return f"config.json is damaged (nested more than {MAX_RECORD_DEPTH} levels deep)"
    if run_id is not None and record.get("id") != run_id:
        return "config.json is damaged (not this run's record)"
    if "status" in record and record["status"] not in STATUSES:
        return (f"config.json is damaged (status is {str(record['status'])[:40]!r}, not one of "
                f"{', '.join(STATUSES)})")

    def walk(obj: dict, schema: dict, where: str) -> str | None:
        for key, rule in schema.items():
            if key not in obj:
                continue
            v = obj[key]
            if not _fits(v, rule):
                return f"config.json is damaged ({where}{key} is {_type_name(v)}, not {_expected(rule)})"
            if isinstance(rule, dict) and isinstance(v, dict):
                why = walk(v, rule, f"{where}{key}.")
                if why:
                    return why
        return None

    return walk(record, RECORD_SCHEMA, "")


class Run:
    """A run folder, read lazily. Fields: ``id``, ``path``, ``config``, ``status``, ``error``,
    ``traceback``, ``damage`` (why the run's files cannot be used, or None); properties ``history``,
    ``metrics``, ``scores``, ``cache_dir``, ``model_dir``; :meth:`standardizer`. Rebuilding its model
    and split: :mod:`odcore.runs.rebuild`."""

    def __init__(self, store: RunStore, run_id: str, path: Path, config: dict[str, Any],
                 damage: str | None = None, pending: dict[str, Any] | None = None):
        self.store = store
        self.id = run_id
        self.path = path
        self.config = config
        self.damage = damage
        self.status: str = "damaged" if damage else config.get("status", "failed")
        self.error: str | None = damage or config.get("error")
        self.traceback: str | None = None
        try:
            text = (path / "error.txt").read_text(errors="replace")
        except OSError:
            text = ""
        if text:
            head, _, rest = text.partition("\n\n")
            self.error = self.error or head
            self.traceback = rest or None
        if pending and pending.get("traceback"):
            self.traceback = pending["traceback"]

    def __repr__(self) -> str:
        return f"Run({self.id!r}, status={self.status!r})"

    @property
    def method(self) -> str:
        """The method name the run trained."""
        return self.config.get("method", "")

    @property
    def owner(self) -> str | None:
        """The session that made the run (None for runs made outside the app: shared demo runs)."""
        return self.config.get("owner")

    @property
    def history(self) -> list[dict]:
        """Per-epoch records; a torn last line (crash mid-append) is skipped."""
        p = self.path / "history.jsonl"
        try:
            text = p.read_text(errors="replace")
        except OSError:
            return []
        out = []
        for line in text.splitlines():
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                continue
            if isinstance(rec, dict) and not _too_deep(rec, 4):  # one epoch's flat record; anything else is skipped
                out.append(rec)
        return out

    @property
    def metrics(self) -> dict[str, Any]:
        """The test part's metrics (empty before the run is done, or when metrics.json is damaged)."""
        p = self.path / "metrics.json"
        try:
            out = json.loads(p.read_text())
        except (OSError, ValueError, RecursionError):
            return dict(self.config.get("metrics") or {})
        return out if _fits(out, RECORD_SCHEMA["metrics"]) else dict(self.config.get("metrics") or {})

    @property
    def scores(self) -> Any:
        """DataFrame (row_id, score, label if known, pred, decoder if any); None before the run is done.

        A damaged ``scores.parquet`` raises :class:`StoreError` naming the run, not pyarrow's error."""
        p = self.path / "scores.parquet"
        if not p.exists():
            if self.config.get("status") == "done":
                raise StoreError(f"run {self.id} is damaged: the file scores.parquet is missing; train the run "
                                 "again, or delete it")
            return None
        import pandas as pd

        try:
            return pd.read_parquet(p)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types on a damaged file
            raise StoreError(f"run {self.id}: scores.parquet is damaged ({type(exc).__name__}); its scores "
                             "cannot be shown: train the run again, or delete it") from None

    @property
    def cache_dir(self) -> Path:
        """The run's cache folder (embeddings ...), created on first use; a temporary folder when the
        store cannot be written (read-only or full)."""
        p = self.path / "cache"
        if not self.store.read_only:
            try:
                p.mkdir(exist_ok=True)
                return p
            except OSError:
                pass
        if p.is_dir():
            return p
        tmp = Path(tempfile.gettempdir()) / "odcore-run-cache" / self.id
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp

    @property
    def model_dir(self) -> Path:
        """The folder holding the saved model (exists only for finished runs)."""
        return self.path / "model"

    def standardizer(self) -> Standardizer:
        """The run's standardiser (saved from its split); the identity when the protocol had none."""
        p = self.path / TRANSFORM_FILE
        if not p.exists():
            return Standardizer.identity()
        try:
            with np.load(p, allow_pickle=False) as z:
                return Standardizer.from_arrays(z)
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise StoreError(f"run {self.id}: {TRANSFORM_FILE} is damaged ({type(exc).__name__}); train the run "
                             "again, or delete it") from None


class RunStore:
    """Runs on disk under ``root`` (argument, env ``ODCORE_RUNS_DIR``, or ``./runs``).

    ``read_only=True`` opens the store for reading: nothing is written, not even the index (it is
    built in memory from the folders). A store whose folder cannot be written (a read-only mount,
    a full disk) goes read-only by itself and says why in :attr:`warnings`. A record that cannot be
    written (a run's failure on a full disk) is kept in memory and in the log, shown by
    :meth:`get` and :meth:`list_runs`, and written by :meth:`retry_pending` once there is room.
    """

    def __init__(self, root: str | os.PathLike | None = None, *, recover: bool = True, read_only: bool = False):
        self.root = Path(root or os.environ.get(ENV_ROOT) or "runs").resolve()
        self._lock = threading.RLock()
        self.read_only = bool(read_only)
        self._asked_read_only = bool(read_only)  # opened for reading on purpose: unwritten marks are not news
        self._warnings: list[str] = []  # what the store cannot do now (see the property warnings)
        self._last_heal = 0.0
        self._pending: dict[str, dict[str, Any]] = {}  # run id -> config fields not yet written
        self._index_path = self.root / INDEX_FILE
        self._memory_index = False
        self._last_sync = 0.0
        if not self.read_only:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                probe = self.root / f".probe-{uuid.uuid4().hex[:8]}"
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as exc:
                self._go_read_only(exc)
        self._open_index()
        if recover:
            self.recover()

    def close(self) -> None:
        """Close the index connection (the store can be opened again; a closed one is not used again)."""
        with self._lock:
            try:
                self._con.close()
            except Exception:  # noqa: BLE001
                pass

    def _go_read_only(self, exc: OSError | str) -> None:
        why = _why(exc) if isinstance(exc, OSError) else exc
        if not self.read_only:
            msg = f"the run store at {self.root} cannot be written ({why}); it is open read-only"
            self._warnings.append(msg)
            log.warning(msg)
        self.read_only = True

    @property
    def warnings(self) -> list[str]:
        """What the store cannot do now (it went read-only, its index cannot be written), in words. A
        store that degraded by itself checks again at most every 5 s (:meth:`heal`): once its folder
        can be written again (space freed, a remount), the warnings go."""
        self.heal()
        return self._warnings

    def heal(self, *, force: bool = False) -> bool:
        """Try again to write a store that degraded by itself (read-only or an in-memory index after a
        failed write); returns True when it could. Not for a store opened with ``read_only=True``."""
        if self._asked_read_only or not self._warnings:
            return False
        now = time.monotonic()
        if not force and now - self._last_heal < 5.0:
            return False
        self._last_heal = now
        with self._lock:
            try:
                probe = self.root / f".probe-{uuid.uuid4().hex[:8]}"
                try:
                    probe.write_bytes(b"\0" * 65536)  # room for a record, not only for a name
                finally:
                    probe.unlink(missing_ok=True)
                con = self._connect(memory=False)
            except (OSError, sqlite3.Error):
                return False
            try:
                self._con.close()
            except Exception:  # noqa: BLE001
                pass
            self._con, self._memory_index, self.read_only = con, False, False
            self._warnings.clear()
            self.sync(force=True)  # a failure here degrades the store again, with its warning
        if not self._warnings:
            log.info("the run store at %s can be written again", self.root)
            self.retry_pending()
        return not self._warnings

    def check_writable(self) -> None:
        """Raise :class:`StoreError` (what is wrong and how to fix it) when the store cannot be written."""
        self._refuse_write()

    def _refuse_write(self) -> None:
        if self.read_only:
            self.heal()
        if self.read_only:
            why = self._warnings[-1] if self._warnings else f"the run store at {self.root} was opened read-only"
            raise StoreError(f"{why}; runs cannot be started or changed until it can be written")

    # ------------------------------------------------------------------ index
    def _connect(self, memory: bool) -> sqlite3.Connection:
        """Open the index (a file in WAL mode, or in memory) with the runs table."""
        con = sqlite3.connect(":memory:" if memory else self._index_path, timeout=30, check_same_thread=False)
        con.row_factory = sqlite3.Row
        if not memory:
            con.execute("PRAGMA journal_mode=WAL")
        cols = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
        if cols and "sig" not in cols:  # an index of an older layout: it is only a cache, start it again
            con.execute("DROP TABLE runs")
        con.execute(
            "CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, method TEXT, data TEXT, "
            "data_hash TEXT, protocol TEXT, status TEXT, created TEXT, seed INTEGER, row TEXT, sig TEXT)")
        con.commit()
        return con

    def _open_index(self) -> None:
        with self._lock:
            if self.read_only or not self._index_path.parent.is_dir():
                self._use_memory_index()
                return
            try:
                self._con = self._connect(memory=False)
                self.sync(force=True)
            except sqlite3.OperationalError as exc:  # full disk, read-only file, locked beyond the timeout
                self._index_unwritable(exc)
            except sqlite3.DatabaseError:
                self._reset_index()

    def _use_memory_index(self) -> None:
        self._memory_index = True
        self._con = self._connect(memory=True)
        self.sync(force=True)

    def _index_unwritable(self, exc: Exception) -> None:
        msg = f"the run index {self._index_path} cannot be written ({exc}); runs are listed from the folders"
        if msg not in self._warnings:
            self._warnings.append(msg)
            log.warning(msg)
        try:
            self._con.close()
        except Exception:  # noqa: BLE001
            pass
        self._use_memory_index()

    def _reset_index(self) -> None:
        try:
            self._con.close()
        except Exception:  # noqa: BLE001
            pass
        try:
            for suffix in ("", "-wal", "-shm"):
                p = Path(str(self._index_path) + suffix)
                if p.exists():
                    p.unlink()
            self._con = self._connect(memory=False)
            self.rebuild_index()
        except (OSError, sqlite3.Error) as exc:
            self._index_unwritable(exc)

    def rebuild_index(self) -> int:
        """Re-create the index from the run folders; returns the number of runs indexed."""
        with self._lock:
            self._con.execute("DELETE FROM runs")
            self._con.commit()
            self.sync(force=True)
            return int(self._con.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def sync(self, *, force: bool = False) -> None:
        """Reconcile the index with the folders: runs added or removed behind its back, config files
        that changed (a run written by another process, a truncated file) and the damage each run's
        files show. Without ``force`` at most every 2 s (pages list runs on every rerun)."""
        now = time.monotonic()
        if not force and now - self._last_sync < 2.0:
            return
        with self._lock:
            self._last_sync = now
            try:
                indexed = {r["id"]: r["sig"] for r in self._con.execute("SELECT id, sig FROM runs")}
                on_disk = {rid: _sig(self.root / rid / "config.json") for rid in self._run_dirs()}
                for rid in set(indexed) - set(on_disk):
                    self._con.execute("DELETE FROM runs WHERE id=?", (rid,))
                for rid, sig in on_disk.items():
                    if indexed.get(rid) != sig or force:
                        self._index_folder(rid, sig)
                self._con.commit()
            except sqlite3.OperationalError as exc:
                if self._memory_index:
                    raise
                self._index_unwritable(exc)
            except sqlite3.DatabaseError:
                if self._memory_index:
                    raise
                self._reset_index()

    def _index_folder(self, rid: str, sig: str | None) -> None:
        cfg, reason = self._read_config_checked(rid)
        if cfg is None:  # what the index knew of the run, if anything, with the reason it is damaged
            old = self._con.execute("SELECT row FROM runs WHERE id=?", (rid,)).fetchone()
            known = json.loads(old[0]) if old else {}
            created = known.get("created") or _dt.datetime.fromtimestamp(
                (self.root / rid).stat().st_mtime, _dt.UTC).isoformat(timespec="milliseconds")
            cfg = {"id": rid, "method": known.get("method"), "created": created, "owner": known.get("owner"),
                   "status": known.get("recorded_status") or known.get("status"),
                   "dataset": {"name": known.get("data_name")},
                   "spec": {"data": known.get("data"), "protocol": known.get("protocol"), "seed": known.get("seed")}}
            self._put(cfg, self._row(cfg, reason), sig)
            return
        damage = self._damage(rid, cfg)
        self._put(cfg, self._row(cfg, damage), sig)

    def _run_dirs(self) -> list[str]:
        try:
            entries = list(os.scandir(self.root))
        except OSError:
            return []
        return sorted(e.name for e in entries
                      if e.is_dir() and not e.name.startswith(("_", ".")) and (Path(e.path) / "config.json").exists())

    def _row(self, cfg: dict[str, Any], damage: str | None = None) -> dict[str, Any]:
        cfg = {**cfg, **self._pending.get(cfg.get("id", ""), {})}
        spec = cfg.get("spec", {})
        row = {"id": cfg["id"], "method": cfg.get("method"), "data": spec.get("data"),
               "data_name": cfg.get("dataset", {}).get("name"), "protocol": spec.get("protocol"),
               "status": cfg.get("status"), "created": cfg.get("created"), "finished": cfg.get("finished"),
               "seed": spec.get("seed"), "metrics": cfg.get("metrics", {}), "error": cfg.get("error"),
               "fit_seconds": cfg.get("timings", {}).get("fit_seconds"), "owner": cfg.get("owner"),
               "protocol_options": cfg.get("protocol_options", spec.get("protocol_options")),
               "test_rows": (cfg.get("split") or {}).get("test"),
               "test_normal": (cfg.get("split") or {}).get("test_normal"),
               "test_anomalous": (cfg.get("split") or {}).get("test_anomalous")}
        if damage:
            row.update(status="damaged", error=damage, damage=damage, recorded_status=cfg.get("status"))
        if cfg.get("id") in self._pending:
            row["unsaved"] = self._pending[cfg["id"]].get("unsaved")
        return row

    def _put(self, cfg: dict[str, Any], row: dict[str, Any], sig: str | None) -> None:
        self._con.execute(
            "INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?)",
            (row["id"], row.get("method"), row.get("data"), cfg.get("dataset", {}).get("hash"), row.get("protocol"),
             row.get("status"), row.get("created"), row.get("seed"), json.dumps(jsonable(row)), sig))

    def _index(self, cfg: dict[str, Any], commit: bool = True, damage: str | None = None) -> None:
        with self._lock:
            try:
                self._put(cfg, self._row(cfg, damage), _sig(self.root / cfg["id"] / "config.json"))
                if commit:
                    self._con.commit()
            except sqlite3.OperationalError as exc:
                if not self._memory_index:
                    self._index_unwritable(exc)
            except sqlite3.DatabaseError:
                if not self._memory_index:
                    self._reset_index()

    def list_runs(self, *, method: str | None = None, data: str | None = None, protocol: str | None = None,
                  status: str | list[str] | None = None, created_after: str | None = None,
                  created_before: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Runs as dicts (id, method, data, protocol, status, created, seed, metrics, error, owner ...),
        newest first, filtered by equality on the named fields and by ISO creation time.

        A run whose files are damaged is listed with status ``damaged`` and the reason in ``error``
        (``recorded_status`` keeps what its config says)."""
        self.retry_pending()
        self.sync()
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
    def _read_config_checked(self, run_id: str) -> tuple[dict[str, Any] | None, str | None]:
        """``(config, None)``, or ``(None, why it cannot be read)``."""
        p = self.root / run_id / "config.json"
        try:
            with open(p, "rb") as fh:
                raw = fh.read(MAX_RECORD_BYTES + 1)
            if len(raw) > MAX_RECORD_BYTES:
                return None, f"config.json is damaged (larger than {MAX_RECORD_BYTES >> 20} MB)"
            cfg = json.loads(raw.decode("utf-8"))
        except FileNotFoundError:
            return None, "config.json is missing"
        except (OSError, UnicodeDecodeError) as exc:
            return None, f"config.json cannot be read ({type(exc).__name__})"
        except json.JSONDecodeError:
            return None, "config.json is damaged (not valid JSON: truncated or overwritten)"
        except (RecursionError, MemoryError):
            return None, "config.json is damaged (nested too deeply to read)"
        why = record_problem(cfg, run_id)
        return (None, why) if why else (cfg, None)

    def _read_config(self, run_id: str) -> dict[str, Any] | None:
        return self._read_config_checked(run_id)[0]

    def _damage(self, run_id: str, cfg: dict[str, Any]) -> str | None:
        """Why a finished run's files cannot be used (a file of its manifest missing or changed), or None."""
        if cfg.get("status") != "done":
            return None
        folder = self.root / run_id
        files = cfg.get("files")
        if not isinstance(files, dict):  # a run written before manifests: the essentials only
            files = {"scores.parquet": None}
            if not (folder / "model").is_dir() or not any((folder / "model").iterdir()):
                return "the saved model (model/) is missing"
        for rel, size in files.items():
            try:
                st = (folder / rel).stat()
            except OSError:
                what = "the saved model's file" if rel.startswith("model/") else "the file"
                return f"{what} {rel} is missing"
            if size is not None and st.st_size != size:
                return f"{rel} changed size since the run finished ({st.st_size:,} bytes, was {size:,}): damaged"
        return None

    def _safe_id(self, run_id: str) -> None:
        bad = (not isinstance(run_id, str) or not run_id or "/" in run_id or "\\" in run_id or "\x00" in run_id
               or run_id.startswith((".", "_")) or len(run_id) > 200)
        if not bad:
            real = (self.root / run_id).resolve()
            bad = real.parent != self.root
        if bad:
            raise InputError(f"not a run id: {str(run_id)[:80]!r}")

    def get(self, run_id: str) -> Run:
        """The run ``run_id`` (raises :class:`InputError` naming a few known ids when missing, and a
        :class:`StoreError` saying what is wrong when its record is damaged). A finished run whose
        files are damaged comes back with status ``damaged`` and the reason in ``error``."""
        self._safe_id(run_id)
        cfg, reason = self._read_config_checked(run_id)
        if cfg is None:
            if (self.root / run_id).is_dir() and reason != "config.json is missing":
                raise StoreError(f"run {run_id} is damaged: {reason}; delete its folder, or restore the file")
            known = [r["id"] for r in self.list_runs(limit=5)]
            hint = f"; recent runs: {', '.join(known)}" if known else "; the store is empty"
            raise InputError(f"no run {run_id!r} in {self.root}{hint}")
        pending = self._pending.get(run_id)
        if pending:
            cfg = {**cfg, **{k: v for k, v in pending.items() if k not in ("traceback", "unsaved")}}
        damage = self._damage(run_id, cfg)
        if damage:
            self._index(cfg, damage=damage)  # listed as damaged from now on
        return Run(self, run_id, self.root / run_id, cfg, damage=damage, pending=pending)

    def __contains__(self, run_id: str) -> bool:
        try:
            self._safe_id(run_id)
        except InputError:
            return False
        return self._read_config(run_id) is not None

    # ------------------------------------------------------------------ writing
    def new_id(self, method: str = "run") -> str:
        """A fresh run id: time stamp, method, random suffix."""
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in str(method))[:40] or "run"
        return f"{stamp}-{safe}-{uuid.uuid4().hex[:6]}"

    def _write_config(self, cfg: dict[str, Any]) -> None:
        try:
            atomic_write_json(self.root / cfg["id"] / "config.json", cfg)
        except OSError as exc:
            raise StoreError(f"run {cfg['id']}: its record cannot be written: {_why(exc)}") from exc
        self._index(cfg)

    def _update(self, run_id: str, **fields: Any) -> dict[str, Any]:
        self._refuse_write()
        with self._lock:
            cfg = self._read_config(run_id)
            if cfg is None:
                raise InputError(f"no run {run_id!r} in {self.root}")
            cfg.update(fields)
            self._write_config(cfg)
            return cfg

    def begin(self, method: str, spec: dict[str, Any], *, run_id: str | None = None,
              owner: str | None = None) -> Run:
        """Create the run folder with status ``running``: the method, the spec record (a
        ``RunSpec.to_dict()``) and the ``owner`` (the session that asked, None outside the app);
        what preparing the run resolves follows with :meth:`update`."""
        self._refuse_write()
        self.retry_pending()
        run_id = run_id or self.new_id(method)
        self._safe_id(run_id)
        path = self.root / run_id
        cfg = {"id": run_id, "status": "running", "created": _now(), "method": method,
               "spec": dict(spec), "pid": os.getpid(), "host": socket.gethostname(),
               "process": _PROCESS_TOKEN, "versions": _versions()}
        if owner:
            cfg["owner"] = str(owner)
        try:
            path.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise
        except OSError as exc:
            raise StoreError(f"a new run cannot be created in {self.root}: {_why(exc)}") from exc
        with _LIVE_LOCK:
            _LIVE.add(run_id)
        try:
            with open(path / RESERVED_FILE, "wb") as fh:
                fh.write(b"\0" * RESERVED_BYTES)
                fh.flush()
                os.fsync(fh.fileno())
            self._write_config(cfg)
        except (StoreError, OSError) as exc:
            self._release(run_id)
            shutil.rmtree(path, ignore_errors=True)  # nothing of the run could be written: leave no empty folder
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"a new run cannot be created in {self.root}: {_why(exc)}") from exc
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
        try:
            atomic_write_bytes(self.root / run_id / TRANSFORM_FILE, buf.getvalue())
        except OSError as exc:
            raise StoreError(f"run {run_id}: its standardiser cannot be written: {_why(exc)}") from exc

    def append_history(self, run_id: str, record: dict[str, Any]) -> None:
        """Append one per-epoch record to ``history.jsonl``."""
        line = json.dumps(jsonable(record)) + "\n"
        try:
            with open(self.root / run_id / "history.jsonl", "a") as fh:
                fh.write(line)
                fh.flush()
        except OSError as exc:
            raise StoreError(f"run {run_id}: its history cannot be written: {_why(exc)}") from exc

    def finish(self, run_id: str, *, model: Any, scores: dict[str, np.ndarray], metrics: dict[str, Any],
               timings: dict[str, float], device: str | None = None) -> None:
        """Write model, scores and metrics, then flip the status to ``done`` (the commit point).

        ``model`` is anything with ``save(folder)`` (a fitted detector); ``device`` the device it
        ran on, when known (else the one recorded earlier stays). The config records a manifest of
        the files written (``files``: path -> size), which tells later a damaged run from a good one.
        """
        import pandas as pd

        self._refuse_write()
        path = self.root / run_id
        tmp_model = path / ".model.tmp"  # hidden *.tmp: removed by recover() after a crash
        tmp = path / ".scores.parquet.tmp"
        try:
            if tmp_model.exists():
                shutil.rmtree(tmp_model)
            model.save(tmp_model)
            if (path / "model").exists():
                shutil.rmtree(path / "model")
            os.replace(tmp_model, path / "model")
            order = [c for c in ("row_id", "score", "label", "pred", "decoder") if c in scores]
            df = pd.DataFrame({c: scores[c] for c in order})
            df.to_parquet(tmp, index=False)
            os.replace(tmp, path / "scores.parquet")
            atomic_write_json(path / "metrics.json", metrics)
        except Exception as exc:  # noqa: BLE001 - savers (safetensors, pyarrow) wrap the OSError in their own type
            full = _out_of_space(exc, path)
            shutil.rmtree(tmp_model, ignore_errors=True)  # free what the failed write took
            tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError) or full:
                why = _why(exc if isinstance(exc, OSError) else OSError(errno.ENOSPC, "no space left on device"))
                raise StoreError(f"run {run_id}: its results cannot be written: {why}") from exc
            raise
        files = {str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*"))
                 if p.is_file() and (p.parts[len(path.parts)] == "model" or p.name in
                                     ("scores.parquet", "metrics.json", TRANSFORM_FILE))}
        extra = {"device": device} if device else {}
        self._update(run_id, status="done", finished=_now(), metrics=metrics, timings=timings, files=files, **extra)
        self._release(run_id)

    def mark(self, run_id: str, status: str, *, error: str | None = None, traceback: str | None = None) -> None:
        """Finish a run as ``failed`` or ``cancelled`` (history kept), with its error.

        Never raises for a store that cannot be written: the record is kept in memory (shown by
        :meth:`get` and :meth:`list_runs`), logged, and written by :meth:`retry_pending` later."""
        if status not in STATUSES:
            raise InputError(f"status must be one of {', '.join(STATUSES)}")
        fields = {"status": status, "finished": _now(), "error": error}
        try:
            self._write_outcome(run_id, fields, traceback)
        except (StoreError, OSError) as exc:
            reason = str(exc)
            with self._lock:
                self._pending[run_id] = {**fields, "traceback": traceback, "unsaved": reason}
            self._write_reserved(run_id, fields)
            (log.debug if self._asked_read_only else log.error)(
                "run %s ended %s (%s) but this cannot be written yet: %s; kept in memory and retried",
                run_id, status, error, reason)
            cfg = self._read_config(run_id)
            if cfg is not None:
                self._index({**cfg, **fields})
        self._release(run_id)

    def _write_reserved(self, run_id: str, fields: dict[str, Any]) -> None:
        """Write the outcome into the run's reserved block, in place (works on a full disk)."""
        if self.read_only:
            return
        data = json.dumps(jsonable(fields)).encode()[: RESERVED_BYTES - 1]
        try:
            fd = os.open(self.root / run_id / RESERVED_FILE, os.O_WRONLY)
        except OSError:
            return
        try:
            os.write(fd, data + b"\0" * (RESERVED_BYTES - len(data)))
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)

    def _read_reserved(self, run_id: str) -> dict[str, Any] | None:
        """The outcome written into the reserved block (None when there is none)."""
        try:
            raw = (self.root / run_id / RESERVED_FILE).read_bytes().rstrip(b"\0")
            rec = json.loads(raw) if raw else None
        except (OSError, ValueError, RecursionError):
            return None
        ok = isinstance(rec, dict) and rec.get("status") in STATUSES and isinstance(rec.get("error"), (str, type(None)))
        return rec if ok else None

    def _write_outcome(self, run_id: str, fields: dict[str, Any], traceback: str | None) -> None:
        self._refuse_write()
        if traceback:
            try:
                atomic_write_bytes(self.root / run_id / "error.txt", f"{fields.get('error')}\n\n{traceback}".encode())
            except OSError as exc:
                raise StoreError(f"run {run_id}: error.txt cannot be written: {_why(exc)}") from exc
        self._update(run_id, **fields)

    def pending(self) -> dict[str, dict[str, Any]]:
        """Records not written yet (run id -> fields, with ``unsaved``: why)."""
        with self._lock:
            return {k: dict(v) for k, v in self._pending.items()}

    def retry_pending(self) -> list[str]:
        """Write the records kept in memory where the store can take them now; returns the run ids written."""
        if not self._pending or self.read_only:
            return []
        done = []
        with self._lock:
            for run_id, fields in list(self._pending.items()):
                rec = {k: v for k, v in fields.items() if k not in ("traceback", "unsaved")}
                try:
                    self._write_outcome(run_id, rec, fields.get("traceback"))
                except (StoreError, OSError):
                    continue
                except InputError:  # the run folder is gone
                    pass
                self._pending.pop(run_id, None)
                done.append(run_id)
        for run_id in done:
            log.info("run %s: its record was written at last", run_id)
        return done

    def _release(self, run_id: str) -> None:
        with _LIVE_LOCK:
            _LIVE.discard(run_id)

    def delete(self, run_id: str) -> None:
        """Remove a run folder and its index entry."""
        self._safe_id(run_id)
        self._refuse_write()
        if not (self.root / run_id).is_dir():
            raise InputError(f"no run {run_id!r} in {self.root}")
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
        """Mark runs left ``running`` by a writer that is gone as ``failed``; returns their ids.

        On a store that cannot be written the marks are kept in memory (see :meth:`mark`)."""
        marked = []
        for row in self.list_runs(status="running"):
            if row["id"] in self._pending:
                continue
            cfg = self._read_config(row["id"])
            if cfg is None or cfg.get("status") != "running" or self._writer_alive(cfg):
                continue
            kept = self._read_reserved(row["id"])  # the real cause, when the writer could not record it
            if kept is not None:
                self.mark(row["id"], kept["status"], error=kept.get("error"),
                          traceback="recorded in the run's reserved block when the store could not be written")
            else:
                self.mark(row["id"], "failed",
                          error="the process writing this run stopped before it finished (crash or kill); "
                                "the history so far is kept",
                          traceback=f"writer pid {cfg.get('pid')} on {cfg.get('host')} is gone")
            if not self.read_only:
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
        if (self.root / DATA_DIR / f"{ds.content_hash()}.npz").exists():
            return ds.content_hash()
        self._refuse_write()
        try:
            return self._save_dataset(ds)
        except OSError as exc:
            raise StoreError(f"the dataset {ds.name!r} cannot be kept in the run store: {_why(exc)}") from exc

    def _save_dataset(self, ds: Dataset) -> str:
        h = ds.content_hash()
        folder = self.root / DATA_DIR
        folder.mkdir(exist_ok=True)
        if not (folder / f"{h}.npz").exists():
            _write_dataset(folder, h, ds)
        return h

    def load_dataset(self, content_hash: str) -> Dataset:
        """The dataset saved by :meth:`save_dataset`."""
        p = self.root / DATA_DIR / f"{content_hash}.npz"
        if not p.exists():
            raise InputError(f"stored dataset {content_hash} is not in {self.root / DATA_DIR}; "
                             "load the data again from its file")
        return _read_dataset(p)

    # ------------------------------------------------------------------ prepared datasets (a bounded cache)
    def cached_dataset(self, key: str) -> Dataset | None:
        """The dataset cached under ``key`` by :meth:`cache_dataset`, or None (never cached, evicted, damaged)."""
        p = self.root / DATA_DIR / PREPARED_DIR / f"{key}.npz"
        if not p.exists():
            return None
        try:
            ds = _read_dataset(p)
        except (OSError, ValueError, KeyError) as exc:  # a damaged entry is a miss; the data are read again
            log.warning("prepared dataset %s cannot be read (%s); preparing it again", p, exc)
            return None
        if not self.read_only:
            try:
                os.utime(p)  # recently used: evicted last
            except OSError:
                pass
        return ds

    def cache_dataset(self, key: str, ds: Dataset) -> None:
        """Keep ``ds`` (a file's data as loaded and prepared with some options) under ``key`` in
        ``_data/prepared/``; the least recently used entries go beyond :data:`PREPARED_MAX` entries or
        :data:`PREPARED_MAX_BYTES`. A store that cannot be written keeps nothing (the data are read again
        next time)."""
        if self.read_only or _dataset_bytes(ds) > PREPARED_MAX_BYTES:
            return
        folder = self.root / DATA_DIR / PREPARED_DIR
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _write_dataset(folder, key, ds)
            entries = sorted(folder.glob("*.npz"), key=lambda f: f.stat().st_mtime, reverse=True)
            total = 0
            for i, f in enumerate(entries):
                total += f.stat().st_size
                if f.stem != key and (i >= PREPARED_MAX or total > PREPARED_MAX_BYTES):
                    f.unlink(missing_ok=True)
                    f.with_name(f"{f.stem}.meta.parquet").unlink(missing_ok=True)
        except OSError as exc:
            log.warning("prepared dataset %s cannot be kept in %s (%s); it is prepared again next time", key,
                        folder, exc)


def _dataset_bytes(ds: Dataset) -> int:
    return int(ds.X.nbytes) + (0 if ds.y is None else int(ds.y.nbytes))


def _write_dataset(folder: Path, stem: str, ds: Dataset) -> None:
    """``<stem>.npz`` (arrays and a JSON record, no pickle) and ``<stem>.meta.parquet`` in ``folder``."""
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
        tmp = folder / f".{stem}.meta.parquet.tmp"
        ds.meta.to_parquet(tmp, index=False)
        os.replace(tmp, folder / f"{stem}.meta.parquet")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_write_bytes(folder / f"{stem}.npz", buf.getvalue())


def _read_dataset(p: Path) -> Dataset:
    """The dataset :func:`_write_dataset` wrote at ``p`` (its meta table beside it)."""
    with np.load(p, allow_pickle=False) as z:
        info = json.loads(str(z["info"]))
        ds = Dataset(name=info["name"], X=z["X"], y=z["y"] if "y" in z else None, kind=info["kind"],
                     image_shape=tuple(int(s) for s in z["image_shape"]) if "image_shape" in z else None,
                     feature_names=[str(s) for s in z["feature_names"]], source=info["source"],
                     notes=info["notes"], classes=z["classes"] if "classes" in z else None,
                     table=info.get("table"))
    meta = p.with_name(f"{p.stem}.meta.parquet")
    if meta.exists():
        import pandas as pd

        ds.meta = pd.read_parquet(meta)
    return ds
