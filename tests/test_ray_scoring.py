"""odcore score --engine ray: a folder of Parquet files scored on local Ray Data (one ray.init) gives,
row for row, the local engine's scores on the same folder; bad inputs are refused before Ray starts."""

import numpy as np
import pandas as pd
import pytest
from conftest import require

from odcore import cli
from odcore.errors import InputError
from odcore.runs import RunSpec, RunStore, execute, ray_scoring
from odcore.runs.spec import resolve


@pytest.fixture(scope="module")
def run_and_folder(tmp_path_factory):
    import odcore.data

    d = tmp_path_factory.mktemp("ray-scoring")
    frame = odcore.data.load("breast-cancer").frame()
    frame.insert(0, "id", [f"row-{i:05d}" for i in range(len(frame))])
    frame.to_parquet(d / "train.parquet", index=False)
    store = RunStore(d / "runs")
    spec = RunSpec(str(d / "train.parquet"), "autoencoder", data_options={"meta_columns": "id"},
                   params={"epochs": 2, "batch_size": 64}, monitor=False)
    run = store.get(execute(resolve(spec, store=store), store=store)["run_id"])
    # ~2k new rows in three files: the training rows shuffled and jittered, ids that are not positions
    rng = np.random.default_rng(0)
    big = frame.sample(n=2100, replace=True, random_state=0).reset_index(drop=True)
    feats = [c for c in big.columns if c not in ("id", "label")]
    big[feats] = big[feats] * rng.uniform(0.8, 1.2, size=(len(big), len(feats)))
    big["id"] = [f"new-{i}" for i in rng.permutation(len(big))]
    folder = d / "new"
    folder.mkdir()
    for k, part in enumerate(np.array_split(np.arange(len(big)), 3)):
        big.iloc[part].to_parquet(folder / f"part-{k}.parquet", index=False)
    return run, folder, big, d


def test_ray_scores_equal_the_local_engine_row_for_row(run_and_folder, tmp_path):
    require("ray.data")
    run, folder, big, _ = run_and_folder
    # the local engine reads the folder too: odcore score --input parts/ --output out/
    assert cli.main(["score", "--run", run.id, "--runs-dir", str(run.store.root), "--input", f"{folder}/",
                     "--output", f"{tmp_path / 'local-out'}/"]) == 0
    assert len(list((tmp_path / "local-out").glob("part-*.parquet"))) == 3  # one part per input file
    local = pd.read_parquet(tmp_path / "local-out")
    assert list(local.columns) == ["id", "row_id", "score", "pred", "label"] and len(local) == len(big)
    out = tmp_path / "ray-out"
    stats = ray_scoring.score_dataset(run, folder, out, workers=2, batch_size=300)
    remote = pd.read_parquet(out)
    assert stats["rows"] == len(big) == len(remote) and stats["parts"] >= 1
    assert list(remote.columns) == ["id", "score", "pred", "label"]  # no positions: joined on the id
    both = local.merge(remote, on="id", suffixes=("_local", "_ray"), validate="one_to_one")
    assert len(both) == len(big)
    np.testing.assert_allclose(both["score_ray"], both["score_local"], rtol=1e-6)
    assert (both["pred_ray"] == both["pred_local"]).mean() > 0.999
    np.testing.assert_array_equal(both["label_ray"], both["label_local"])
    truth = big.set_index("id").loc[both["id"], "label"].to_numpy()
    np.testing.assert_array_equal(both["label_ray"], truth)  # each score sits beside its own input row
    assert stats["flagged"] == int(remote["pred"].sum())


def test_bad_ray_inputs_are_refused_before_ray_starts(run_and_folder, tmp_path):
    run, folder, big, d = run_and_folder
    big.to_csv(tmp_path / "rows.csv", index=False)
    cases = [
        (tmp_path / "rows.csv", tmp_path / "o1", "reads Parquet only"),
        (tmp_path / "nothing-*.parquet", tmp_path / "o2", "no file matches"),
        (tmp_path / "missing.parquet", tmp_path / "o3", "does not exist"),
        (folder, tmp_path / "out.parquet", "writes a folder of Parquet parts"),
        (folder, d, "exists and is not empty"),
    ]
    for src, dst, needle in cases:
        with pytest.raises(InputError, match=needle):
            ray_scoring.score_dataset(run, src, dst)
    with pytest.raises(InputError, match="at least 1"):
        ray_scoring.score_dataset(run, folder, tmp_path / "o4", workers=0)
