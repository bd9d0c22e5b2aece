"""Generate the pinned requirement files from pyproject.toml, the one source of truth for the pins.

    python -m tools.lock            # write requirements.txt, requirements-ray.txt, requirements-dev.txt
    python -m tools.lock --check    # exit 1 (and name the files) when a committed file differs

- ``requirements.txt``: the engine's ``dependencies`` plus the ``app`` extra (what ``make run``
  installs);
- ``requirements-ray.txt``: requirements.txt plus the ``ray`` extra;
- ``requirements-dev.txt``: both plus the ``dev`` dependency group (what ``make test`` installs).

Every pin must be exact (``name==version``), so the lock equals what pyproject declares.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_EXACT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!_-]+$")
HEADER = "# Generated from pyproject.toml by `python -m tools.lock`; edit the pins there, then rerun it.\n"


def _pins(items: list[str], where: str) -> list[str]:
    bad = [i for i in items if not _EXACT.match(i.replace(" ", ""))]
    if bad:
        raise SystemExit(f"pyproject.toml {where}: pin every dependency exactly (name==version): {bad}")
    return [i.replace(" ", "") for i in items]


def generate(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """File name -> text of each requirements file, from ``pyproject``."""
    meta = tomllib.loads(pyproject.read_text())
    project = meta["project"]
    extras = project.get("optional-dependencies", {})
    engine = _pins(project["dependencies"], "[project] dependencies")
    app = _pins(extras.get("app", []), "extra 'app'")
    ray = _pins(extras.get("ray", []), "extra 'ray'")
    mlflow = _pins(extras.get("mlflow", []), "extra 'mlflow'")
    dev = _pins(meta.get("dependency-groups", {}).get("dev", []), "dependency group 'dev'")
    return {
        "requirements.txt": (
            HEADER + "# Runtime: the odcore engine and the Streamlit app (make run installs this).\n"
            "# torch 2.13.0 installs a CPU build from local disk on the development and CI machines;\n"
            "# any other version downloads gigabytes.\n"
            "# engine ([project] dependencies)\n" + "".join(f"{p}\n" for p in engine)
            + "# app (extra 'app')\n" + "".join(f"{p}\n" for p in app)),
        "requirements-ray.txt": (
            HEADER + "# Optional: beyond one machine: Ray (bench/score --engine ray, odcore tune: Ray Data and Tune)\n"
            "# and MLflow tracking (mlflow-skinny). pip install -r requirements-ray.txt\n"
            "-r requirements.txt\n" + "".join(f"{p}\n" for p in ray + mlflow)),
        "requirements-dev.txt": (
            HEADER + "# Test and lint tools (make test installs these on top of requirements.txt).\n"
            "# Ray and MLflow are optional for users; CI installs them so their tests run\n"
            "-r requirements.txt\n-r requirements-ray.txt\n" + "".join(f"{p}\n" for p in dev)),
    }


def main(argv: list[str] | None = None) -> int:
    """Write the files, or with ``--check`` report the ones that differ (exit code 1)."""
    ap = argparse.ArgumentParser(prog="python -m tools.lock", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args(argv)
    stale = []
    for name, text in generate().items():
        path = ROOT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        elif not path.exists() or path.read_text() != text:
            path.write_text(text)
            print(f"wrote {name}")
    if stale:
        print(f"out of date with pyproject.toml: {', '.join(stale)}; run: python -m tools.lock", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
