"""Does the suite's ranking of ``ensemble`` / ``auto`` against the best single detector hold outside it?

    OMP_NUM_THREADS=1 python -m bench.outside_suite --data fashion_mnist,mnist --seeds 1 \
        --markdown bench/results/outside_suite_tables.md --json bench/results/outside_suite.json

One-vs-rest on the official 10,000-image test files of MNIST and Fashion-MNIST (../shared/datasets; one
class normal, the nine others anomalies; train on 70 % of the normal class, test on its other 30 % plus
every other image: the one-class protocol of Ruff et al., *Deep one-class classification*, ICML 2018),
every class in turn as a "file" of the suite's tables. The detectors are the suite's classical ones and
``ensemble`` / ``auto``, each at the one setting the suite uses (``odcore.recipes.suites``): nothing tuned
here. The tables are :func:`odcore.runs.suite.markdown_report`'s (per-class AUROC, means, ranks, CD,
win / tie / loss).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from bench.common import machine, save_json

FILES = {"mnist": "mnist/t10k-images-idx3-ubyte.gz", "fashion_mnist": "fashion_mnist/t10k-images-idx3-ubyte.gz"}


def main() -> None:
    from odcore.data import shared_data_dir
    from odcore.recipes.suites import CLASSICAL, COMBINED, get
    from odcore.runs.grid import grid_cells, run_grid
    from odcore.runs.suite import markdown_report

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="fashion_mnist,mnist", help=f"comma-separated: {', '.join(FILES)}")
    ap.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--methods", default=",".join(CLASSICAL + COMBINED))
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    suite = get("adbench-dev")
    methods = [m for m in a.methods.split(",") if m]
    params = {m: dict(suite.params.get(m, {})) for m in methods}
    header = machine(omp_num_threads=os.environ.get("OMP_NUM_THREADS", "unset"))
    started = time.time()
    records = []
    for name in a.data.split(","):
        path = str(Path(shared_data_dir()) / FILES[name])
        for c in a.classes.split(","):
            cells = grid_cells([path], methods, "one-vs-rest", seeds=range(a.seeds),
                               protocol_options={"inlier_classes": [int(c)]}, params=params)
            for rec in run_grid(cells):
                rec["dataset"] = f"{name}-{c}"
                rec["protocol"] = f"one-vs-rest ({name})"
                records.append(rec)
            print(name, c, f"{time.time() - started:.0f} s", flush=True)
    header.update(seconds=round(time.time() - started, 1), load_end=round(os.getloadavg()[0], 2))
    save_json({"header": header, "records": records}, a.json)
    text = (f"Machine: {header['machine']}, {header['cores']} cores, OMP_NUM_THREADS={header['omp_num_threads']}; "
            f"{header['date']}, {len(records)} runs in {header['seconds']:.0f} s; load average "
            f"{header['load_start']} at the start, {header['load_end']} at the end.\n\n")
    text += markdown_report(records, versus=("ensemble", "auto"))
    if a.markdown:
        Path(a.markdown).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
