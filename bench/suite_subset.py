"""Part of a declared suite (some methods, seeds, files left out), tabled beside records of an earlier run.

    OMP_NUM_THREADS=1 python -m bench.suite_subset --suite adbench-dev \
        --methods pyod-autoencoder,pyod-deep-svdd,pyod-alad --seeds 1 --exclude 32_shuttle \
        --with bench/results/adbench_suite.json --with-methods autoencoder,deep-svdd,alad,iforest,knn \
        --json bench/results/adbench_suite_pyod_deep.json --markdown PATH

The cells are the suite's own (``odcore.runs.suite.suite_cells``: same splits, the suite's one setting per
method); ``--with`` adds the records of the same (file, protocol, seed) from an earlier run's JSON for the
methods named in ``--with-methods``, so both appear in one :func:`odcore.runs.suite.markdown_report`.

A killed run is resumed with ``--resume-log LOG`` (its printed progress lines, one per finished cell): those cells
are not run again and enter the records from the log (AUROC and fit seconds only, ``"from_log": true``; the cells
are seeded and single-threaded, so a rerun gives the same AUROC). The JSON is rewritten after every cell.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from bench.common import machine, save_json


def main() -> None:
    from odcore.recipes.suites import get
    from odcore.runs.grid import run_grid
    from odcore.runs.suite import markdown_report, suite_cells

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default="adbench-dev")
    ap.add_argument("--methods", required=True)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--protocols", default="", help="comma-separated subset of the suite's protocols (default: all)")
    ap.add_argument("--exclude", default="", help="file labels (stems) to leave out, comma-separated")
    ap.add_argument("--with", dest="with_json", default=None)
    ap.add_argument("--with-methods", default="")
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--versus", default=None, help="methods whose wins / ties / losses are tabled (default: the first "
                    "three of --with-methods)")
    ap.add_argument("--from-json", default=None, help="table the records of this earlier --json instead of running")
    ap.add_argument("--resume-log", default=None, help="progress log of a killed run of the same command: its "
                    "finished cells are taken from it and not run again")
    a = ap.parse_args()
    suite = get(a.suite)
    exclude = {e for e in a.exclude.split(",") if e}
    protocols = [p for p in a.protocols.split(",") if p] or None
    cells = [c for c in suite_cells(suite, seeds=a.seeds, methods=a.methods.split(","), protocols=protocols)
             if c["dataset"] not in exclude]
    if a.from_json:
        saved = json.loads(Path(a.from_json).read_text())
        header, records = saved["header"], saved["records"]
    else:
        done = _log_records(a.resume_log) if a.resume_log else []
        seen = {(r["protocol"], r["dataset"], r["method"], r["seed"]) for r in done}
        todo = [c for c in cells if (c["run"]["protocol"], c["dataset"], c["run"]["method"], c["run"]["seed"])
                not in seen]
        header, records = _run(todo, exclude, a.json, run_grid, done=done)
    keys = {(r["dataset"], r["protocol"], r["seed"]) for r in records}
    extra = []
    if a.with_json:
        wanted = set(a.with_methods.split(","))
        extra = [r for r in json.loads(Path(a.with_json).read_text())
                 if r["method"] in wanted and (r["dataset"], r["protocol"], r["seed"]) in keys]
    text = (f"Machine: {header['machine']}, {header['cores']} cores, OMP_NUM_THREADS={header['omp_num_threads']}; "
            f"{header['date']}, {len(records)} runs in {header['seconds']:.0f} s; load average {header['load_start']} "
            f"at the start, {header['load_end']} at the end; files left out: {', '.join(sorted(exclude)) or 'none'}."
            "\n\n")
    versus = a.versus.split(",") if a.versus else [m for m in a.with_methods.split(",") if m][:3]
    text += markdown_report(extra + records, versus=tuple(versus))
    if a.markdown:
        Path(a.markdown).write_text(text)
    print(text)


def _log_records(path: str) -> list[dict]:
    """The finished cells of a progress log written by :func:`_run` (``protocol dataset method seed auroc fit s``)."""
    out = []
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if len(parts) == 7 and parts[6] == "s":
            try:
                out.append({"protocol": parts[0], "dataset": parts[1], "method": parts[2], "seed": int(parts[3]),
                            "auroc": float(parts[4]), "fit_seconds": float(parts[5]), "from_log": True})
            except ValueError:
                continue
    return out


def _run(cells, exclude, json_path, run_grid, done=()):
    """Run the cells one after the other (progress printed, the JSON rewritten after each); the header and the
    records (``done`` first: cells of a resumed run), saved to ``json_path``."""
    header = machine(omp_num_threads=os.environ.get("OMP_NUM_THREADS", "unset"), excluded=sorted(exclude),
                     resumed_cells=len(done))
    started = time.time()
    records = list(done)

    def progress(r):
        print(r["protocol"], r["dataset"], r["method"], r["seed"], f"{r['auroc']:.3f}", f"{r['fit_seconds']:.1f} s",
              flush=True)
        records.append(r)
        save_json({"header": {**header, "partial": True}, "records": records}, json_path)

    run_grid(cells, progress=progress)
    header.update(seconds=round(time.time() - started, 1), load_end=round(os.getloadavg()[0], 2))
    save_json({"header": header, "records": records}, json_path)
    return header, records

if __name__ == "__main__":
    main()
