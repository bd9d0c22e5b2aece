"""``odcore score`` of this checkout against another checkout (an earlier commit), side by side.

    git worktree add /tmp/before <commit>
    OMP_NUM_THREADS=1 python -m bench.score_ab --before /tmp/before --rows 1000000 --pairs 4 \\
        --json bench/results/scoring_scale_r3_ab.json

Trains one small autoencoder run and writes one Parquet file (as :mod:`bench.score_scale`), then for
each pair: a bare forward of the network, the command of the other checkout, the command of this one,
a bare forward again (the machine is shared: both commands see the same load, and each pair's ratio is
to the mean of its two bare passes). Both commands run with this Python and score the same run.
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

from bench.common import load, machine, save_json
from bench.score_scale import ROOT, bare_forward, child_env, train_run, write_parquet


def score(checkout: Path, root: str, run_id: str, src: Path, out: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of ``python -m odcore score`` run from ``checkout``."""
    env = {**child_env(), "PYTHONPATH": str(checkout)}
    rss = out.with_suffix(".rss")
    t = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss), sys.executable, "-m", "odcore", "score",
                           "--run", run_id, "--runs-dir", root, "--input", str(src), "--output", str(out)],
                          env=env, cwd=str(checkout), capture_output=True, text=True)
    sec = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{checkout}: odcore score failed: {proc.stderr[-2000:]}")
    out.unlink(missing_ok=True)
    return sec, int(rss.read_text().split()[-1]) // 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", required=True, help="the other checkout (e.g. a git worktree of an earlier commit)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    omp = os.environ.get("OMP_NUM_THREADS", "")
    threads = int(omp or 0) or os.cpu_count() or 1
    rec = {**machine(omp_num_threads=omp, command=f"OMP_NUM_THREADS={omp} python -m bench.score_ab "
                     f"{' '.join(sys.argv[1:])}"), "pairs": []}
    tmp = Path(tempfile.mkdtemp(prefix="score-ab-"))
    try:
        root, rid = train_run(tmp)
        write_parquet(tmp / "big.parquet", a.rows, seed=4)
        for pair in range(a.pairs):
            l0 = load()
            b1 = bare_forward(root, rid, a.rows, threads)
            before = score(Path(a.before).resolve(), root, rid, tmp / "big.parquet", tmp / "before.parquet")
            now = score(ROOT, root, rid, tmp / "big.parquet", tmp / "now.parquet")
            bare = (b1 + bare_forward(root, rid, a.rows, threads)) / 2
            r = {"pair": pair + 1, "load": [l0, load()], "bare_rows_per_s": round(bare),
                 "before_s": round(before[0], 2), "before_ratio": round(a.rows / before[0] / bare, 3),
                 "before_peak_mb": before[1], "now_s": round(now[0], 2),
                 "now_ratio": round(a.rows / now[0] / bare, 3), "now_peak_mb": now[1]}
            rec["pairs"].append(r)
            print(json.dumps(r), flush=True)
            save_json(rec, a.json)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
