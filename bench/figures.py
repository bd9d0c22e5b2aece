"""The paper figures at their full budget (or the teaching one): the same recipes the app shows.

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python -m bench.figures waldo-fig1b drocc-fig1 --budget full
    PYTHONPATH=. .venv/bin/python -m bench.figures --table        # bench/results/figures.md from the JSON records

Each name is a recipe or a training (``odcore.recipes``); every recipe drawn from the same training is
evaluated from the one fit. The result (models, scores, figure data, check) goes to
``bench/results/figures/<training>/<budget>/`` and one JSON record per recipe and budget to
``bench/results/figures.json``; ``--table`` writes the teaching and full results side by side. The settings
are the recipes' own: this script holds none.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
RECORDS = RESULTS / "figures.json"


def _records() -> list[dict]:
    return json.loads(RECORDS.read_text()) if RECORDS.exists() else []


def run(names: list[str], budget: str) -> list[dict]:
    from odcore import recipes
    from odcore.recipes.ship import ship

    trainings = []
    for n in names:
        t = recipes.trainings().get(n) or recipes.get(n).training
        if t.name not in trainings:
            trainings.append(t.name)
    out = []
    for t in trainings:
        if budget == "teaching":
            s = ship(t)  # the teaching budget is what the package ships
        else:
            s = ship(t, budget=budget, out=RESULTS / "figures")
        for name, (ok, summary) in s["checks"].items():
            out.append({"recipe": name, "training": t, "budget": budget, "ok": ok, "summary": summary,
                        "fit_seconds": s["fit_seconds"], "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
                        "command": f"python -m bench.figures {t} --budget {budget}"})
    recs = [r for r in _records() if not any(r["recipe"] == o["recipe"] and r["budget"] == o["budget"] for o in out)]
    RECORDS.write_text(json.dumps(recs + out, indent=1))
    return out


def table() -> str:
    from odcore import recipes

    recs = {(r["recipe"], r["budget"]): r for r in _records()}
    lines = ["| figure | teaching budget: idea shows? (fit s) | full budget: idea shows? (fit s) |", "|---|---|---|"]
    for name, r in recipes.all_recipes().items():
        cells = []
        for b in ("teaching", "full"):
            rec = recs.get((name, b))
            ok = "not run" if rec is None else "yes" if rec["ok"] else "**no**"
            cells.append(ok if rec is None else f"{ok}: {rec['summary']} ({rec['fit_seconds']:.0f} s, {rec['date']})")
        lines.append(f"| {r.label} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


HEADER = RESULTS / "figures.notes"  # the prose above the table (markdown written by hand; not a .md: bench.collect)


def write_md() -> Path:
    """bench/results/figures.md: the notes, then the teaching / full table of the records."""
    notes = HEADER.read_text().rstrip() + "\n\n" if HEADER.exists() else "## Paper figures (recipes)\n\n"
    out = RESULTS / "figures.md"
    out.write_text(notes + table() + "\n")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="recipes or trainings (default with --budget: all)")
    ap.add_argument("--budget", default=None, choices=("teaching", "full"))
    ap.add_argument("--table", action="store_true", help="print the teaching / full table of the records")
    ap.add_argument("--write", action="store_true", help="write bench/results/figures.md (notes + table)")
    a = ap.parse_args()
    if a.budget:
        from odcore import recipes

        for rec in run(a.names or list(recipes.trainings()), a.budget):
            print(f"{rec['recipe']} ({rec['budget']}): {'OK' if rec['ok'] else 'NO'} {rec['summary']}")
    if a.write:
        print(f"wrote {write_md()}")
    if a.table or not (a.budget or a.write):
        print(table())


if __name__ == "__main__":
    main()
