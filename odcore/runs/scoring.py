"""Scoring new data with a finished run: the run's model and standardiser, applied chunk by chunk.

:func:`score_file` is what ``python -m odcore score`` and the app call: it reads a CSV, Parquet or
``.npz`` file in bounded memory (:func:`iter_chunks`), picks the run's feature columns
(:func:`select_features`), standardises them with the run's own
:class:`~odcore.data.scaling.Standardizer` and writes ``row_id, score, pred`` (+ ``label``,
``decoder``) to Parquet or CSV.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from odcore.errors import InputError
from odcore.runs.execution import score_rows
from odcore.runs.rebuild import load_model
from odcore.runs.store import Run


def iter_chunks(path: Path, chunk_size: int) -> Iterator[Any]:
    """Yield pandas DataFrame chunks of a CSV / Parquet file, or ``(X, y)`` array chunks of an .npz."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        # pre_buffer=False + a read buffer: pyarrow's default pre-buffering keeps every row group it
        # has read in memory (peak memory grew with the file: 0.54 GB at 1M rows, 0.96 GB at 10M)
        try:
            pf = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
            names = [str(n) for n in pf.schema_arrow.names]
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types on damaged files
            raise InputError(f"{path.name}: not a readable Parquet file ({type(exc).__name__})") from None
        if len(set(names)) != len(names):
            raise InputError(f"{path.name}: column names must be unique; rename the duplicates")
        try:
            for batch in pf.iter_batches(batch_size=chunk_size):
                yield batch.to_pandas()
        except OSError as exc:
            raise InputError(f"{path.name}: part of the Parquet file cannot be read ({type(exc).__name__}); it "
                             "is truncated or damaged") from None
    elif name.endswith((".csv", ".csv.gz", ".tsv", ".txt")):
        from odcore.data.formats import iter_csv  # encoding, delimiter, decimal mark and field limits as load_csv

        yield from iter_csv(path, chunk_size, sep="\t" if name.endswith(".tsv") else None)
    elif name.endswith(".npz"):
        from odcore.data.formats import read_npz_arrays  # headers checked before inflating; no pickles

        X, y = read_npz_arrays(path)
        for i in range(0, X.shape[0], chunk_size):
            yield (X[i:i + chunk_size].reshape(min(chunk_size, X.shape[0] - i), -1),
                   None if y is None else y[i:i + chunk_size])
    else:
        raise InputError(f"cannot score {path.name}: use a .csv, .parquet or .npz file")


def select_features(df: Any, feature_names: list[str], label_column: str | None) -> tuple[np.ndarray, Any]:
    """Feature matrix and labels of a chunk: the run's feature columns matched by name only (never by
    position: a file whose columns were renamed or reordered would score silently wrong)."""
    label = None
    cols = [str(c) for c in df.columns]
    if len(set(cols)) != len(cols):
        dup = sorted({c for c in cols if cols.count(c) > 1})[:5]
        raise InputError(f"the input's column names must be unique, but {', '.join(map(repr, dup))} appear more than "
                         "once; rename the duplicates")
    lc = label_column if label_column and label_column in df.columns else ("label" if "label" in df.columns else None)
    if lc is not None:
        label = df[lc].to_numpy()
    missing = [f for f in feature_names if f not in df.columns]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise InputError(f"the input lacks {len(missing)} of the run's {len(feature_names)} feature columns ({shown}); "
                         "columns are matched by name: score a file with the training data's column names")
    X = df[feature_names]
    try:
        values = X.to_numpy(dtype=np.float32)
    except (TypeError, ValueError):
        bad = [c for c in feature_names if not np.issubdtype(X[c].dtype, np.number)][:5]
        raise InputError(f"the input's column(s) {', '.join(map(repr, bad))} are not numeric; score a file with the "
                         "training data's (numeric) values") from None
    return np.ascontiguousarray(values), label


#: every column ``score_file`` can write, in order (the carried key columns come first)
OUTPUT_COLUMNS: dict[str, str] = {
    "<key columns>": "for a run on a prepared table: the input's id, group and time columns and source_row (the "
                     "row's position among the input's data rows), or for windows the group, series, window_start "
                     "and window_end; for other runs the input's columns that were the training data's row "
                     "metadata (market, week ...)",
    "row_id": "position of the scored row in this output (0, 1, 2 ...)",
    "score": "anomaly score (float64; higher = more anomalous)",
    "pred": "1 when score > the run's threshold (the row is flagged), else 0",
    "label": "the input's label column (1 = outlier), when it has one",
    "decoder": "two-decoder detectors (WALDO, CoRa): 1 when the outlier decoder reconstructs the row better than the "
               "inlier decoder (the threshold-free label of the paper), else 0",
}


def prepare_batch(batch: Any, prep: Any, name: str, *,
                  row_offset: int = 0) -> tuple[np.ndarray, Any, Any, list[str]]:
    """A batch (pandas DataFrame or pyarrow Table) as the run's model rows: ``(X float32, keys, label, notes)``.

    :func:`odcore.data.table.apply` with the run's fitted preparation (roles, date format, missing-
    value policy and fill values, categories, window, per-series levels), vectorised over the
    batch; ``keys`` are the key columns to carry into the output (``source_row`` shifted by
    ``row_offset``, the rows of earlier batches); ``label`` the prepared labels or None; ``notes``
    what the preparation did (blanks filled, rows dropped, unseen categories).
    """
    from odcore.data import table

    res = table.apply(batch, prep, name=name)
    keys = res.meta[table.key_columns(res.prep, list(res.meta.columns))].copy()
    if table.SOURCE_ROW in keys:
        keys[table.SOURCE_ROW] = keys[table.SOURCE_ROW].to_numpy() + int(row_offset)
    return np.ascontiguousarray(res.X, dtype=np.float32), keys, res.y, list(res.notes[1:])


def score_file(run: Run, input_path: str | os.PathLike, output_path: str | os.PathLike, *,
               chunk_size: int = 100_000) -> dict[str, Any]:
    """Score a CSV/Parquet/.npz file with a finished run, chunk by chunk (bounded memory).

    A run on a prepared table (:mod:`odcore.data.table`) first applies its preparation to each
    chunk (:func:`prepare_batch`; windows need whole series, so a run with windows reads the input
    at once); then the run's standardiser (fitted on its training rows) and model. Writes the
    columns of :data:`OUTPUT_COLUMNS` (the key columns carried from the input first) to a Parquet
    or CSV file chosen by the output extension. Returns ``{"rows", "flagged", "threshold",
    "notes"}`` (``notes``: what the preparation did, e.g. blanks filled, rows dropped).
    """
    import pandas as pd

    inp, out = Path(input_path), Path(output_path)
    if not inp.exists():
        raise InputError(f"input file {inp} does not exist")
    out_parquet = out.name.lower().endswith((".parquet", ".pq"))
    if not out_parquet and not out.name.lower().endswith(".csv"):
        raise InputError(f"output {out.name}: use a .parquet or .csv file name")
    if run.status != "done":
        why = f" ({run.error})" if run.status == "damaged" and run.error else ""
        raise InputError(f"run {run.id} is {run.status}{why}; only finished runs with their files can score files")
    if chunk_size < 1:
        raise InputError("chunk size must be at least 1")
    model = load_model(run)
    scaler = run.standardizer()
    ds_info = run.config.get("dataset", {})
    names = list(ds_info.get("feature_names") or [])
    label_column = ds_info.get("label_column")
    from odcore.runs.rebuild import table_prep

    prep = table_prep(run)
    carried = [str(c) for c in ds_info.get("meta_columns") or []] if prep is None else []
    notes: list[str] = []
    rows_in = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    writer = fh = None
    n_rows = flagged = 0
    try:
        if not out_parquet:
            fh = open(tmp, "w", newline="")  # noqa: SIM115 - closed below, also on errors
        chunks: Any = iter_chunks(inp, chunk_size)
        if prep is not None and prep.window != "rows":  # a window may span chunks: the whole series at once
            chunks = [pd.concat(list(chunks), ignore_index=True)]
        for chunk in chunks:
            keys = None
            if isinstance(chunk, tuple) and prep is not None:
                raise InputError(f"{inp.name}: this run was trained on a table; score a CSV or Parquet file with "
                                 "its columns")
            if isinstance(chunk, tuple):
                X, label = chunk
                X = np.asarray(X, dtype=np.float32)
                if X.shape[1] != int(model.n_features_in_):
                    raise InputError(f"X in {inp.name} has {X.shape[1]} features but the run's model expects "
                                     f"{model.n_features_in_}")
            elif prep is not None:
                X, keys, label, done = prepare_batch(chunk, prep, inp.name, row_offset=rows_in)
                notes.extend(n for n in done if n not in notes)
                rows_in += len(chunk)
            else:
                X, label = select_features(chunk, names or [f"x{i}" for i in range(model.n_features_in_)],
                                           label_column)
                present = [c for c in carried if c in chunk.columns]
                keys = chunk[present].reset_index(drop=True) if present else None
            scored = score_rows(model, scaler.transform(X))
            cols: dict[str, Any] = {} if keys is None else {c: keys[c].to_numpy() for c in keys.columns}
            cols.update({"row_id": np.arange(n_rows, n_rows + len(scored["score"]), dtype=np.int64),
                         "score": scored["score"], "pred": scored["pred"]})
            if label is not None:
                cols["label"] = label
            if "decoder" in scored:
                cols["decoder"] = scored["decoder"]
            frame = pd.DataFrame(cols)
            if out_parquet:
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
            else:
                frame.to_csv(fh, header=n_rows == 0, index=False)
            n_rows += len(frame)
            flagged += int(scored["pred"].sum())
        if writer is not None:
            writer.close()
            writer = None
        if fh is not None:
            fh.close()
        if n_rows == 0:
            raise InputError(f"{inp} has no rows to score")
        os.replace(tmp, out)
    finally:
        if writer is not None:
            writer.close()
        if fh is not None and not fh.closed:
            fh.close()
        if tmp.exists():
            tmp.unlink()
    return {"rows": n_rows, "flagged": flagged, "threshold": float(model.threshold_), "notes": notes}

