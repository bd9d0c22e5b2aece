"""One source of truth for the pins: the committed requirement files are what tools.lock generates."""

from __future__ import annotations

import tomllib

import pytest

from tools import lock


def test_committed_requirement_files_equal_the_generated_ones():
    for name, text in lock.generate().items():
        assert (lock.ROOT / name).read_text() == text, f"{name} is stale: run python -m tools.lock"
    assert lock.main(["--check"]) == 0


def test_the_lock_holds_exactly_the_pyproject_pins():
    meta = tomllib.loads((lock.ROOT / "pyproject.toml").read_text())
    project = meta["project"]
    pins = {*project["dependencies"], *project["optional-dependencies"]["app"],
            *project["optional-dependencies"]["ray"], *project["optional-dependencies"]["mlflow"],
            *meta["dependency-groups"]["dev"]}
    locked = set()
    for name in ("requirements.txt", "requirements-ray.txt", "requirements-dev.txt"):
        locked |= {ln.strip() for ln in (lock.ROOT / name).read_text().splitlines()
                   if ln.strip() and not ln.startswith(("#", "-r"))}
    assert locked == pins
    assert "torch==2.13.0" in project["dependencies"]  # any other version downloads gigabytes
    assert not any(p.split("==")[0] in ("streamlit", "plotly") for p in project["dependencies"])  # app extra only


def test_pins_must_be_exact(tmp_path):
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\nname = "x"\ndependencies = ["numpy>=2"]\n')
    with pytest.raises(SystemExit, match="exactly"):
        lock.generate(bad)
