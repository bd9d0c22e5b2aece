"""Train page presets start runs that succeed; defaults that cannot work on the chosen data are replaced by
the nearest working protocol, and the message names the option."""

from __future__ import annotations

import pytest

from odcore import data
from odcore.errors import InputError
from odcore.models import registry
from odcore.runs.spec import resolve, working_protocol
from ui import presets


@pytest.mark.parametrize("name", list(presets.TRAIN_PRESETS))
def test_every_preset_starts_a_run_that_succeeds(name, tmp_path):
    from odcore.runs.execution import execute
    from odcore.runs.store import RunStore

    spec = presets.preset_spec(name)
    short = {"epochs": 1} if "epochs" in registry.declaration(spec.method) else {}
    store = RunStore(tmp_path)
    res = execute(resolve(presets.preset_spec(name, params=short), store=store), store=store)
    run = store.get(res["run_id"])
    assert run.status == "done", run.error
    assert run.scores is not None and len(run.scores) > 0


@pytest.mark.parametrize("method, protocol, want", [("waldo", "pu", "pu"), ("drocc", "novelty", "one-vs-rest"),
                                                    ("deep-svdd", "novelty", "one-vs-rest"),
                                                    ("drocc-lf", "drocc", "one-vs-rest")])
def test_digits_get_inlier_classes_and_the_message_names_the_option(method, protocol, want):
    """Digits have classes but no outlier labels: the fix is a protocol with inlier_classes (not 'all' or a
    label column, which the data layer's own message suggests)."""
    ds = data.load("digits")
    with pytest.raises(InputError):
        data.split(ds, protocol, seed=0)
    c = working_protocol(ds, method, protocol)
    assert c.protocol == want and c.options["inlier_classes"] == [0]
    assert "inlier_classes=0" in c.message
    data.split(ds, c.protocol, seed=0, **c.options)  # it splits
    if want == "pu":
        assert c.options["nu"] == 0.1 and "nu=0.1" in c.message


def test_a_working_choice_is_kept_and_a_method_needing_positives_gets_pu():
    ds = data.load("breast-cancer")
    keep = working_protocol(ds, "deep-svdd", "novelty")
    assert (keep.protocol, keep.options, keep.message) == ("novelty", {}, None)
    pu = working_protocol(ds, "waldo", "novelty")
    assert pu.protocol == "pu" and "labelled inliers" in pu.message


def test_unlabelled_data_without_classes_fall_back_to_all_or_say_why():
    ds = data.load("sine")
    c = working_protocol(ds, "drocc", "novelty")
    assert c.protocol == "all" and "label_column" in c.message
    with pytest.raises(InputError, match="labelled anomalies"):
        working_protocol(ds, "waldo", "pu")  # WALDO needs labelled inliers: no protocol can give them
