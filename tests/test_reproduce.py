"""``odcore reproduce``: one command per paper table, whose steps are real bench commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from odcore import cli
from odcore.recipes import tables

ROOT = Path(__file__).resolve().parent.parent


def _declared_options(module: str) -> set[str]:
    src = (ROOT / (module.replace(".", "/") + ".py")).read_text()
    return set(re.findall(r"add_argument\(\s*\"(--[a-z0-9-]+)\"", src))


@pytest.mark.parametrize("name", tables.names())
def test_every_step_is_a_bench_script_with_options_it_declares(name):
    table = tables.get(name)
    assert table.steps and table.hours_2_cores > 0
    assert (ROOT / table.results).is_file()  # the results file the table lands in exists
    for module, *args in table.steps:
        assert module.startswith("bench.") and (ROOT / (module.replace(".", "/") + ".py")).is_file()
        unknown = {a for a in args if a.startswith("--")} - _declared_options(module)
        assert not unknown, f"{module} does not declare {unknown}"


def test_listing_names_every_table_with_its_time(capsys):
    assert cli.main(["reproduce"]) == 0
    out = capsys.readouterr().out
    for t in tables.TABLES.values():
        assert re.search(rf"{re.escape(t.name)}\s+~\s*[\d.]+ (min|h) on 2 cores", out)


def test_dry_run_prints_the_commands_and_runs_nothing(capsys, monkeypatch):
    monkeypatch.setattr("subprocess.call", lambda *a, **k: pytest.fail("a dry run ran a step"))
    assert cli.main(["reproduce", "drocc-lf-mnist", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "--train-set 60k" in out and "'DROCC + outlier exposure'" in out  # shell-quoted, ready to paste
    assert "about 3.5 h" in out


def test_unknown_table_is_one_line_listing_the_names(capsys):
    assert cli.main(["reproduce", "table-9"]) == 2
    err = capsys.readouterr().err
    assert "unknown paper table 'table-9'" in err and "drocc-table2" in err


def test_steps_run_in_order_from_the_checkout_and_a_failure_stops_them(monkeypatch, tmp_path, capsys):
    ok = ("json.tool", "--help")
    bad = ("json.tool", str(tmp_path / "missing.json"))  # exits 2: no such file
    never = ("json.tool", "--never-reached")
    monkeypatch.setitem(tables.TABLES, "t", tables.PaperTable("t", "P", "w", (ok,), 0.1, "README.md"))
    assert cli.main(["reproduce", "t"]) == 0
    monkeypatch.setitem(tables.TABLES, "t", tables.PaperTable("t", "P", "w", (ok, bad, never), 0.1, "README.md"))
    assert cli.main(["reproduce", "t"]) == 2
    captured = capsys.readouterr()
    assert "the step exited with code 2" in captured.err
    assert "$ python -m json.tool --help" in captured.out
    assert "$ python -m json.tool --never-reached" not in captured.out


def test_an_installed_copy_says_it_needs_the_checkout(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_checkout_root", lambda: None)
    assert cli.main(["reproduce", "ocnn"]) == 2
    assert "source checkout" in capsys.readouterr().err


def test_readme_lists_every_table():
    readme = (ROOT / "README.md").read_text()
    for name in tables.names():
        assert f"`{name}`" in readme, f"README does not list odcore reproduce {name}"
