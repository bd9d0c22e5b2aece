"""Scoring new data with a finished run: the run's model and standardiser, applied batch by batch.

:class:`Scorer` is the one batch-scoring path: it loads a stored run once (model, standardiser,
feature names, table preparation) and turns an input batch (a pyarrow ``RecordBatch`` / ``Table``
or a pandas DataFrame) into an Arrow table of :data:`OUTPUT_COLUMNS`. :func:`score_file` (``python
-m odcore score`` and the app) streams a CSV, Parquet or ``.npz`` file through it in bounded memory:
Parquet record batches go straight to a float32 matrix (no pandas), a reader thread prepares the
next batch while the model scores the current one, and a writer thread appends Parquet batches
(``pyarrow.parquet.ParquetWriter``). :mod:`odcore.runs.ray_scoring` runs the same :class:`Scorer`
in Ray Data actors.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from odcore.errors import InputError


def iter_chunks(path: Path, chunk_size: int) -> Iterator[Any]:
    """Yield pyarrow ``RecordBatch`` chunks of a Parquet file, pandas DataFrame chunks of a CSV
    (the data layer's reader: encodings, delimiter, decimal mark, field limits) or ``(X, y)`` array
    chunks of an .npz."""
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        # pre_buffer=False: pyarrow's default pre-buffering keeps every row group it has read in memory
        # (peak memory grew with the file: 0.54 GB at 1M rows, 0.96 GB at 10M); without it the peak
        # does not grow with the rows (bench/results/scoring_scale.md). No buffer_size: a 1 MB read
        # buffer read slower here.
        try:
            pf = pq.ParquetFile(path, pre_buffer=False)
            names = [str(n) for n in pf.schema_arrow.names]
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types on damaged files
            raise InputError(f"{path.name}: not a readable Parquet file ({type(exc).__name__})") from None
        if len(set(names)) != len(names):
            raise InputError(f"{path.name}: column names must be unique; rename the duplicates")
        try:
            yield from pf.iter_batches(batch_size=chunk_size)
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


def _check_columns(cols: list[str], feature_names: list[str]) -> None:
    """Unique input column names that include every feature column (matched by name, never by position)."""
    if len(set(cols)) != len(cols):
        dup = sorted({c for c in cols if cols.count(c) > 1})[:5]
        raise InputError(f"the input's column names must be unique, but {', '.join(map(repr, dup))} appear more than "
                         "once; rename the duplicates")
    have = set(cols)
    missing = [f for f in feature_names if f not in have]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise InputError(f"the input lacks {len(missing)} of the run's {len(feature_names)} feature columns ({shown}); "
                         "columns are matched by name: score a file with the training data's column names")


def _label_column(cols: list[str], label_column: str | None) -> str | None:
    return label_column if label_column and label_column in cols else ("label" if "label" in cols else None)


def select_features(df: Any, feature_names: list[str], label_column: str | None) -> tuple[np.ndarray, Any]:
    """Feature matrix and labels of a chunk: the run's feature columns matched by name only (never by
    position: a file whose columns were renamed or reordered would score silently wrong)."""
    label = None
    cols = [str(c) for c in df.columns]
    lc = _label_column(cols, label_column)
    _check_columns(cols, feature_names)
    if lc is not None:
        label = df[lc].to_numpy()
    X = df[feature_names]
    try:
        values = X.to_numpy(dtype=np.float32)
    except (TypeError, ValueError):
        bad = [c for c in feature_names  # pandas' own dtypes (text, nullable) are no NumPy dtype
               if not (isinstance(X[c].dtype, np.dtype) and X[c].dtype.kind in "biuf")][:5]
        raise InputError(f"the input's column(s) {', '.join(map(repr, bad))} are not numeric; score a file with the "
                         "training data's (numeric) values") from None
    return np.ascontiguousarray(values), label


#: every column ``score_file`` can write, in order (the carried key columns come first)
OUTPUT_COLUMNS: dict[str, str] = {
    "<key columns>": "for a run on a prepared table: the input's id, group and time columns and source_row (the "
                     "row's position among the input's data rows), or for windows the group, series, window_start "
                     "and window_end; for other runs the input's columns that were the training data's row "
                     "metadata (market, week ...)",
    "row_id": "position of the scored row in this output (0, 1, 2 ...); --engine ray writes parts in parallel and "
              "leaves out row_id and source_row: join its output to the input on the key columns",
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


def _numeric_arrow(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t))


def _as_arrow(x: Any) -> Any:
    import pyarrow as pa

    return x if isinstance(x, (pa.Array, pa.ChunkedArray)) else pa.array(np.asarray(x))


def _frame_columns(keys: Any) -> dict[str, Any]:
    """A pandas frame's columns as Arrow arrays (a mixed-type object column is written as text)."""
    import pyarrow as pa

    out: dict[str, Any] = {}
    for c in keys.columns:
        try:
            out[str(c)] = pa.array(keys[c].reset_index(drop=True), from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            out[str(c)] = pa.array(keys[c].astype(str).to_numpy())
    return out


class Batch:
    """One input batch as the model sees it: standardised float32 rows ``X``, the key columns to
    carry (name -> Arrow array), the labels (Arrow array or None) and what a table preparation did."""

    __slots__ = ("X", "keys", "label", "notes", "rows_in")

    def __init__(self, X: np.ndarray, keys: dict[str, Any], label: Any, notes: list[str], rows_in: int) -> None:
        self.X, self.keys, self.label, self.notes, self.rows_in = X, keys, label, notes, rows_in


class Scorer:
    """A finished run, loaded once, that scores batches: ``Scorer(run).score_batch(batch) -> pyarrow.Table``.

    ``batch`` is a pyarrow ``RecordBatch`` / ``Table``, a pandas DataFrame or an ``(X, y)`` pair of
    arrays. The run's feature columns are matched by name; a run on a prepared table applies its
    fitted preparation (:func:`prepare_batch`) first; then the run's standardiser and model
    (:func:`odcore.runs.execution.score_rows`). The output has the columns of
    :data:`OUTPUT_COLUMNS` (``row_id`` only when ``row_ids`` is true: a position needs the batches
    in order, which the local engine has and Ray Data does not).
    """

    def __init__(self, run: Any, *, source: str = "the input", row_ids: bool = True) -> None:
        if run.status != "done":
            why = f" ({run.error})" if run.status == "damaged" and run.error else ""
            raise InputError(f"run {run.id} is {run.status}{why}; only finished runs with their files can score files")
        from odcore.runs.rebuild import load_model, table_prep

        self.run_id = run.id
        self.model = load_model(run)
        self.scaler = run.standardizer()
        ds_info = run.config.get("dataset", {})
        self.n_features = int(self.model.n_features_in_)
        self.feature_names = list(ds_info.get("feature_names") or []) or [f"x{i}" for i in range(self.n_features)]
        self.label_column = ds_info.get("label_column")
        self.prep = table_prep(run)
        self.carried = [str(c) for c in ds_info.get("meta_columns") or []] if self.prep is None else []
        self.source = source
        self.row_ids = row_ids
        self.threshold = float(self.model.threshold_)

    @property
    def windowed(self) -> bool:
        """True when the run's rows need the whole input at once: windows of a series (a window may span batches)
        or each series' deviation from its expectation (fitted over the series' history)."""
        from odcore.data.table import whole_input

        return self.prep is not None and whole_input(self.prep)

    # ------------------------------------------------------------------ batch -> model rows
    def features(self, batch: Any, *, row_offset: int = 0) -> Batch:
        """The model rows of ``batch`` (standardised), its key columns and labels; ``row_offset`` is the
        number of input rows before this batch (``source_row`` of a prepared table)."""
        if isinstance(batch, tuple):
            if self.prep is not None:
                raise InputError(f"{self.source}: this run was trained on a table; score a CSV or Parquet file "
                                 "with its columns")
            X, label = batch
            X = np.asarray(X, dtype=np.float32)
            if X.shape[1] != self.n_features:
                raise InputError(f"X in {self.source} has {X.shape[1]} features but the run's model expects "
                                 f"{self.n_features}")
            return Batch(self.scaler.transform(X), {}, None if label is None else _as_arrow(label), [], len(X))
        if self.prep is not None:
            X, keys, label, notes = prepare_batch(batch, self.prep, self.source, row_offset=row_offset)
            if not self.row_ids and "source_row" in keys:  # a position: only the local engine reads in order
                keys = keys.drop(columns=["source_row"])
            return Batch(self.scaler.transform(X), _frame_columns(keys), None if label is None else _as_arrow(label),
                         notes, len(batch))
        if hasattr(batch, "schema") and hasattr(batch, "column"):  # pyarrow RecordBatch / Table
            cols = [str(c) for c in batch.schema.names]
            _check_columns(cols, self.feature_names)
            if all(_numeric_arrow(batch.schema.field(f).type) for f in self.feature_names):
                lc = _label_column(cols, self.label_column)
                X = self.scaler.transform_columns(batch.column(f).to_numpy(zero_copy_only=False)
                                                  for f in self.feature_names)
                keys = {c: batch.column(c) for c in self.carried if c in cols}
                return Batch(X, keys, None if lc is None else batch.column(lc), [], batch.num_rows)
            batch = batch.to_pandas()  # a non-numeric feature column: the DataFrame path says which
        present = [c for c in self.carried if c in batch.columns]
        keys = _frame_columns(batch[present]) if present else {}
        cols = [str(c) for c in batch.columns]
        _check_columns(cols, self.feature_names)
        if all(isinstance(batch[f].dtype, np.dtype) and batch[f].dtype.kind in "biuf" for f in self.feature_names):
            lc = _label_column(cols, self.label_column)
            X = self.scaler.transform_columns(batch[f].to_numpy() for f in self.feature_names)
            return Batch(X, keys, None if lc is None else _as_arrow(batch[lc].to_numpy()), [], len(batch))
        X, label = select_features(batch, self.feature_names, self.label_column)
        return Batch(self.scaler.transform(X), keys, None if label is None else _as_arrow(label), [], len(batch))

    # ------------------------------------------------------------------ model rows -> output
    def score_features(self, b: Batch, *, row_start: int = 0) -> Any:
        """Score prepared rows: an Arrow table of the key columns, ``row_id`` (from ``row_start``),
        ``score``, ``pred`` and, when present, ``label`` and ``decoder``."""
        import pyarrow as pa

        from odcore.runs.execution import score_rows

        scored = score_rows(self.model, b.X)
        n = len(scored["score"])
        cols: dict[str, Any] = dict(b.keys)
        if self.row_ids:
            cols["row_id"] = pa.array(np.arange(row_start, row_start + n, dtype=np.int64))
        cols["score"] = pa.array(scored["score"])
        cols["pred"] = pa.array(scored["pred"])
        if b.label is not None:
            cols["label"] = b.label
        if "decoder" in scored:
            cols["decoder"] = pa.array(scored["decoder"])
        return pa.table(cols)

    def score_batch(self, batch: Any, *, row_offset: int = 0, row_start: int = 0) -> Any:
        """``features`` then ``score_features``: one input batch -> one Arrow table of scores."""
        return self.score_features(self.features(batch, row_offset=row_offset), row_start=row_start)


_DONE = object()


def ahead(items: Iterable[Any], depth: int = 1) -> Iterator[Any]:
    """Iterate ``items`` in a background thread, ``depth`` items ahead of the consumer (Arrow's
    decoding and NumPy's conversions release the GIL, so reading overlaps the model's compute).
    An exception in the thread is raised in the consumer; closing the iterator stops the thread."""
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(x: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for x in items:
                if not put((True, x)):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put((False, exc))
            return
        put((True, _DONE))

    t = threading.Thread(target=work, name="odcore-score-reader", daemon=True)
    t.start()
    try:
        while True:
            ok, x = q.get()
            if not ok:
                raise x
            if x is _DONE:
                return
            yield x
    finally:
        stop.set()
        t.join(timeout=5)


class _Writer:
    """Appends Arrow tables to a Parquet or CSV file in a background thread (one table queued)."""

    def __init__(self, path: Path, parquet: bool) -> None:
        self.path, self.parquet = path, parquet
        self.q: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.writer: Any = None
        self.fh: Any = None
        self.thread = threading.Thread(target=self._work, name="odcore-score-writer", daemon=True)
        self.thread.start()

    def _work(self) -> None:
        import pyarrow.parquet as pq

        first = True
        while True:
            table = self.q.get()
            if table is None:
                return
            if self.error is not None:
                continue
            try:
                if self.parquet:
                    if self.writer is None:
                        self.writer = pq.ParquetWriter(self.path, table.schema)
                    elif table.schema != self.writer.schema:
                        table = table.cast(self.writer.schema)
                    self.writer.write_table(table)
                else:
                    if self.fh is None:
                        self.fh = open(self.path, "w", newline="")  # noqa: SIM115 - closed in close()
                    table.to_pandas().to_csv(self.fh, header=first, index=False)
                first = False
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                self.error = exc

    def write(self, table: Any) -> None:
        if self.error is not None:
            raise self.error
        self.q.put(table)

    def close(self) -> None:
        """Finish writing (raises what the thread raised) and close the file."""
        self.q.put(None)
        self.thread.join()
        try:
            if self.writer is not None:
                self.writer.close()
            if self.fh is not None:
                self.fh.close()
        finally:
            self.writer = self.fh = None
        if self.error is not None:
            raise self.error


def score_file(run: Any, input_path: str | os.PathLike, output_path: str | os.PathLike, *,
               chunk_size: int = 100_000) -> dict[str, Any]:
    """Score a CSV/Parquet/.npz file with a finished run, batch by batch (bounded memory).

    Reads ``chunk_size`` rows at a time (Parquet as Arrow record batches, CSV with the data
    layer's reader), turns each into the run's standardised model rows one batch ahead of the
    model in a reader thread, scores it with :class:`Scorer` and appends the Arrow result to a
    Parquet (``ParquetWriter``) or CSV file, chosen by the output extension, in a writer thread.
    A run on a prepared table (:mod:`odcore.data.table`) applies its preparation to each batch
    (windows need whole series, so a run with windows reads the input at once). Writes the columns
    of :data:`OUTPUT_COLUMNS` (the key columns carried from the input first) to a temporary file
    renamed at the end. Returns ``{"rows", "flagged", "threshold", "notes"}`` (``notes``: what the
    preparation did, e.g. blanks filled, rows dropped).
    """
    from odcore.data.files import open_plain

    inp, out = Path(input_path), Path(output_path)
    open_plain(inp).close()  # one line for a missing file or a long path; a FIFO or a device is refused, not waited on
    out_parquet = out.name.lower().endswith((".parquet", ".pq"))
    if not out_parquet and not out.name.lower().endswith(".csv"):
        raise InputError(f"output {out.name}: use a .parquet or .csv file name")
    if chunk_size < 1:
        raise InputError("chunk size must be at least 1")
    scorer = Scorer(run, source=inp.name)  # refuses a run that is not done
    chunks: Any = iter_chunks(inp, chunk_size)
    if scorer.windowed:  # a window may span chunks: the whole series at once
        import pandas as pd

        chunks = [pd.concat([c if hasattr(c, "columns") else c.to_pandas() for c in chunks], ignore_index=True)]

    def prepared() -> Iterator[Batch]:
        rows_in = 0
        for chunk in chunks:
            b = scorer.features(chunk, row_offset=rows_in)
            rows_in += b.rows_in
            yield b

    notes: list[str] = []
    n_rows = flagged = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    writer = _Writer(tmp, out_parquet)
    batches = ahead(prepared())
    try:
        for b in batches:
            notes.extend(n for n in b.notes if n not in notes)
            table = scorer.score_features(b, row_start=n_rows)
            writer.write(table)
            n_rows += table.num_rows
            flagged += int(np.asarray(table.column("pred")).sum())
        writer.close()
        if n_rows == 0:
            raise InputError(f"{inp} has no rows to score")
        os.replace(tmp, out)
    finally:
        batches.close()
        try:
            writer.close()
        except BaseException:  # noqa: BLE001 - the first error is the one raised
            pass
        if tmp.exists():
            tmp.unlink()
    return {"rows": n_rows, "flagged": flagged, "threshold": scorer.threshold, "notes": notes}
