"""Install check: ``pip install .`` into a fresh virtual environment, then use odcore from another folder.

    python -m tools.install_check [--keep]

1. copies the project's files (tracked and untracked-but-not-ignored, as git lists them) into a
   temporary folder, so the build never writes ``build/`` or ``*.egg-info`` into the checkout;
2. creates a fresh virtual environment there and runs ``pip install .`` in the copy (pip may reuse
   its wheel cache and the local wheel folders configured on the machine);
3. checks that the installed distribution holds the ``odcore`` package only (plus its metadata and
   the ``odcore`` command), with ``py.typed``, and that the app's libraries were not pulled in;
4. from a third folder, imports odcore, loads a built-in dataset, trains a one-epoch autoencoder,
   scores it, and runs the ``odcore`` command.

Prints how long each step took; exits non-zero on the first failure. ``make test`` runs it after
pytest (``make install-check`` alone).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SKIP = {".git", ".venv", "runs", "build", "artifacts", "__pycache__", ".pytest_cache", ".ruff_cache"}

SMOKE = textwrap.dedent("""
    import importlib.metadata, importlib.util, pathlib, sys
    import numpy as np
    import odcore
    from odcore import data
    from odcore.models import create

    here = pathlib.Path(odcore.__file__).resolve()
    assert "site-packages" in here.parts, f"odcore imported from {here}, not from the installed package"
    assert odcore.__version__ == importlib.metadata.version("odcore"), "the version is not read from odcore"
    assert (here.parent / "py.typed").exists(), "py.typed is missing"
    for name in ("ui", "app_pages", "bench", "tools", "tests", "streamlit"):
        assert importlib.util.find_spec(name) is None, f"{name} is importable after pip install ."
    ds = data.load("breast-cancer")
    model = create("autoencoder", epochs=1).fit(ds.X)
    scores = model.decision_function(ds.X)
    assert scores.shape == (ds.n_rows,) and np.isfinite(scores).all(), "scores are not finite"
    print(f"odcore {odcore.__version__}: autoencoder on {ds.name} ({ds.n_rows} rows), "
          f"{int(model.predict(ds.X).sum())} flagged")
""")


def _run(cmd: list[str], *, cwd: Path, env: dict | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"install check failed: {' '.join(map(str, cmd))} (in {cwd}) exited {proc.returncode}\n"
                         f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout


def copy_project(dest: Path) -> None:
    """The files git would commit (tracked + untracked, not ignored), else everything but build output."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True).stdout
        names = [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                 if p.is_file() and not _SKIP.intersection(p.relative_to(ROOT).parts)]
    for name in names:
        src = ROOT / name
        if src.is_file():  # a tracked file deleted in the working tree is skipped
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def main(argv: list[str] | None = None) -> int:
    """Run the check; returns 0 when odcore installs and works from another folder."""
    ap = argparse.ArgumentParser(prog="python -m tools.install_check", description=__doc__.splitlines()[0])
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (printed) for a look")
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="odcore-install-check-"))
    times: dict[str, float] = {}
    try:
        src, venv, elsewhere = tmp / "src", tmp / "venv", tmp / "elsewhere"
        elsewhere.mkdir()
        t = time.perf_counter()
        copy_project(src)
        _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp)
        times["copy + venv"] = time.perf_counter() - t
        py = venv / "bin" / "python"
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        t = time.perf_counter()
        # --no-compile: byte-compiling torch's sources doubled the install time (84 s -> 45 s without)
        _run([str(py), "-m", "pip", "install", "-q", "--no-compile", "--disable-pip-version-check", "."],
             cwd=src, env=env)
        times["pip install ."] = time.perf_counter() - t
        t = time.perf_counter()
        files = _run([str(py), "-c", "import importlib.metadata as m; "
                      "print('\\n'.join(sorted({f.parts[0] for f in m.distribution('odcore').files})))"],
                     cwd=elsewhere, env=env).split()
        extra = [f for f in files if f != "odcore" and not (f.startswith("odcore-") and f.endswith(".dist-info"))
                 and not f.startswith("..")]  # "../../../bin/odcore": the console script
        if extra or "odcore" not in files:
            raise SystemExit(f"install check failed: the distribution installs {files}, expected odcore only")
        print(_run([str(py), "-c", SMOKE], cwd=elsewhere, env=env).strip())
        listed = _run([str(venv / "bin" / "odcore"), "datasets"], cwd=elsewhere, env=env)
        if "breast-cancer" not in listed:
            raise SystemExit(f"install check failed: `odcore datasets` printed {listed!r}")
        times["use from another folder"] = time.perf_counter() - t
    finally:
        t = time.perf_counter()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        times["clean-up"] = time.perf_counter() - t
    print("install check passed: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
          + f" (total {sum(times.values()):.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
