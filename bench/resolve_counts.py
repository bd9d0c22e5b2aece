"""One resolved request, counted and timed: parameter validations per Train click, table preparations per run,
and what the prepared-table cache saves.

    OMP_NUM_THREADS=1 python -m bench.resolve_counts --markdown bench/results/resolve.md

- validations: every check of the autoencoder's ``epochs`` value (one per validation of its parameters) while
  the Train page's click runs: resolve, the estimate, submit, the job's execute and the detector's fit;
- preparations: calls of ``odcore.data.table.prepare`` for one run on a CSV table (the Data page's load, resolve,
  the estimate, the job, the rebuild of its split);
- the cache: on a daily sales table (``--stores`` x ``--days`` rows, weekly windows, per-series scaling), the
  seconds of preparing it (``odcore.data.load``) and of reading it back from the run store's cache
  (``odcore.runs.prepared.load`` on a hit), measured side by side in one process (median of ``--repeats``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.common import load, machine


def sales_csv(path: Path, stores: int, days: int) -> Path:
    rng = np.random.default_rng(0)
    dates = pd.date_range("2022-01-03", periods=days, freq="D")
    frames = [pd.DataFrame({"store": f"S{s:03d}", "date": dates.strftime("%Y-%m-%d"),
                            "sales": 100 * (s + 1) * (1 + 0.3 * (dates.day_of_week >= 5)) + rng.normal(0, 5, days)})
              for s in range(stores)]
    pd.concat(frames).to_csv(path, index=False)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stores", type=int, default=40)
    ap.add_argument("--days", type=int, default=728)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    head = machine()

    from odcore import params
    from odcore.data import table
    from odcore.jobs import JobRegistry
    from odcore.runs import eta, prepared, rebuild
    from odcore.runs.spec import RunSpec, resolve
    from odcore.runs.store import RunStore

    checks: list = []
    real_check = params.Param.check

    def check(self, value):
        if self.name == "epochs" and self.group == "training":
            checks.append(value)
        return real_check(self, value)

    preps: list = []
    real_prepare = table.prepare

    def prepare(*a, **k):
        preps.append(1)
        return real_prepare(*a, **k)

    params.Param.check, table.prepare = check, prepare
    tmp = Path(tempfile.mkdtemp(prefix="resolve-counts-"))
    store = RunStore(tmp / "runs")
    reg = JobRegistry(store, max_running=1)
    run = resolve(RunSpec("breast-cancer", "autoencoder", params={"epochs": 2}), store=store)  # the page's click
    eta.estimate(run, store=store)
    assert reg.wait(reg.submit(run, owner="bench"), 300).state == "done"
    validations = len(checks)

    path = sales_csv(tmp / "sales.csv", args.stores, args.days)
    opts = {"roles": "auto", "window": "week", "scaling": "series"}
    prepared.load(str(path), opts, store)  # the Data page
    run = resolve(RunSpec(str(path), "iforest", protocol="all", data_options=opts, params={"n_estimators": 50}),
                  store=store)
    eta.estimate(run, store=store)
    job = reg.wait(reg.submit(run, owner="bench"), 300)
    assert job.state == "done", job.error
    rebuild.load_split(store.get(job.run_id))
    preparations = len(preps)
    params.Param.check, table.prepare = real_check, real_prepare

    import odcore.data

    t_prepare, t_cached = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        ds = odcore.data.load(str(path), **opts)
        t_prepare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        back, _ = prepared.load(str(path), opts, store)
        t_cached.append(time.perf_counter() - t0)
        assert back.content_hash() == ds.content_hash()
    prep_s, cache_s = statistics.median(t_prepare), statistics.median(t_cached)
    lines = [
        "# One resolved request (issue 24)", "",
        f"`OMP_NUM_THREADS=1 python -m bench.resolve_counts --stores {args.stores} --days {args.days} --repeats "
        f"{args.repeats} --markdown bench/results/resolve.md`; {head['machine']}, {head['cores']} cores (shared), "
        f"{head['date']}, load average {head['load_start']} at the start, {load()} at the end.", "",
        "| what | before (main at 9ac34ce) | now |", "|---|---|---|",
        f"| parameter validations per Train click (resolve, estimate, submit, job, fit) | 10 | {validations} |",
        f"| table preparations per run (Data page, estimate, job, rebuild) | 4 | {preparations} |", "",
        "The before column was counted with the same flow on 9ac34ce (`eta.estimate(spec)`, `submit(spec)`, the "
        "job, `rebuild.load_split`, the Data page's `odcore.data.load`), where every step validated or prepared "
        "again.", "",
        f"The prepared table of {args.stores} stores x {args.days} days ({ds.n_rows:,} weekly rows x "
        f"{ds.n_features} features): preparing it takes {prep_s:.2f} s, reading it back from the run store's "
        f"cache {cache_s:.3f} s ({prep_s / max(cache_s, 1e-9):.0f}x less; median of {args.repeats}, side by side "
        "in one process).", ""]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
