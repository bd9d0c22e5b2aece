"""Do the deep detectors' defaults finish a 10k-row table in under a minute, within noise of a larger budget?

    OMP_NUM_THREADS=1 python -m bench.defaults_budget --seeds 2 \
        --markdown bench/results/defaults_budget_table.md --json bench/results/defaults_budget.json

One file of the development suite (default ``adbench/22_magic.gamma.npz``: 19,020 rows x 10; the
unsupervised protocol trains on a contaminated 70 % split, 13,314 rows, and scores the other 30 %),
each deep detector at its defaults (the setting of ``odcore bench --suite adbench-dev``) and at a larger
budget (``epochs`` x ``--factor``, early stopping off: ``validation_share`` 0), on the same splits and
seeds, through the suite's own cells (``odcore.runs.grid``). The table gives fit seconds and AUROC
(mean and standard deviation over seeds) of both, and the difference of the means.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from bench.common import machine, save_json


def main() -> None:
    from odcore.data import shared_data_dir
    from odcore.models import registry
    from odcore.recipes.suites import OURS_DEEP
    from odcore.runs.grid import grid_cells, run_grid

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default="adbench/22_magic.gamma.npz")
    ap.add_argument("--protocol", default="unsupervised")
    ap.add_argument("--methods", default=",".join(OURS_DEEP))
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--factor", type=int, default=3, help="the larger budget: this many times the default epochs")
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    path = str(Path(shared_data_dir()) / a.file)
    header = machine(omp_num_threads=os.environ.get("OMP_NUM_THREADS", "unset"), file=a.file, protocol=a.protocol)
    started = time.time()
    records = []
    for m in a.methods.split(","):
        epochs = int(registry.declaration(m)["epochs"].default)
        budgets = {"default": {}, f"{a.factor}x epochs, no early stopping":
                   {"epochs": a.factor * epochs, "validation_share": 0.0}}
        for budget, params in budgets.items():
            cells = grid_cells([path], [m], a.protocol, seeds=range(a.seeds), params={m: params})
            for rec in run_grid(cells):
                rec.update(budget=budget, params=params)
                records.append(rec)
                print(m, budget, rec["seed"], f"auroc {rec['auroc']:.3f} fit {rec['fit_seconds']:.1f} s", flush=True)
    header.update(seconds=round(time.time() - started, 1), load_end=round(os.getloadavg()[0], 2))
    save_json({"header": header, "records": records}, a.json)
    lines = [f"Machine: {header['machine']}, {header['cores']} cores, OMP_NUM_THREADS={header['omp_num_threads']}; "
             f"{header['date']}; {len(records)} fits in {header['seconds']:.0f} s; load average {header['load_start']} "
             f"at the start, {header['load_end']} at the end. File {a.file}, protocol {a.protocol}, "
             f"seeds 0..{a.seeds - 1}.", "",
             "| detector | budget | fit seconds (mean, max) | AUROC mean ± std | AUROC - default |",
             "|---|---|---|---|---|"]
    for m in a.methods.split(","):
        base = None
        for budget in dict.fromkeys(r["budget"] for r in records if r["method"] == m):
            rs = [r for r in records if r["method"] == m and r["budget"] == budget]
            au = np.array([r["auroc"] for r in rs])
            fit = np.array([r["fit_seconds"] for r in rs])
            base = au.mean() if base is None else base
            lines.append(f"| {m} | {budget} | {fit.mean():.1f}, {fit.max():.1f} | {au.mean():.3f} ± {au.std():.3f} | "
                         f"{au.mean() - base:+.3f} |")
    text = "\n".join(lines) + "\n"
    if a.markdown:
        Path(a.markdown).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
