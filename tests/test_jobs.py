"""Job registry: bounded concurrency, FIFO queue, failures isolated, cancel within a batch, owners."""

from __future__ import annotations

import threading
import time

import pytest

from odcore.errors import InputError
from odcore.jobs import JobRegistry, default_max_running
from odcore.runs.spec import RunSpec, resolve
from odcore.runs.store import RunStore


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


@pytest.fixture(autouse=True)
def torch_threads(monkeypatch):
    """Jobs size torch's thread pool from the core count; one thread keeps these tests fast on a busy
    machine (two threads collapse when another process holds a core, DESIGN.md)."""
    import torch

    import odcore.jobs

    monkeypatch.setattr(odcore.jobs, "cpu_count", lambda: 1)
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _until(cond, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_four_jobs_with_room_for_two(store):
    reg = JobRegistry(store, max_running=2)
    gates = [threading.Event() for _ in range(4)]
    started = []

    def task(i):
        def fn(progress, cancel):
            started.append(i)
            progress(0.5, "half way")
            gates[i].wait(10)
            return i * 10
        return fn

    ids = [reg.submit_task(task(i), owner="a", title=f"t{i}") for i in range(4)]
    assert _until(lambda: len(started) == 2)
    assert [reg.get(j).state for j in ids] == ["running", "running", "queued", "queued"]
    assert _until(lambda: reg.get(ids[0]).progress == 0.5)
    first = reg.get(ids[0])
    assert first.progress == 0.5 and first.message == "half way" and first.eta is not None
    time.sleep(0.05)
    later = reg.get(ids[0])
    assert later.elapsed > first.elapsed and later.eta <= first.eta  # live while the job runs
    assert reg.running_count() == 2
    time.sleep(0.05)
    assert sorted(started) == [0, 1]  # the other two really wait
    gates[1].set()  # the second finishes first: the third starts (FIFO), not the fourth
    assert _until(lambda: len(started) == 3)
    assert started[2] == 2
    for g in gates:
        g.set()
    jobs = [reg.wait(j, 10) for j in ids]
    assert [j.state for j in jobs] == ["done"] * 4
    assert [j.result for j in jobs] == [0, 10, 20, 30]
    assert all(j.progress == 1.0 and j.elapsed >= 0 for j in jobs)
    assert sorted(started) == [0, 1, 2, 3]


def test_training_jobs_report_progress_and_store_runs(store):
    reg = JobRegistry(store, max_running=2)
    spec = RunSpec("breast-cancer", "autoencoder", params={"epochs": 3, "hidden": [8], "latent": 2})
    ids = [reg.submit(resolve(spec), owner="a"), reg.submit(resolve(RunSpec("breast-cancer", "iforest", seed=1)),
                                                            owner="b")]
    jobs = [reg.wait(j, 60) for j in ids]
    assert [j.state for j in jobs] == ["done", "done"]
    ae = jobs[0]
    assert (ae.epoch, ae.epochs, ae.progress, ae.eta) == (3, 3, 1.0, 0.0)
    assert [h["epoch"] for h in ae.history] == [1, 2, 3]
    assert ae.result["run_id"] == ae.run_id and store.get(ae.run_id).status == "done"
    assert len(store.get(ae.run_id).history) == 3
    assert [j.id for j in reg.list(owner="b")] == [ids[1]]


def test_failing_job_does_not_affect_the_others(store, monkeypatch):
    from odcore.runs import execution

    reg = JobRegistry(store, max_running=2)

    def boom(progress, cancel):
        raise RuntimeError("out of memory (simulated)")

    real_fit = execution.fit_detector

    def fit_or_fail(detector, split, **kw):
        if getattr(detector, "batch_size", None) == 7:  # this job's fit fails inside the worker
            raise RuntimeError("batch_size 7: CUDA out of memory (simulated)")
        return real_fit(detector, split, **kw)

    monkeypatch.setattr(execution, "fit_detector", fit_or_fail)
    # a parameter value the declaration refuses never reaches the queue: the message names it
    with pytest.raises(InputError, match="batch_size"):
        reg.submit(resolve(RunSpec("breast-cancer", "autoencoder", params={"batch_size": 0})), owner="a")
    bad_task = reg.submit_task(boom, owner="a",
                               title="boom")
    bad_fit = reg.submit(resolve(RunSpec("breast-cancer", "autoencoder", params={"batch_size": 7, "epochs": 1})),
                         owner="a")
    with pytest.raises(InputError, match="neither a built-in"):  # bad data: refused when it is resolved
        resolve(RunSpec("no-such-file.csv", "iforest"))
    good = reg.submit(resolve(RunSpec("breast-cancer", "pca")), owner="a")
    states = {j: reg.wait(j, 60) for j in (bad_task, bad_fit, good)}
    assert states[good].state == "done"
    t = states[bad_task]
    assert t.state == "failed" and "out of memory" in t.error and "RuntimeError" in t.traceback
    f = states[bad_fit]
    assert f.state == "failed" and "batch_size" in f.error
    run = store.get(f.run_id)
    assert run.status == "failed" and "batch_size" in run.error and "Traceback" in run.traceback


def test_cancel_within_a_batch_keeps_partial_history(store):
    reg = JobRegistry(store, max_running=1)
    spec = RunSpec("breast-cancer", "autoencoder",
                   params={"epochs": 100_000, "batch_size": 8, "hidden": [8], "latent": 2}, monitor=False)
    job_id = reg.submit(resolve(spec), owner="alice")
    queued = reg.submit(resolve(RunSpec("breast-cancer", "pca")), owner="alice")
    assert _until(lambda: reg.get(job_id).epoch >= 2, timeout=60)
    assert reg.cancel(job_id, "bob") is False  # another owner cannot cancel
    assert reg.get(job_id).state == "running"
    assert reg.cancel(queued, "alice") is True  # a queued job is cancelled at once
    assert reg.get(queued).state == "cancelled"
    t0 = time.perf_counter()
    assert reg.cancel(job_id, "alice") is True
    job = reg.wait(job_id, 10)
    assert time.perf_counter() - t0 < 5  # within a batch (not at the end of 100,000 epochs)
    assert job.state == "cancelled" and job.epoch >= 2
    run = store.get(job.run_id)
    assert run.status == "cancelled" and len(run.history) >= 2 and run.scores is None
    assert reg.cancel(job_id, "alice") is False  # already finished
    assert reg.get(queued).run_id is None  # never started: no run


def test_restarted_registry_lists_every_finished_run(tmp_path):
    reg = JobRegistry(RunStore(tmp_path / "runs"), max_running=2)
    ids = [reg.submit(resolve(RunSpec("breast-cancer", m)), owner="a") for m in ("pca", "knn", "lof")]
    run_ids = {reg.wait(j, 60).run_id for j in ids}
    again = JobRegistry(RunStore(tmp_path / "runs"))
    # jobs are persisted: the owner's tray lists them again in their final state, with their runs
    assert {(j.id, j.state, j.run_id) for j in again.list(owner="a")} == {(j, "done", reg.get(j).run_id) for j in ids}
    assert {r["id"] for r in again.runs(status="done")} == run_ids  # finished runs are shared


def test_threads_follow_the_number_of_running_jobs(store, monkeypatch):
    import torch

    import odcore.jobs

    monkeypatch.setattr(odcore.jobs, "cpu_count", lambda: 4)
    calls = []
    real = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", lambda n: (calls.append(n), real(n)))
    reg = JobRegistry(store, max_running=2)
    gate = threading.Event()
    blocker = reg.submit_task(lambda progress, cancel: gate.wait(10), owner="a")
    reg.wait(reg.submit(resolve(RunSpec("breast-cancer", "pca")), owner="a"), 30)
    gate.set()
    reg.wait(blocker, 10)
    reg.wait(reg.submit(resolve(RunSpec("breast-cancer", "pca")), owner="a"), 30)
    # cores // running jobs: 4 // 2 beside the blocking task, then 4 // 1 alone
    assert calls == [2, 4]


def test_bad_spec_is_refused_at_submit_and_defaults(store):
    reg = JobRegistry(store)
    with pytest.raises(InputError, match="unknown method"):
        reg.submit(resolve(RunSpec("breast-cancer", "nope")), owner="a")
    with pytest.raises(InputError, match="unknown parameter"):
        reg.submit(resolve(RunSpec("breast-cancer", "pca", params={"bogus": 1})), owner="a")
    with pytest.raises(InputError, match="no job"):
        reg.get("job-0")
    assert reg.max_running == default_max_running() >= 1
