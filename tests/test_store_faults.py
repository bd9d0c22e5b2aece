"""The run store under faults: it degrades, it does not lie.

Reading writes nothing; a read-only folder (a read-only tmpfs) and a full one (a small tmpfs) give
clear messages and corrupt nothing; a failure record that cannot be written is kept in memory and
written once there is room; damaged runs are listed as damaged with the reason and break nothing
else; queued jobs survive a crash of their process; run ids cannot leave the runs folder. The
tmpfs tests need root (mount); they skip with the reason elsewhere and fail under CI=true.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from odcore.errors import InputError
from odcore.runs.execution import execute
from odcore.runs.rebuild import load_model
from odcore.runs.spec import RunSpec, resolve
from odcore.runs.store import RunStore, StoreError
from tests.conftest import missing

ROOT = Path(__file__).resolve().parents[1]
AE = {"epochs": 2, "hidden": [8], "latent": 2, "batch_size": 128}


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with (size, mtime_ns)."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs (root only); yields (mount point, remount function)."""
    mounts = []

    def make(size: str) -> Path:
        point = tmp_path / f"fs{len(mounts)}"
        point.mkdir()
        if os.geteuid() != 0:
            missing("mounting a tmpfs needs root")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True)
        if r.returncode != 0:
            missing(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
        mounts.append(point)
        return point

    yield make
    for point in mounts:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def remount(point: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(point)], check=True, capture_output=True)


def dead_running_run(store: RunStore) -> str:
    """A run left 'running' by a writer that is gone (a pid that does not exist)."""
    run = store.begin("autoencoder", RunSpec("breast-cancer", "autoencoder").to_dict())
    store._release(run.id)
    cfg = json.loads((run.path / "config.json").read_text())
    cfg.update(pid=2 ** 22 + 12345, process="gone")
    (run.path / "config.json").write_text(json.dumps(cfg))
    return run.id


def test_opening_for_reading_never_writes(tmp_path):
    store = RunStore(tmp_path / "runs")
    rid = execute(resolve(RunSpec("breast-cancer", "pca"), store=store), store=store)["run_id"]
    dead = dead_running_run(store)
    (tmp_path / "runs" / "index.sqlite").unlink()
    before = snapshot(tmp_path / "runs")
    ro = RunStore(tmp_path / "runs", read_only=True)
    rows = {r["id"]: r for r in ro.list_runs()}
    assert rows[rid]["status"] == "done" and ro.get(rid).scores is not None
    assert rows[dead]["status"] == "failed"  # what the next writer will record, shown without writing it
    assert load_model(ro.get(rid)) is not None and ro.get(rid).cache_dir.is_dir()
    with pytest.raises(StoreError, match="read-only"):
        ro.begin("pca", {})
    assert snapshot(tmp_path / "runs") == before  # not even the index was created


def test_a_read_only_folder_lists_and_refuses_writes_with_one_message(tmpfs, capsys):
    from odcore import cli

    root = tmpfs("8m")
    store = RunStore(root)
    rid = execute(resolve(RunSpec("breast-cancer", "pca"), store=store), store=store)["run_id"]
    dead = dead_running_run(store)
    store.close()
    before = snapshot(root)
    remount(root, "ro")
    try:
        ro = RunStore(root)  # opened for writing: goes read-only by itself, and says why
        assert ro.read_only and "read-only" in ro.warnings[0]
        assert {r["id"]: r["status"] for r in ro.list_runs()} == {rid: "done", dead: "failed"}
        assert ro.get(rid).scores is not None
        with pytest.raises(StoreError, match="read-only"):
            execute(resolve(RunSpec("breast-cancer", "pca"), store=ro), store=ro)
        assert cli.main(["runs", "--runs-dir", str(root)]) == 0 and rid in capsys.readouterr().out
        code = cli.main(["train", "--data", "breast-cancer", "--method", "pca", "--runs-dir", str(root)])
        err = capsys.readouterr().err
        assert code == 2 and "read-only" in err and len(err.strip().splitlines()) == 1
    finally:
        remount(root, "rw")
    assert snapshot(root) == before  # nothing corrupted, nothing half-written


def test_a_full_disk_keeps_the_cause_in_memory_and_writes_it_later(tmpfs):
    root = tmpfs("4m")
    store = RunStore(root)
    filler = root / "_filler"

    def fill(rec):  # after the first epoch the disk fills up
        if rec["epoch"] == 1:
            with open(filler, "wb") as fh:
                try:
                    while True:
                        fh.write(b"\0" * 65536)
                except OSError:
                    pass

    with pytest.raises(StoreError, match="disk is full") as err:
        execute(resolve(RunSpec("breast-cancer", "autoencoder", params={**AE, "epochs": 3}), store=store),
                store=store, callbacks=(fill,))
    rid = err.value.run_id
    run = store.get(rid)  # the record on disk still says "running": the store does not lie about it
    assert run.status == "failed" and "disk is full" in run.error
    assert store.list_runs()[0]["status"] == "failed" and rid in store.pending()
    assert json.loads((root / rid / "config.json").read_text())["status"] == "running"
    with pytest.raises(StoreError, match="disk is full"):  # a new run gets one clear message, leaves no folder
        execute(resolve(RunSpec("breast-cancer", "pca"), store=store), store=store)
    assert [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")] == [rid]
    assert RunStore(root, read_only=True).list_runs()  # reading works on a full disk
    restarted = RunStore(root)  # a new start while the disk is still full: the cause was kept in the run's
    assert "disk is full" in restarted.get(rid).error  # reserved block, so it is not "crash or kill"
    filler.unlink()
    assert store.retry_pending() == [rid]
    on_disk = json.loads((root / rid / "config.json").read_text())
    assert on_disk["status"] == "failed" and "disk is full" in on_disk["error"]
    again = RunStore(root)  # the next start keeps the real cause (not "crash or kill")
    assert "disk is full" in again.get(rid).error and again.get(rid).status == "failed"


def test_damaged_runs_are_listed_with_the_reason_and_break_nothing_else(tmp_path, capsys):
    from odcore import cli

    store = RunStore(tmp_path / "runs")
    a, b, c, d = (execute(resolve(RunSpec("breast-cancer", "pca", seed=s), store=store),
                          store=store)["run_id"] for s in range(4))
    cfg = store.root / a / "config.json"
    cfg.write_text(cfg.read_text()[:40])  # truncated
    (store.root / b / "model" / "weights.safetensors").unlink()  # deleted weights
    scores = store.root / d / "scores.parquet"
    scores.write_bytes(b"\0" * scores.stat().st_size)  # same size, garbage
    fresh = RunStore(tmp_path / "runs")
    rows = {r["id"]: r for r in fresh.list_runs()}
    assert rows[a]["status"] == "damaged" and "config.json is damaged" in rows[a]["error"]
    assert rows[b]["status"] == "damaged" and "weights.safetensors is missing" in rows[b]["error"]
    assert rows[c]["status"] == "done"
    assert {r["id"] for r in fresh.list_runs(status="done")} == {c, d}
    assert load_model(fresh.get(c)) is not None  # the others list and load
    with pytest.raises(StoreError, match="damaged"):
        fresh.get(a)
    with pytest.raises(InputError, match="weights.safetensors is missing"):
        load_model(fresh.get(b))
    with pytest.raises(StoreError, match="scores.parquet is damaged"):
        _ = fresh.get(d).scores
    out = tmp_path / "o.csv"
    code = cli.main(["score", "--run", b, "--input", str(tmp_path / "none.csv"), "--output", str(out),
                     "--runs-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert cli.main(["runs", "--runs-dir", str(tmp_path / "runs")]) == 0
    assert "damaged" in capsys.readouterr().out


def test_damage_found_while_the_store_is_open(tmp_path):
    store = RunStore(tmp_path / "runs")
    rid = execute(resolve(RunSpec("breast-cancer", "pca"), store=store), store=store)["run_id"]
    (store.root / rid / "model" / "weights.safetensors").unlink()
    assert store.get(rid).status == "damaged"
    assert store.list_runs(status="done") == [] and store.list_runs()[0]["status"] == "damaged"


def test_the_index_follows_changes_made_behind_its_back(tmp_path):
    store = RunStore(tmp_path / "runs")
    rid = execute(resolve(RunSpec("breast-cancer", "pca"), store=store), store=store)["run_id"]
    other = RunStore(tmp_path / "runs")  # another process, say
    other.update(rid, error="note")
    other_rid = execute(resolve(RunSpec("breast-cancer", "pca", seed=1), store=other), store=other)["run_id"]
    store.sync(force=True)
    rows = {r["id"]: r for r in store.list_runs()}
    assert rows[rid]["error"] == "note" and other_rid in rows


def test_run_ids_cannot_leave_the_runs_folder(tmp_path):
    store = RunStore(tmp_path / "runs")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "config.json").write_text(json.dumps({"id": "link", "status": "done"}))
    (store.root / "link").symlink_to(outside, target_is_directory=True)
    for bad in ("../outside", "/etc", "link", "..", "", "a/b", ".hidden", "_data", "x\x00y"):
        with pytest.raises(InputError):
            store.get(bad)
        assert bad not in store


def test_queued_jobs_survive_a_kill_of_their_process(tmp_path):
    """kill -9 of a process with one running and two queued jobs: after a restart the running one is
    marked failed (its run too) and the queued ones run to the end; none vanishes."""
    runs = tmp_path / "runs"
    code = textwrap.dedent(f"""
        import time
        from odcore.jobs import JobRegistry
        from odcore.runs.spec import RunSpec, resolve
        from odcore.runs.store import RunStore
        reg = JobRegistry(RunStore({str(runs)!r}), max_running=1)
        slow = reg.submit(resolve(RunSpec("breast-cancer", "autoencoder", params={{"epochs": 100000, "batch_size": 8,
                          "hidden": [8], "latent": 2}}, monitor=False)), owner="alice")
        q = [reg.submit(resolve(RunSpec("breast-cancer", "pca", seed=s)), owner="alice") for s in (1, 2)]
        while reg.get(slow).epoch < 1:
            time.sleep(0.05)
        print(slow, *q, flush=True)
        time.sleep(600)
    """)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        slow, *queued = proc.stdout.readline().split()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    from odcore.jobs import JobRegistry

    reg = JobRegistry(RunStore(runs), max_running=1)
    assert set(reg.restored["resumed"]) == set(queued) and reg.restored["marked"] == [slow]
    for j in queued:
        assert reg.wait(j, 120).state == "done"
    jobs = {j.id: j for j in reg.list(owner="alice")}
    assert jobs[slow].state == "failed" and "server stopped" in jobs[slow].error
    assert reg.store.get(jobs[slow].run_id).status == "failed"
    assert all(reg.store.get(jobs[j].run_id).status == "done" for j in queued)
    assert reg.store.get(jobs[queued[0]].run_id).owner == "alice"  # the run records who asked


def test_a_classical_fit_says_it_cannot_be_interrupted(tmp_path):
    from odcore.jobs import NOT_CANCELLABLE, JobRegistry

    reg = JobRegistry(RunStore(tmp_path / "runs"), max_running=1)
    job = reg.submit(resolve(RunSpec("breast-cancer", "iforest", params={"n_estimators": 3000})), owner="a")
    deadline = time.time() + 60
    while reg.get(job).state != "running" and time.time() < deadline:
        time.sleep(0.02)
    assert reg.cancel(job, "b") is False  # another owner's cancel is refused
    assert reg.cancel(job, "a") is True
    snap = reg.get(job)
    if snap.state == "running":  # still fitting: the job says plainly what will happen
        assert snap.message == NOT_CANCELLABLE
    final = reg.wait(job, 120)
    assert final.state == "cancelled" and reg.store.get(final.run_id).status == "cancelled"


def test_once_it_can_write_again_the_store_stops_saying_it_cannot(tmp_path, monkeypatch):
    """A store that degraded by itself (its index or its folder could not be written) checks again: once the
    folder takes writes the warnings go (the app's sidebar stops saying the disk is full) and runs start."""
    import errno
    import sqlite3

    store = RunStore(tmp_path / "runs")
    store._index_unwritable(sqlite3.OperationalError("database or disk is full"))
    store._go_read_only(OSError(errno.ENOSPC, "No space left on device"))
    assert any("full" in w for w in store._warnings) and store.read_only
    real_write = Path.write_bytes

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)  # still full: the check fails, the warnings stay
    assert not store.heal(force=True) and store.read_only and store.warnings
    monkeypatch.setattr(Path, "write_bytes", real_write)
    assert store.heal(force=True)
    assert store.warnings == [] and not store.read_only and not store._memory_index
    rid = execute(resolve(RunSpec("breast-cancer", "pca"), store=store), store=store)["run_id"]  # runs start again
    assert store.get(rid).status == "done" and (tmp_path / "runs" / "index.sqlite").exists()
    assert not RunStore(tmp_path / "runs", read_only=True).heal(force=True)  # asked read-only: never writes


def test_a_filled_disk_warns_then_stops_warning_once_freed(tmpfs):
    root = tmpfs("4m")
    RunStore(root).close()
    (root / "index.sqlite").unlink()  # the next store must create its index on the full disk
    filler = root / "_filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    store = RunStore(root)
    assert store.warnings and any("full" in w for w in store.warnings), store.warnings
    filler.unlink()
    assert store.heal(force=True) and store.warnings == []
