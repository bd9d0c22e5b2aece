"""The end-to-end fault script (``bench/faults.py``) in CI: real processes, real kills, a real full disk.

Each test runs one part of the script and asserts what it must show (the same figures BENCHMARKS.md
records from a full run). The parts that mount a tmpfs need root: they skip with the reason elsewhere and
fail under ``CI=true`` (CI runs as root). The hostile-input corpus has its own tests
(``tests/test_hostile_inputs.py``); the concurrent browser sessions are measured by the script itself
(``python -m bench.faults --parts sessions``) and their separation is tested in ``tests/test_sessions.py``.
"""

from __future__ import annotations

import argparse
import os

import pytest
from conftest import IN_CI

faults = pytest.importorskip("bench.faults")


def _run(part: str, tmp_path) -> dict:
    return faults.PARTS[part](tmp_path, argparse.Namespace(sessions=1, epochs=2))


def _needs_root() -> None:
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("the tmpfs parts of the fault script need root (CI runs as root)")
        pytest.skip("mounting a tmpfs needs root; CI runs these as root")


def test_sigint_stops_training_within_a_batch_and_keeps_the_run(tmp_path):
    r = _run("sigint", tmp_path)
    assert r["exit_code"] == 130 and r["run_status"] == "cancelled" and r["history_kept"]


def test_kill_9_of_the_cli_marks_the_run_failed_and_loses_nothing(tmp_path):
    r = _run("kill_cli", tmp_path)
    assert r["first_run_ok"] and r["finished_runs_intact"]
    assert r["marked_on_disk"] == ["done", "failed"] and r["lost_runs"] == 0 and r["runs_recovered"] == 1


def test_a_disk_that_fills_during_training_gives_one_line_and_keeps_the_cause(tmp_path):
    _needs_root()
    r = _run("full_disk", tmp_path)
    assert r["first_run_ok"] and r["exit_code"] == 2 and r["one_line"] and "disk is full" in r["message"]
    assert r["listing_while_full_ok"] and r["cause_kept_while_full"] and r["cause_on_disk_after_free"]
    assert r["other_run_intact"]


@pytest.mark.browser
def test_a_read_only_runs_folder_lists_scores_and_refuses_training_in_one_line(tmp_path):
    _needs_root()
    r = _run("read_only", tmp_path)
    assert r["cli_runs_exit"] == 0 and r["cli_show_exit"] == 0 and r["cli_score_exit_or_message"] == 0
    assert r["cli_train_exit"] == 2 and "cannot be written" in r["cli_train_message"]
    assert r["app_lists_runs"] and r["app_says_read_only"] and r["app_tracebacks"] == 0
    assert r["nothing_changed"]


@pytest.mark.browser
def test_damaged_runs_are_listed_with_their_reason_and_break_no_page(tmp_path):
    r = _run("damaged", tmp_path)
    assert r["cli_lists_all"]
    reasons = list(r["reasons"].values())
    assert any("config.json is damaged" in (x or "") for x in reasons)
    assert any("weights.safetensors is missing" in (x or "") for x in reasons)
    assert r["score_broken"]["exit"] == 2 and r["score_broken"]["one_line"] and r["score_good_exit"] == 0
    assert r["app_page_tracebacks"] == 0
