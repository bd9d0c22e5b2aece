"""End-to-end ``odcore score`` at scale beside a bare forward pass of the same network (issue 17).

    OMP_NUM_THREADS=1 python -m bench.score_scale --rows 1000000 [--rows 10000000] [--ray-workers 1,2] \\
        [--repeat 3] [--stages] --json bench/results/scoring_scale.json

Generates a Parquet file of N rows x 121 float64 columns in a temporary folder (deleted at the end),
trains a small autoencoder (121-64-32-64-121) on 5,000 rows of the same columns, then measures, in
this order and in one run:

- **bare forward**: the run's own encoder and decoder (``torch.nn.Sequential``, eval, inference
  mode) on a float32 tensor already in memory, in batches of the model's ``score_batch_size``,
  computing the same per-row squared error; rows/s, before and after the end-to-end runs (mean);
- **end to end**: ``python -m odcore score --run ID --input big.parquet --output out.parquet`` as a
  child process: wall seconds from the start of the process to its exit (imports, loading the run,
  reading, converting, scoring, writing) and its peak RSS (``/usr/bin/time``: this child only); the
  start-up alone is a 1,000-row file scored the same way, and ``python -X importtime`` of it says how
  much of the start-up is imports (torch, scikit-learn, the rest); ``--repeat`` times,
  each between two bare passes;
- **stages** (``--stages``): the local engine's steps one after the other in this process (read,
  features, model, write seconds), to show where the time goes;
- **Ray Data** (``--ray-workers``): ``score_dataset`` on the same rows as a folder of part files,
  in a child process per worker count: ``ray.init`` seconds and scoring seconds separately.

Threads: the children inherit ``OMP_NUM_THREADS``; the bare pass uses ``torch.set_num_threads`` of
the same value. The 1-minute load average is recorded before and after each measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import load, machine, save_json

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 121


def write_parquet(path: Path, rows: int, *, seed: int, row_group: int = 100_000, parts: int = 1) -> None:
    """``rows`` x 121 float64 standard-normal columns x0..x120 (+ an int64 ``id``), in row groups of
    ``row_group`` rows (pyarrow's default encodings and compression); ``parts`` > 1 writes a folder of
    that many files instead of one file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    names = [f"x{j}" for j in range(WIDTH)]
    block = rng.standard_normal((WIDTH, min(rows, row_group)))  # column-major: a contiguous array per column
    per = -(-rows // parts)
    done = 0
    for k in range(parts):
        n_part = min(per, rows - done)
        target = path if parts == 1 else path / f"part-{k:03d}.parquet"
        writer = None
        for start in range(0, n_part, row_group):
            n = min(row_group, n_part - start)
            # the first row group's values again (with new ids) beyond it: drawing 1.2G normals for 10M
            # rows would take longer than the measurement; the reader's work is the same
            A = block[:, :n]
            cols = [pa.array(np.arange(done + start, done + start + n, dtype=np.int64))] + [pa.array(a) for a in A]
            table = pa.Table.from_arrays(cols, names=["id", *names])
            if writer is None:
                writer = pq.ParquetWriter(target, table.schema)
            writer.write_table(table)
        writer.close()
        done += n_part


def train_run(tmp: Path) -> tuple[str, str]:
    """A stored autoencoder run (121-64-32-64-121) on 5,000 rows of the benchmark's columns."""
    from odcore.runs import RunSpec, RunStore, execute, resolve

    write_parquet(tmp / "train.parquet", 5_000, seed=1)
    store = RunStore(tmp / "runs")
    spec = RunSpec(str(tmp / "train.parquet"), "autoencoder", data_options={"meta_columns": "id"},
                   params={"epochs": 1, "hidden": [64], "latent": 32}, monitor=False)
    return str(store.root), execute(resolve(spec, store=store), store=store)["run_id"]


def bare_forward(runs_root: str, run_id: str, rows: int, threads: int) -> float:
    """Rows/s of the run's networks alone on an in-memory float32 tensor (same batch size, same score)."""
    import torch

    from odcore.runs.rebuild import load_model
    from odcore.runs.store import RunStore

    torch.set_num_threads(threads)
    model = load_model(RunStore(runs_root, read_only=True).get(run_id))
    enc, dec = model.nets_["encoder"].eval(), model.nets_["decoder"].eval()
    bs = int(model.score_batch_size)
    X = torch.from_numpy(np.random.default_rng(2).standard_normal((rows, WIDTH)).astype(np.float32))
    out = torch.empty(rows)
    with torch.inference_mode():
        for i in range(0, min(rows, 4 * bs), bs):  # warm-up
            xb = X[i:i + bs]
            out[i:i + bs] = ((dec(enc(xb)) - xb) ** 2).mean(1)
        t0 = time.perf_counter()
        for i in range(0, rows, bs):
            xb = X[i:i + bs]
            out[i:i + bs] = ((dec(enc(xb)) - xb) ** 2).mean(1)
        sec = time.perf_counter() - t0
    return rows / sec


def child_env() -> dict[str, str]:
    """The children's environment: this one, the project on the path, and compiled bytecode cached as an
    installed package has it (this machine's shells set PYTHONDONTWRITEBYTECODE, which would make every
    child compile odcore's sources again: 0.08 s of start-up no user pays)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def child(argv: list[str]) -> dict[str, Any]:
    """Run a child process: its wall seconds, exit code and output."""
    env = child_env()
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(ROOT))
    out, err = proc.communicate()
    sec = time.perf_counter() - t0
    return {"seconds": sec, "rc": proc.returncode, "stdout": out.decode()[-2000:], "stderr": err.decode()[-2000:]}


def peak_child(argv: list[str]) -> dict[str, Any]:
    """Like :func:`child`, with the child's own peak RSS measured by ``/usr/bin/time -f %M`` (the
    rusage of a child forked from this process would count this process's memory: Linux keeps
    ``ru_maxrss`` across fork and exec)."""
    env = child_env()
    with tempfile.TemporaryDirectory() as d:
        rss = Path(d) / "rss"
        t0 = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss), *argv], env=env, cwd=str(ROOT),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        sec = time.perf_counter() - t0
        kb = int(rss.read_text().strip().splitlines()[-1])
    return {"seconds": sec, "rc": proc.returncode, "peak_rss_mb": kb / 1024, "stderr": proc.stderr.decode()[-2000:]}


def stages(runs_root: str, run_id: str, path: Path, threads: int, chunk: int = 65_536) -> dict[str, float]:
    """Seconds of each step of the local engine done one after the other in this process (no threads):
    reading record batches, turning them into standardised float32 rows, the model, writing Parquet."""
    import pyarrow.parquet as pq
    import torch

    from odcore.runs import scoring
    from odcore.runs.store import RunStore

    torch.set_num_threads(threads)
    scorer = scoring.Scorer(RunStore(runs_root, read_only=True).get(run_id))
    scorer.score_batch(next(scoring.iter_chunks(path, 1000)))  # one-off costs (lazy imports, kernels)
    sec = {"read": 0.0, "features": 0.0, "model": 0.0, "write": 0.0}
    writer = None
    it = (batch for _, batch in scoring.read_input(path, chunk, wanted=scorer.columns))
    with tempfile.TemporaryDirectory() as d:
        while True:
            t0 = time.perf_counter()
            batch = next(it, None)
            if batch is None:
                break
            t1 = time.perf_counter()
            b = scorer.features(batch)
            t2 = time.perf_counter()
            table = scorer.score_features(b)
            t3 = time.perf_counter()
            if writer is None:
                writer = pq.ParquetWriter(Path(d) / "o.parquet", table.schema)
            writer.write_table(table)
            t4 = time.perf_counter()
            for k, a, b_ in (("read", t0, t1), ("features", t1, t2), ("model", t2, t3), ("write", t3, t4)):
                sec[k] += b_ - a
        writer.close()
    return {k: round(v, 2) for k, v in sec.items()}


def import_seconds(argv: list[str]) -> dict[str, float]:
    """Seconds the command spends importing (``python -X importtime``: the sum of the top-level imports'
    cumulative times), and within it torch (with safetensors) and scikit-learn (with the SciPy and pandas
    it imports); the rest is numpy, pyarrow, odcore and the standard library."""
    env = child_env()
    proc = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], env=env, cwd=str(ROOT),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    total, first = 0.0, {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cum, name = line.split("|")
        try:
            sec = int(cum) / 1e6
        except ValueError:  # the header line
            continue
        if not name.startswith("  "):  # a top-level import: its cumulative time holds everything below it
            total += sec
        first.setdefault(name.strip(), sec)
    out = {"total": total, "torch": first.get("safetensors.torch", 0.0) or first.get("torch", 0.0),
           "sklearn": first.get("sklearn.base", 0.0)}
    out["rest"] = out["total"] - out["torch"] - out["sklearn"]
    return {k: round(v, 2) for k, v in out.items()}


RAY_CHILD = """
import json, os, sys, time
import ray
from odcore.runs.ray_scoring import score_dataset
from odcore.runs.store import RunStore
root, rid, src, dst, workers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
t0 = time.perf_counter()
ray.init(num_cpus=max(os.cpu_count(), workers + 1), log_to_driver=False, include_dashboard=False,
         runtime_env={"env_vars": {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}})
t1 = time.perf_counter()
stats = score_dataset(RunStore(root, read_only=True).get(rid), src, dst, workers=workers)
t2 = time.perf_counter()
ray.shutdown()
print(json.dumps({"init_seconds": t1 - t0, "score_seconds": t2 - t1, "rows": stats["rows"], "parts": stats["parts"]}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, action="append", help="rows of the scored file (repeat for several)")
    ap.add_argument("--ray-workers", default="1,2", help="Ray worker counts ('' to skip Ray)")
    ap.add_argument("--ray-rows", type=int, default=1_000_000)
    ap.add_argument("--bare-rows", type=int, default=1_000_000)
    ap.add_argument("--stages", action="store_true",
                    help="also time reading, conversion, model and writing one after the other in this process")
    ap.add_argument("--repeat", type=int, default=3,
                    help="end-to-end runs per row count, each between two bare passes (the machine is shared)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    rows_list = a.rows or [1_000_000]
    threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0) or os.cpu_count() or 1
    omp = os.environ.get("OMP_NUM_THREADS", "")
    command = f"OMP_NUM_THREADS={omp} python -m bench.score_scale {' '.join(sys.argv[1:])}"
    rec: dict[str, Any] = {**machine(omp_num_threads=omp, torch_threads=threads, command=command),
                           "local": [], "ray": []}
    tmp = Path(tempfile.mkdtemp(prefix="score-scale-"))
    try:
        t = time.perf_counter()
        root, rid = train_run(tmp)
        print(f"trained {rid} in {time.perf_counter() - t:.1f} s", flush=True)
        write_parquet(tmp / "small.parquet", 1_000, seed=3)
        cli = [sys.executable, "-m", "odcore", "score", "--run", rid, "--runs-dir", root]
        for rows in rows_list:
            t = time.perf_counter()
            write_parquet(tmp / "big.parquet", rows, seed=4)
            size_mb = (tmp / "big.parquet").stat().st_size / 2**20
            print(f"wrote {rows} rows ({size_mb:.0f} MB) in {time.perf_counter() - t:.1f} s", flush=True)
            r: dict[str, Any] = {"rows": rows, "file_mb": round(size_mb, 1)}
            for rep in range(a.repeat):
                l0 = load()
                bare1 = bare_forward(root, rid, min(rows, a.bare_rows), threads)
                start = peak_child([*cli, "--input", str(tmp / "small.parquet"), "--output", str(tmp / "s.parquet")])
                e2e = peak_child([*cli, "--input", str(tmp / "big.parquet"), "--output", str(tmp / "out.parquet")])
                if e2e["rc"] != 0:
                    raise SystemExit(f"odcore score failed: {e2e['stderr']}")
                bare2 = bare_forward(root, rid, min(rows, a.bare_rows), threads)
                imports = import_seconds([*cli, "--input", str(tmp / "small.parquet"), "--output",
                                          str(tmp / "s.parquet")])
                bare = (bare1 + bare2) / 2
                work = max(e2e["seconds"] - start["seconds"], 1e-9)
                m = dict(repeat=rep, bare_rows_per_s=round(bare), bare_before=round(bare1), bare_after=round(bare2),
                         e2e_seconds=round(e2e["seconds"], 2), e2e_rows_per_s=round(rows / e2e["seconds"]),
                         ratio=round(rows / e2e["seconds"] / bare, 3), peak_rss_mb=round(e2e["peak_rss_mb"]),
                         startup_seconds=round(start["seconds"], 2), startup_peak_rss_mb=round(start["peak_rss_mb"]),
                         after_startup_rows_per_s=round(rows / work), ratio_after_startup=round(rows / work / bare, 3),
                         bare_seconds=round(rows / bare, 2), import_seconds=imports,
                         load_before=l0, load_after=load())
                r.setdefault("runs", []).append(m)
                print(json.dumps(m), flush=True)
                save_json(rec, a.json)
            runs = r["runs"]
            r.update(ratio_median=float(np.median([m["ratio"] for m in runs])),
                     ratio_best=max(m["ratio"] for m in runs),
                     peak_rss_mb_max=max(m["peak_rss_mb"] for m in runs))
            if a.stages:
                r["stages_seconds"] = stages(root, rid, tmp / "big.parquet", threads)
            rec["local"].append(r)
            save_json(rec, a.json)  # kept if a later step fails
            print(json.dumps({k: v for k, v in r.items() if k != "runs"}), flush=True)
            (tmp / "big.parquet").unlink()
            (tmp / "out.parquet").unlink(missing_ok=True)
        workers = [int(w) for w in a.ray_workers.split(",") if w.strip()]
        if workers:
            t = time.perf_counter()
            (tmp / "parts").mkdir()
            write_parquet(tmp / "parts", a.ray_rows, seed=5, parts=8)
            print(f"wrote {a.ray_rows} rows in 8 files in {time.perf_counter() - t:.1f} s", flush=True)
            for w in workers:
                l0 = load()
                res = child([sys.executable, "-c", RAY_CHILD, root, rid, str(tmp / "parts"), str(tmp / f"ray{w}"),
                             str(w)])
                if res["rc"] != 0:
                    raise SystemExit(f"ray scoring failed: {res['stderr']}")
                got = json.loads(res["stdout"].strip().splitlines()[-1])
                r = {"workers": w, "rows": got["rows"], "parts_written": got["parts"],
                     "init_seconds": round(got["init_seconds"], 1), "score_seconds": round(got["score_seconds"], 1),
                     "rows_per_s": round(got["rows"] / got["score_seconds"]),
                     "process_seconds": round(res["seconds"], 1), "load_before": l0, "load_after": load()}
                rec["ray"].append(r)
                save_json(rec, a.json)
                print(json.dumps(r), flush=True)
                shutil.rmtree(tmp / f"ray{w}", ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rec["load_end"] = load()
    save_json(rec, a.json)


if __name__ == "__main__":
    main()
