"""Background jobs: training runs and generic tasks in worker threads, with a bounded queue.

A :class:`JobRegistry` is shared by the whole process (the app keeps one in
``st.cache_resource``). Worker threads only write plain fields of their :class:`Job`; readers get
snapshots from :meth:`JobRegistry.get` / :meth:`JobRegistry.list`. Nothing here imports Streamlit.

- At most ``max_running`` jobs run at once (default: one per CUDA device, else half the
  cores, at least one); the others wait in submission order.
- A training job sets ``torch.set_num_threads(max(1, cores // running_jobs))`` in its own thread
  when it starts, so that concurrent jobs do not oversubscribe the cores (DESIGN.md, measured
  facts; with torch's OpenMP build the count applies to the calling thread's parallel regions).
- Cancel sets the job's ``threading.Event``, which the training loop checks every batch
  (``FitCancelled``); the run is kept as ``cancelled`` with its history so far.
- A failing job records its error and traceback (in the job and in its run); the others go on.
- Every job has an owner token; only the owner may cancel it. The owner is recorded in the run.
- Training jobs are persisted under ``<runs>/_jobs/<job id>.json`` from the moment they are
  queued; after a restart a queued job is queued again (resumed), a job that was running is marked
  failed (its run is marked by the store's recovery), and finished ones are listed again for their
  owner. Nothing vanishes without a record.
- Classical fits (scikit-learn gives no hook into a fit) cannot be interrupted: cancelling one
  says so in the job's message, and the run is kept as cancelled as soon as its fit returns.
- A training job takes a :class:`~odcore.runs.spec.ResolvedRun` (``odcore.runs.resolve``): it checks
  nothing again; its progress counts ``run.epochs``, its device is ``run.device``. ``data_check`` (the
  app's data roots policy, which resolving applied) is applied again to the jobs queued again after a
  restart; ``data_context`` (the policy's :func:`odcore.data.access.confined`) wraps the run, so a job
  that reads its file (a run resumed after a restart, a prepared table no longer cached) opens it through
  the policy again; ``reserve_cores`` leaves cores to the server when training threads are sized.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import os
import threading
import time
import traceback as tb
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from odcore.errors import FitCancelled, InputError

STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL = ("done", "failed", "cancelled")
JOBS_DIR = "_jobs"
#: finished jobs older than this are not listed again after a restart (their runs stay in the store)
KEEP_FINISHED_SECONDS = 7 * 24 * 3600
NOT_CANCELLABLE = ("this method's fit cannot be interrupted (scikit-learn gives no hook into it): the job stops when "
                   "its fit ends and is then kept as cancelled")
_PERSISTED = ("id", "owner", "title", "kind", "state", "epoch", "epochs", "message", "error", "run_id", "spec",
              "run", "submitted", "started", "finished", "cancellable")
log = logging.getLogger(__name__)


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def default_max_running() -> int:
    """One job per CUDA device when there is one, else half the cores, at least one."""
    try:
        import torch

        if torch.cuda.is_available():
            return max(1, torch.cuda.device_count())
    except ImportError:  # pragma: no cover
        pass
    return max(1, cpu_count() // 2)


@dataclass
class Job:
    """Plain fields, written by the worker thread, read as snapshots by anyone."""

    id: str
    owner: str
    title: str
    kind: str  # "train" or "task"
    state: str = "queued"
    epoch: int = 0
    epochs: int | None = None
    progress: float = 0.0  # 0..1
    elapsed: float = 0.0  # seconds since the job started running
    eta: float | None = None  # estimated seconds left
    message: str = ""
    history: list = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    run_id: str | None = None
    result: Any = None
    spec: dict | None = None  # the request (RunSpec record)
    run: dict | None = None  # the resolved run (ResolvedRun record), what a restart queues again
    submitted: float = 0.0
    started: float | None = None
    finished: float | None = None
    updated: float | None = None  # time of the last progress report (for the live ETA)
    cancellable: bool = True  # False: the fit cannot be interrupted (classical methods)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class JobRegistry:
    """Thread-safe registry of background jobs over a :class:`odcore.runs.store.RunStore`."""

    def __init__(self, store=None, max_running: int | None = None, *, data_check: Callable[[Any], Any] | None = None,
                 data_context: Callable[[], Any] | None = None, reserve_cores: int = 0, resume: bool = True):
        from odcore.runs.store import RunStore

        self.store = store if store is not None else RunStore()
        self.store.recover()  # runs left "running" by a dead process are marked failed
        self._max_running = max_running
        self._data_check = data_check
        self._data_context = data_context
        self._reserve = max(0, int(reserve_cores))
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._cancel: dict[str, threading.Event] = {}
        self._done: dict[str, threading.Event] = {}
        self._work: dict[str, Callable[[Job, threading.Event], None]] = {}
        self._queue: deque[str] = deque()
        self._running: set[str] = set()
        self._gpu_slots: dict[str, int] = {}
        self._ids = itertools.count(1)
        self.restored: dict[str, list[str]] = {"resumed": [], "marked": [], "listed": []}
        self._restore(resume)

    @property
    def max_running(self) -> int:
        if self._max_running is None:
            self._max_running = default_max_running()
        return self._max_running

    # ------------------------------------------------------------------ submit
    def _new_id(self) -> str:
        return f"job-{next(self._ids)}-{os.urandom(3).hex()}"

    def _enqueue(self, job: Job, work: Callable[[Job, threading.Event], None]) -> None:
        """Register ``job`` with its cancel / done events and put it in the queue."""
        with self._lock:
            self._jobs[job.id] = job
            self._cancel[job.id] = threading.Event()
            self._done[job.id] = threading.Event()
            self._work[job.id] = work
            self._queue.append(job.id)

    def _add(self, job: Job, work: Callable[[Job, threading.Event], None]) -> str:
        job.submitted = time.time()
        self._enqueue(job, work)
        self._persist(job)  # queued: on disk before it can start, so a restart finds it
        self._pump()
        return job.id

    def submit(self, run: Any, *, owner: str = "", title: str | None = None) -> str:
        """Queue a training run; returns the job id.

        ``run`` is a :class:`~odcore.runs.spec.ResolvedRun` (``odcore.runs.resolve(spec, data_check=...)``):
        its method, parameters, options and data were checked when it was resolved, so nothing is checked
        here; the job reports progress against ``run.epochs`` and runs on ``run.device``.
        """
        from odcore.runs.spec import ResolvedRun

        if not isinstance(run, ResolvedRun):
            raise TypeError(f"submit takes a ResolvedRun (odcore.runs.resolve(spec)), not {type(run).__name__}")
        job = Job(id=self._new_id(), owner=owner, kind="train", title=title or run.title(),
                  spec=run.spec().to_dict(), run=run.to_dict(), cancellable=run.cancellable)
        return self._add(job, self._train_work(run, self.store.new_id(run.method)))

    def _train_work(self, run: Any, run_id: str) -> Callable[[Job, threading.Event], None]:
        def work(job: Job, cancel: threading.Event) -> None:
            from odcore.runs.execution import execute

            job.run_id = run_id  # the run folder exists from now on (none for a job cancelled in the queue)
            self._persist(job)

            def on_epoch(record: dict) -> None:
                now = time.time()
                job.history = job.history + [dict(record)]  # replace, so snapshots never see a half-append
                job.epoch = int(record.get("epoch", job.epoch + 1))
                job.epochs = int(record.get("epochs", job.epochs or job.epoch))
                job.elapsed = now - (job.started or now)
                job.progress = job.epoch / job.epochs if job.epochs else 0.0
                job.eta = job.elapsed / job.epoch * (job.epochs - job.epoch) if job.epoch else None
                job.updated = now

            job.epochs = run.epochs
            import contextlib

            with self._data_context() if self._data_context is not None else contextlib.nullcontext():
                out = execute(self._place_on_device(job, run), store=self.store, callbacks=(on_epoch,),
                              cancel=cancel, run_id=job.run_id, owner=job.owner or None)
            job.result = out
            job.progress = 1.0
            job.eta = 0.0

        return work

    # ------------------------------------------------------------------ persistence
    def _jobs_dir(self):
        return self.store.root / JOBS_DIR

    def _persist(self, job: Job) -> None:
        """Write a training job's record (queued, running, final); a store that cannot be written only logs."""
        if job.kind != "train" or getattr(self.store, "read_only", False):
            return
        from odcore.jsonio import atomic_write_json

        rec = {k: getattr(job, k) for k in _PERSISTED}
        try:
            folder = self._jobs_dir()
            folder.mkdir(exist_ok=True)
            atomic_write_json(folder / f"{job.id}.json", rec)
        except (OSError, TypeError, ValueError) as exc:
            log.warning("job %s (%s) cannot be recorded in %s: %s", job.id, job.state, self._jobs_dir(), exc)

    def _restore(self, resume: bool) -> None:
        """Jobs recorded by an earlier process: queued ones queued again (or marked cancelled when
        ``resume`` is False), running ones marked failed, recent finished ones listed again."""

        try:
            files = sorted(self._jobs_dir().glob("job-*.json"))
        except OSError:
            return
        now = time.time()
        records = []
        for f in files:
            try:
                rec = json.loads(f.read_text())
                records.append({k: rec[k] for k in _PERSISTED if k in rec})
            except (OSError, ValueError, TypeError) as exc:
                log.warning("job record %s cannot be read (%s); skipped", f, exc)
        for rec in sorted(records, key=lambda r: r.get("submitted") or 0):
            if rec.get("id") in self._jobs or not rec.get("id"):
                continue
            job = Job(**{k: v for k, v in rec.items() if k in _PERSISTED})
            state = job.state
            if state == "queued" and resume:
                try:
                    run = self._restored_run(job)
                    work = self._train_work(run, self.store.new_id(run.method))
                except Exception as exc:  # noqa: BLE001 - a record that cannot run again is marked, not lost
                    self._mark_restored(job, "failed", f"could not be resumed after a server restart: {exc}")
                    continue
                job.message = "resumed after a server restart"
                self._enqueue(job, work)
                self.restored["resumed"].append(job.id)
            elif state in ("queued", "running"):
                why = ("the server stopped while this job ran; its run is kept as failed with the history so far"
                       if state == "running" else "the server restarted before this job started; start it again")
                self._mark_restored(job, "failed" if state == "running" else "cancelled", why)
            elif (job.finished or job.submitted or 0) > now - KEEP_FINISHED_SECONDS:
                self._add_finished(job)
                self.restored["listed"].append(job.id)
        self._pump()

    def _restored_run(self, job: Job) -> Any:
        """The resolved run of a queued job recorded before a restart (its data checked against the data roots
        policy again: the settings may have changed); a record without one (written by an older version) is
        resolved from its request."""
        from odcore.runs.spec import ResolvedRun, RunSpec, resolve

        if job.run:
            run = ResolvedRun.from_dict(job.run)
            if self._data_check is not None:
                self._data_check(run.data)
            return run
        return resolve(RunSpec.from_dict(job.spec or {}), store=self.store, data_check=self._data_check)

    def _add_finished(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job
            self._cancel[job.id] = threading.Event()
            done = threading.Event()
            done.set()
            self._done[job.id] = done

    def _mark_restored(self, job: Job, state: str, why: str) -> None:
        job.state = state
        job.finished = job.finished or time.time()
        if state == "failed":
            job.error = why
        job.message = why
        self._persist(job)
        self._add_finished(job)
        self.restored["marked"].append(job.id)

    def submit_task(self, fn: Callable[[Callable, threading.Event], Any], *, owner: str = "",
                    title: str = "task") -> str:
        """Queue generic work ``fn(progress, cancel) -> result`` (t-SNE, UMAP ...).

        ``progress(fraction, message="")`` updates the job; ``cancel`` is a ``threading.Event``
        that ``fn`` should check and then return or raise :class:`FitCancelled`.
        """
        job = Job(id=self._new_id(), owner=owner, title=title, kind="task")

        def work(job: Job, cancel: threading.Event) -> None:
            def progress(fraction: float, message: str = "") -> None:
                now = time.time()
                f = min(1.0, max(0.0, float(fraction)))
                job.progress = f
                job.message = message
                job.elapsed = now - (job.started or now)
                job.eta = job.elapsed / f * (1.0 - f) if f > 0 else None
                job.updated = now

            job.result = fn(progress, cancel)
            job.progress = 1.0
            job.eta = 0.0

        return self._add(job, work)

    # ------------------------------------------------------------------ scheduling
    def _pump(self) -> None:
        with self._lock:
            while self._queue and len(self._running) < self.max_running:
                job_id = self._queue.popleft()
                job = self._jobs[job_id]
                if job.state != "queued":
                    continue
                job.state = "running"
                job.started = time.time()
                self._running.add(job_id)
                self._persist(job)
                threading.Thread(target=self._run, args=(job_id,), name=f"odcore-{job_id}", daemon=True).start()

    def _set_threads(self, job: Job) -> None:
        if job.kind != "train":
            return
        import torch

        with self._lock:
            n = max(1, len(self._running))
        torch.set_num_threads(max(1, (cpu_count() - self._reserve) // n))

    def _place_on_device(self, job: Job, run):
        """With several GPUs, give each running job that asks for device 'auto' its own ('cuda:<slot>')."""
        import torch

        if run.device != "auto" or not torch.cuda.is_available() or torch.cuda.device_count() < 2:
            return run
        with self._lock:
            used = set(self._gpu_slots.values())
            slot = next(i for i in itertools.count() if i not in used)
            self._gpu_slots[job.id] = slot
        return run.with_device(f"cuda:{slot % torch.cuda.device_count()}")

    def _run(self, job_id: str) -> None:
        job = self._jobs[job_id]
        cancel = self._cancel[job_id]
        try:
            self._set_threads(job)
            self._work[job_id](job, cancel)
            job.state = "cancelled" if cancel.is_set() and job.kind == "task" else "done"
        except FitCancelled as exc:
            job.state = "cancelled"
            job.message = str(exc)
            job.run_id = getattr(exc, "run_id", None) or job.run_id
        except BaseException as exc:  # noqa: BLE001 - a job must never take the registry down
            job.error = str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
            job.traceback = tb.format_exc()
            job.state = "failed"
            job.run_id = getattr(exc, "run_id", None) or job.run_id
        finally:
            now = time.time()
            job.elapsed = now - (job.started or now)
            job.finished = now
            with self._lock:
                self._running.discard(job_id)
                self._gpu_slots.pop(job_id, None)
                self._work.pop(job_id, None)
            self._persist(job)
            self._done[job_id].set()
            self._pump()

    # ------------------------------------------------------------------ reading
    def _snapshot(self, job: Job) -> Job:
        """A copy with live timings: elapsed since start, ETA counted down since the last report."""
        snap = copy.copy(job)
        snap.history = list(job.history)
        if snap.state == "running" and snap.started is not None:
            now = time.time()
            snap.elapsed = now - snap.started
            if snap.eta is not None and snap.updated is not None:
                snap.eta = max(0.0, snap.eta - (now - snap.updated))
        return snap

    def get(self, job_id: str) -> Job:
        """A snapshot of the job (plain fields); raises InputError for an unknown id."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise InputError(f"no job {job_id!r}")
            return self._snapshot(job)

    def list(self, owner: str | None = None) -> list[Job]:
        """Snapshots of the jobs (of one owner when given), oldest first."""
        with self._lock:
            return [self._snapshot(j) for j in self._jobs.values() if owner is None or j.owner == owner]

    def runs(self, **filters) -> list[dict]:
        """Finished and running runs from the store (shared by every owner)."""
        return self.store.list_runs(**filters)

    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    # ------------------------------------------------------------------ control
    def cancel(self, job_id: str, owner: str | None) -> bool:
        """Cancel a queued or running job. Refused (False) for another owner or a finished job.

        A running job whose fit cannot be interrupted (``cancellable`` False) gets the message
        :data:`NOT_CANCELLABLE`; it ends as cancelled when its fit returns."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.owner != (owner or "") or job.state in FINAL:
                return False
            self._cancel[job_id].set()
            if job.state == "queued":
                job.state = "cancelled"
                job.finished = time.time()
                job.message = "cancelled before it started"
                self._done[job_id].set()
                self._persist(job)
            elif not job.cancellable:
                job.message = NOT_CANCELLABLE
            else:
                job.message = "cancel requested: stops within one batch"
        return True

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job is finished (or ``timeout`` seconds pass); returns a snapshot."""
        with self._lock:
            done = self._done.get(job_id)
        if done is None:
            raise InputError(f"no job {job_id!r}")
        done.wait(timeout)
        return self.get(job_id)

    def forget(self, job_id: str, owner: str | None) -> bool:
        """Drop a finished job of ``owner`` from the list (its run stays in the store)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.owner != (owner or "") or job.state not in FINAL:
                return False
            for d in (self._jobs, self._cancel, self._done):
                d.pop(job_id, None)
        try:
            (self._jobs_dir() / f"{job_id}.json").unlink(missing_ok=True)
        except OSError:
            pass
        return True

