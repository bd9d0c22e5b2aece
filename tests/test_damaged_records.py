"""A damaged record is one damaged run: the gallery of ill-typed ``config.json`` files (``bench.hostile.RECORDS``)
through the run store, the command line and every page of the app.

Each record must be listed as ``damaged`` with a one-line reason, ``get`` must say what is wrong in one line,
and nothing else may change: the good runs list, show and score, ``odcore runs`` exits 0, and no page shows
an exception. A finished run whose ``scores.parquet`` was deleted reads as damaged in the app as in the CLI.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from bench.hostile import RECORDS
from odcore.runs.spec import resolve

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("fresh_caches")


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    """A store with one good run and one run per ill-typed record (copies of a finished run)."""
    import shutil

    from odcore.runs.execution import execute
    from odcore.runs.spec import RunSpec
    from odcore.runs.store import RunStore

    root = tmp_path_factory.mktemp("gallery")
    store = RunStore(root)
    good = execute(resolve(RunSpec("breast-cancer", "pca"), store=store), store=store)["run_id"]
    text = (root / good / "config.json").read_text()
    bad = {}
    for i, (name, edit) in enumerate(RECORDS):
        rid = f"20200101-000000-pca-bad{i:03d}"
        shutil.copytree(root / good, root / rid)
        content = edit(text.replace(good, rid))
        (root / rid / "config.json").write_bytes(content if isinstance(content, bytes) else content.encode())
        bad[name] = rid
    gone = "20200101-000000-pca-noscores"
    shutil.copytree(root / good, root / gone)
    (root / gone / "config.json").write_text(text.replace(good, gone))
    return root, good, bad, gone


def test_the_gallery_is_listed_as_damaged_runs_each_with_its_reason(gallery):
    from odcore.errors import InputError
    from odcore.runs.store import RunStore

    root, good, bad, gone = gallery
    store = RunStore(root, read_only=True)
    rows = {r["id"]: r for r in store.list_runs()}
    assert rows[good]["status"] == "done" and store.get(good).scores is not None
    for name, rid in bad.items():
        assert rows[rid]["status"] == "damaged", (name, rows[rid])
        reason = rows[rid]["error"]
        assert "config.json" in reason and "\n" not in reason and len(reason) < 200, (name, reason)
        with pytest.raises(InputError) as err:
            store.get(rid)
        assert "damaged" in str(err.value) and "\n" not in str(err.value), name
    assert len(store.list_runs(status="done")) == 2  # the good run and the copy whose scores go later


def test_specific_reasons(gallery):
    from odcore.runs.store import RunStore

    root, _, bad, _ = gallery
    rows = {r["id"]: r for r in RunStore(root, read_only=True).list_runs()}
    assert "spec is text, not an object" in rows[bad["spec_is_text"]]["error"]
    assert "nested" in rows[bad["deep_200k"]]["error"]
    assert "status" in rows[bad["status_list"]]["error"]
    assert "dataset.name is a whole number" in rows[bad["dataset_name_number"]]["error"]


def test_the_cli_lists_shows_and_scores_around_damaged_runs(gallery, tmp_path):
    from odcore import cli

    root, good, bad, _ = gallery

    def run(*argv):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = cli.main([*argv, "--runs-dir", str(root)])
        return code, out.getvalue(), err.getvalue()

    code, out, err = run("runs", "--json")
    assert code == 0, err
    listed = {r["id"]: r["status"] for r in json.loads(out)}
    assert all(listed[rid] == "damaged" for rid in bad.values()) and listed[good] == "done"
    assert run("runs")[0] == 0
    for rid in bad.values():
        code, _, err = run("runs", "show", rid)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
    csv = tmp_path / "in.csv"
    import odcore.data

    odcore.data.load("breast-cancer").frame().drop(columns=["label"]).to_csv(csv, index=False)
    assert run("score", "--run", good, "--input", str(csv), "--output", str(tmp_path / "o.csv"))[0] == 0


def test_a_finished_run_whose_scores_were_deleted_reads_as_damaged(gallery):
    from odcore.errors import InputError
    from odcore.runs.store import RunStore

    root, _, _, gone = gallery
    store = RunStore(root)  # the app's store: opened before the file goes
    assert store.get(gone).status == "done"
    (root / gone / "scores.parquet").unlink()
    run = store.get(gone)
    assert run.status == "damaged" and "scores.parquet is missing" in run.error
    with pytest.raises(InputError, match="scores.parquet is missing"):
        _ = run.scores
    assert {r["id"]: r["status"] for r in store.list_runs()}[gone] == "damaged"


@pytest.mark.parametrize("page", ["home", "train", "scores", "latent", "flagged", "compare", "waldo", "boundary"])
def test_no_page_fails_because_of_damaged_records(gallery, page, monkeypatch):
    from streamlit.testing.v1 import AppTest

    root, good, bad, _ = gallery
    monkeypatch.setenv("ODCORE_RUNS_DIR", str(root))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["run_id"] = next(iter(bad.values()))  # even a damaged run picked as the current one
    at.run()
    if page != "home":
        at.switch_page(f"app_pages/{page}.py")
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title
