"""Scoring new data with a finished run: the run's model and standardiser, applied batch by batch.

:class:`Scorer` is the one batch-scoring path: it reads a stored run's record once (standardiser,
feature names, table preparation; the model itself on first use) and turns an input batch (a
pyarrow ``RecordBatch`` / ``Table``, a pandas DataFrame or ``(X, y)`` arrays) into an Arrow table of
:data:`OUTPUT_COLUMNS`. :func:`score_file` (``python -m odcore score`` and the app) streams a
Parquet file, folder or glob (:func:`parquet_files`, read as a pyarrow dataset: hive partition
keys become columns, as on Ray), a CSV or an ``.npz`` file through it in bounded memory and writes a
Parquet or CSV file, or a folder of Parquet parts (one per input file):

- a reader thread reads Arrow record batches (only the columns the run needs) and turns them into
  standardised float32 rows without pandas, up to :data:`READ_AHEAD_BYTES` ahead of the model; it
  starts before the model is loaded, so reading overlaps the import of torch;
- the calling thread loads the model and scores the prepared rows;
- a writer thread appends the Arrow results (``pyarrow.parquet.ParquetWriter``).

:mod:`odcore.runs.ray_scoring` runs the same :class:`Scorer` in Ray Data actors.
"""

from __future__ import annotations

import glob
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from odcore.errors import InputError

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt")
#: rows per batch read from the input (``--chunk-size``): pyarrow's working memory grows with it
#: (about 220 MB at 65,536 rows x 121 float64 columns, 310 MB at 100,000), the speed hardly does
CHUNK_ROWS = 65_536
#: bytes of prepared float32 rows the reader thread may hold ahead of the model (memory bound)
READ_AHEAD_BYTES = 128 * 2**20
#: Parquet row groups up to this size (uncompressed) are decoded whole by pyarrow's threads, larger ones by a
#: streaming reader that holds one batch (see :func:`_file_batches`, :func:`_fragment_batches`)
THREADED_ROW_GROUP_BYTES = 256 * 2**20


def _is_uri(text: str) -> bool:
    return "://" in text


def _hidden(path: Path, base: Path) -> bool:
    """A file pyarrow's and Spark's readers skip: a name, or a folder on its way, starting with . or _."""
    return any(part.startswith((".", "_")) for part in path.relative_to(base).parts)


def parquet_files(source: str | os.PathLike, *, engine: str = "local") -> tuple[list[Path], Path | None]:
    """The Parquet files of a file, a folder (searched recursively; names starting with ``.`` or ``_``
    are skipped, as pyarrow and Spark do) or a glob, in path order, with the folder whose ``key=value``
    subfolders are hive partition columns (None for a file or a glob). Refuses what matches nothing
    or matches other files, saying how to fix it."""
    text = str(source)
    other = "score CSV files with --engine local" if engine == "ray" else "score each CSV file on its own"
    if glob.has_magic(text):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise InputError(f"no file matches {text}; give a Parquet file, a folder of Parquet files or a glob")
        bad = [str(p) for p in files if not p.name.lower().endswith(PARQUET_SUFFIXES)][:3]
        if bad:
            raise InputError(f"a glob is read as Parquet files, but {', '.join(bad)} match {text}; narrow the glob "
                             f"(e.g. *.parquet) or {other}")
        return files, None
    p = Path(text)
    if not p.exists():
        raise InputError(f"input {p} does not exist")
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.name.lower().endswith(PARQUET_SUFFIXES) and f.is_file()
                       and not _hidden(f, p))
        if not files:
            raise InputError(f"folder {p} has no .parquet files; a folder is read as Parquet parts ({other})")
        return files, p
    if not p.name.lower().endswith(PARQUET_SUFFIXES):
        raise InputError(f"{p.name} is not a Parquet file (.parquet, .pq)")
    return [p], None


def _parquet_error(name: str, exc: BaseException, *, opened: bool) -> InputError:
    if opened:
        return InputError(f"{name}: part of the Parquet file cannot be read ({type(exc).__name__}); it is truncated "
                          "or damaged")
    return InputError(f"{name}: not a readable Parquet file ({type(exc).__name__})")


def _fragment_batches(fragment: Any, schema: Any, columns: list[str] | None, keys: dict[str, Any],
                      chunk_size: int) -> Iterator[Any]:
    """The record batches of one Parquet file of a dataset, in bounded memory.

    Row groups up to :data:`THREADED_ROW_GROUP_BYTES` are scanned one at a time by pyarrow's threaded
    dataset scanner (it decodes with less CPU here than a single-threaded reader, whose fresh buffers
    page-fault for every batch), which may decode a whole row group ahead of a slow consumer; larger
    row groups (pandas writes a million rows per group) are streamed by ``ParquetFile.iter_batches``
    with a 1 MB read buffer, which holds one batch whatever the row group's size, and get the file's
    hive partition ``keys`` as constant columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    meta = fragment.metadata
    largest = max((meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)), default=0)
    if largest <= THREADED_ROW_GROUP_BYTES:
        for group in fragment.split_by_row_group():
            yield from group.to_batches(schema=schema, columns=columns, batch_size=chunk_size, batch_readahead=1,
                                        fragment_readahead=1, use_threads=True)
        return
    names = [c for c in (columns or schema.names) if c not in keys]
    with pq.ParquetFile(fragment.path, pre_buffer=False, buffer_size=2**20) as pf:
        for b in pf.iter_batches(batch_size=chunk_size, columns=names, use_threads=True):
            if keys:
                arrays = {c: b.column(c) for c in names}
                arrays.update({k: pa.repeat(pa.scalar(v, schema.field(k).type), b.num_rows) for k, v in keys.items()
                               if columns is None or k in columns})
                b = pa.RecordBatch.from_pydict({c: arrays[c] for c in (columns or schema.names) if c in arrays})
            yield b


def _wanted_columns(name: str, present: list[str], wanted: Any, many: bool) -> list[str] | None:
    """The columns to read of one Parquet file whose columns (with its partition keys) are ``present``."""
    if len(set(present)) != len(present):
        raise InputError(f"{name}: column names must be unique; rename the duplicates")
    try:
        return wanted(present)
    except InputError as exc:
        if many:  # say which part
            raise InputError(f"{name}: {exc}") from None
        raise


def _file_batches(pf: Any, columns: list[str] | None, chunk_size: int) -> Iterator[Any]:
    """The record batches of one Parquet file without hive partitions, in bounded memory: a row group up to
    :data:`THREADED_ROW_GROUP_BYTES` is decoded whole by pyarrow's threads (the least CPU per row here:
    0.52 s for 1M x 121 float64 against 0.75 s streamed), a larger one (pandas writes a million rows per
    group) is streamed with a 1 MB read buffer, holding one batch whatever the group's size."""
    meta = pf.metadata
    for i in range(meta.num_row_groups):
        if meta.row_group(i).total_byte_size <= THREADED_ROW_GROUP_BYTES:
            yield from pf.read_row_group(i, columns=columns, use_threads=True).to_batches(chunk_size)
        else:
            yield from pf.iter_batches(batch_size=chunk_size, row_groups=[i], columns=columns, use_threads=True)


def _hive(files: list[Path], base: Path | None) -> bool:
    """Whether a file of the folder ``base`` sits under a ``key=value`` folder (a hive partition column)."""
    return base is not None and any("=" in part for f in files for part in f.relative_to(base).parent.parts)


def _parquet_batches(files: list[Path], base: Path | None, chunk_size: int,
                     wanted: Any) -> Iterator[tuple[int, Any]]:
    """``(file index, RecordBatch)`` of the files in order (hive partition keys under ``base`` become
    columns: read as one pyarrow dataset). ``wanted(names) -> columns`` picks the columns to read from a
    file's column names (refusing, with a message, a file that lacks what the run needs)."""
    import pyarrow as pa

    if not _hive(files, base):  # plain files: no pyarrow.dataset (its import brings pandas: 0.2 s of start-up)
        import pyarrow.parquet as pq

        for k, f in enumerate(files):
            name = f.name if base is None else str(f.relative_to(base))
            try:
                pf = pq.ParquetFile(f, pre_buffer=False, buffer_size=2**20)
                present = [str(c) for c in pf.schema_arrow.names]
            except (pa.ArrowException, OSError) as exc:
                raise _parquet_error(name, exc, opened=False) from None
            with pf:
                columns = _wanted_columns(name, present, wanted, len(files) > 1)
                try:
                    yield from ((k, b) for b in _file_batches(pf, columns, chunk_size))
                except (pa.ArrowException, OSError) as exc:
                    raise _parquet_error(name, exc, opened=True) from None
        return
    import pyarrow.dataset as pads

    # pre_buffer=False: pyarrow's pre-buffering keeps every row group it has read in memory (peak memory
    # grew with the file); batch_readahead=1: the default (16 batches) holds over 1 GB at 121 float64 columns
    fmt = pads.ParquetFileFormat(default_fragment_scan_options=pads.ParquetFragmentScanOptions(pre_buffer=False))
    try:
        data = pads.dataset([str(f) for f in files], format=fmt, partitioning="hive", partition_base_dir=str(base))
    except (pa.ArrowException, OSError) as exc:
        raise _parquet_error(files[0].name, exc, opened=False) from None
    for k, fragment in enumerate(data.get_fragments()):
        name = str(Path(fragment.path).relative_to(base))
        try:
            present = list(fragment.physical_schema.names)
        except (pa.ArrowException, OSError) as exc:
            raise _parquet_error(name, exc, opened=False) from None
        keys = {c: v for c, v in pads.get_partition_keys(fragment.partition_expression).items() if c not in present}
        columns = _wanted_columns(name, present + list(keys), wanted, len(files) > 1)
        try:
            yield from ((k, b) for b in _fragment_batches(fragment, data.schema, columns, keys, chunk_size))
        except (pa.ArrowException, OSError) as exc:
            raise _parquet_error(name, exc, opened=True) from None


def read_input(source: str | os.PathLike, chunk_size: int, *,
               wanted: Any = None) -> Iterator[tuple[int, Any]]:
    """``(part, batch)`` pairs of a Parquet file, folder or glob (``part``: the index of the input file;
    pyarrow ``RecordBatch`` es), of a CSV (pandas DataFrames, the data layer's reader: encodings,
    delimiter, decimal mark, field limits; part 0) or of an ``.npz`` (``(X, y)`` arrays; part 0).
    ``wanted(names) -> columns`` narrows the Parquet columns read (default: all)."""
    text = str(source)
    name = Path(text).name.lower()
    if name.endswith(CSV_SUFFIXES) and not glob.has_magic(text):
        from odcore.data.formats import iter_csv  # encoding, delimiter, decimal mark and field limits as load_csv

        if not Path(text).is_file():
            raise InputError(f"input file {text} does not exist")
        yield from ((0, c) for c in iter_csv(Path(text), chunk_size, sep="\t" if name.endswith(".tsv") else None))
    elif name.endswith(".npz") and not glob.has_magic(text):
        from odcore.data.formats import read_npz_arrays  # headers checked before inflating; no pickles

        if not Path(text).is_file():
            raise InputError(f"input file {text} does not exist")
        X, y = read_npz_arrays(Path(text))
        for i in range(0, X.shape[0], chunk_size):
            yield 0, (X[i:i + chunk_size].reshape(min(chunk_size, X.shape[0] - i), -1),
                      None if y is None else y[i:i + chunk_size])
    elif _is_uri(text):
        raise InputError(f"the local engine reads local files; score {text} with --engine ray")
    else:
        p = Path(text)
        if p.is_file() and not name.endswith(PARQUET_SUFFIXES):
            raise InputError(f"cannot score {p.name}: use a .csv, .parquet or .npz file, or a folder or glob of "
                             ".parquet files")
        files, base = parquet_files(text)
        yield from _parquet_batches(files, base, chunk_size, wanted or (lambda names: None))


def iter_chunks(path: str | os.PathLike, chunk_size: int) -> Iterator[Any]:
    """The batches of :func:`read_input` (Arrow record batches, DataFrames or ``(X, y)`` pairs)."""
    return (batch for _, batch in read_input(path, chunk_size))


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
    """An Arrow array of ``x``: a numeric NumPy array wraps its buffer (zero-copy); other values go through
    ``pa.array``. (``pa.array`` and ``Array.to_numpy`` import pandas on first use, 0.2 s of a scoring
    command's start-up; plain numeric columns never need it.)"""
    import pyarrow as pa

    if isinstance(x, (pa.Array, pa.ChunkedArray)):
        return x
    x = np.asarray(x)
    if x.ndim == 1 and x.dtype.kind in "iuf" and x.dtype.byteorder in "=|":
        x = np.ascontiguousarray(x)
        return pa.Array.from_buffers(pa.from_numpy_dtype(x.dtype), len(x), [None, pa.py_buffer(x)])
    return pa.array(x)


def _numpy_of(col: Any) -> np.ndarray:
    """A numeric Arrow array or one-chunk column as NumPy: its buffer (zero-copy) when it has no nulls,
    Arrow's conversion otherwise (a null becomes NaN)."""
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        if col.num_chunks != 1:
            return col.to_numpy()
        col = col.chunk(0)
    t = col.type
    if col.null_count == 0 and (pa.types.is_integer(t) or pa.types.is_floating(t)):
        dtype = np.dtype(t.to_pandas_dtype())
        return np.frombuffer(col.buffers()[1], dtype=dtype, count=len(col), offset=col.offset * dtype.itemsize)
    return col.to_numpy(zero_copy_only=False)


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
    carry (name -> Arrow array), the labels (Arrow array or None), what a table preparation did, the
    number of input rows and the input file it came from (``part``)."""

    __slots__ = ("X", "keys", "label", "notes", "rows_in", "part")

    def __init__(self, X: np.ndarray, keys: dict[str, Any], label: Any, notes: list[str], rows_in: int,
                 part: int = 0) -> None:
        self.X, self.keys, self.label, self.notes, self.rows_in, self.part = X, keys, label, notes, rows_in, part


def fast_program(run: Any) -> tuple[Any, float] | None:
    """``(odcore.program.Program, threshold)`` of a run whose detector saved a score program, else None: a
    run trained with marks (its re-ranking needs the detector), or one pinned to a CUDA device (torch
    scores it there)."""
    from odcore import program
    from odcore.runs.rerank import RERANK_FILE

    model_dir = Path(run.model_dir)
    device = str((run.config.get("params") or {}).get("device") or "auto")
    if device.startswith("cuda") or (model_dir / RERANK_FILE).exists():
        return None
    return program.load(model_dir)


class Scorer:
    """A finished run that scores batches: ``Scorer(run).score_batch(batch) -> pyarrow.Table``.

    ``batch`` is a pyarrow ``RecordBatch`` / ``Table``, a pandas DataFrame or an ``(X, y)`` pair of
    arrays. The run's feature columns are matched by name; a run on a prepared table applies its
    fitted preparation (:func:`prepare_batch`) first; then the run's standardiser and model
    (:func:`odcore.runs.execution.score_rows`). The output has the columns of
    :data:`OUTPUT_COLUMNS` (``row_id`` only when ``row_ids`` is true: a position needs the batches
    in order, which the local engine has and Ray Data does not).

    Building one reads the run's record and standardiser only; the model (torch and the detector's
    modules) is loaded on first use of :attr:`model`, so :meth:`features` can start on the input
    while it loads (:func:`score_file` does this).
    """

    def __init__(self, run: Any, *, source: str = "the input", row_ids: bool = True) -> None:
        if run.status != "done":
            why = f" ({run.error})" if run.status == "damaged" and run.error else ""
            raise InputError(f"run {run.id} is {run.status}{why}; only finished runs with their files can score files")
        from odcore.runs.rebuild import table_prep

        self.run = run
        self.run_id = run.id
        self._model: Any = None
        self._lock = threading.Lock()
        self.scaler = run.standardizer()
        ds_info = run.config.get("dataset", {})
        self.feature_names = [str(c) for c in ds_info.get("feature_names") or []]
        self.n_features = len(self.feature_names) or int(ds_info.get("features") or self.model.n_features_in_)
        self.feature_names = self.feature_names or [f"x{i}" for i in range(self.n_features)]
        self.label_column = ds_info.get("label_column")
        self.prep = table_prep(run)
        self.carried = [str(c) for c in ds_info.get("meta_columns") or []] if self.prep is None else []
        self.source = source
        self.row_ids = row_ids
        self.program = fast_program(run)
        # the rows' memory layout: column-major for the program (one contiguous copy per column), row-major for torch
        self.layout = "F" if self.program is not None else "C"


    @property
    def model(self) -> Any:
        """The run's fitted detector, loaded on first use (thread-safe)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from odcore.runs.rebuild import load_model

                    self._model = load_model(self.run)
        return self._model

    @property
    def threshold(self) -> float:
        """The run's threshold (a score above it is flagged)."""
        return self.program[1] if self.program is not None else float(self.model.threshold_)

    @property
    def windowed(self) -> bool:
        """True when the run's rows need the whole input at once: windows of a series (a window may span batches)
        or each series' deviation from its expectation (fitted over the series' history)."""
        from odcore.data.table import whole_input

        return self.prep is not None and whole_input(self.prep)

    def columns(self, names: list[str]) -> list[str] | None:
        """The input columns to read, out of the input's column ``names``: the features, the label and
        the carried key columns (None, all of them, for a prepared table); refuses an input that lacks
        a feature column."""
        if self.prep is not None:
            return None
        _check_columns(names, self.feature_names)
        lc = _label_column(names, self.label_column)
        extra = [c for c in [*self.carried, lc] if c is not None and c in names and c not in self.feature_names]
        return list(dict.fromkeys([*extra, *self.feature_names]))

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
                X = self.scaler.transform_columns([_numpy_of(batch.column(f)) for f in self.feature_names],
                                                  order=self.layout)
                keys = {c: batch.column(c) for c in self.carried if c in cols}
                return Batch(X, keys, None if lc is None else batch.column(lc), [], batch.num_rows)
            batch = batch.to_pandas()  # a non-numeric feature column: the DataFrame path says which
        present = [c for c in self.carried if c in batch.columns]
        keys = _frame_columns(batch[present]) if present else {}
        cols = [str(c) for c in batch.columns]
        _check_columns(cols, self.feature_names)
        if all(isinstance(batch[f].dtype, np.dtype) and batch[f].dtype.kind in "biuf" for f in self.feature_names):
            lc = _label_column(cols, self.label_column)
            X = self.scaler.transform_columns([batch[f].to_numpy() for f in self.feature_names], order=self.layout)
            return Batch(X, keys, None if lc is None else _as_arrow(batch[lc].to_numpy()), [], len(batch))
        X, label = select_features(batch, self.feature_names, self.label_column)
        return Batch(self.scaler.transform(X), keys, None if label is None else _as_arrow(label), [], len(batch))

    # ------------------------------------------------------------------ model rows -> output
    def score_features(self, b: Batch, *, row_start: int = 0) -> Any:
        """Score prepared rows: an Arrow table of the key columns, ``row_id`` (from ``row_start``),
        ``score``, ``pred`` and, when present, ``label`` and ``decoder``."""
        import pyarrow as pa

        scored = None
        if self.program is not None:  # torch-free (odcore.program): same scores within float32 rounding
            scores = self.program[0].score(b.X)
            if np.isfinite(scores).all():  # else the detector's own checks say what is wrong with the rows
                scored = {"score": scores, "pred": (scores > self.program[1]).astype(np.int8)}
        if scored is None:
            from odcore.runs.execution import score_rows

            scored = score_rows(self.model, np.ascontiguousarray(b.X))
        n = len(scored["score"])
        cols: dict[str, Any] = dict(b.keys)
        if self.row_ids:
            cols["row_id"] = _as_arrow(np.arange(row_start, row_start + n, dtype=np.int64))
        cols["score"] = _as_arrow(scored["score"])
        cols["pred"] = _as_arrow(scored["pred"])
        if b.label is not None:
            cols["label"] = b.label
        if "decoder" in scored:
            cols["decoder"] = _as_arrow(scored["decoder"])
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


def output_kind(output: str | os.PathLike) -> str:
    """``"parquet"``, ``"csv"`` or ``"folder"`` (Parquet parts): a name ending in .parquet / .pq or .csv
    is a file; an existing folder, a name ending in a slash or a name without a suffix is a folder."""
    text = str(output)
    p = Path(text)
    if _is_folder(text) or text.endswith(("/", os.sep)) or not p.suffix:
        return "folder"
    if p.name.lower().endswith(PARQUET_SUFFIXES):
        return "parquet"
    if p.name.lower().endswith(".csv"):
        return "csv"
    raise InputError(f"output {p.name}: use a .parquet or .csv file name, or a folder for Parquet parts")


class _Writer:
    """Appends Arrow tables to a Parquet or CSV file, or to the Parquet parts of a folder (one per
    input file), in a background thread (one table queued)."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self.q: queue.Queue = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.writer: Any = None
        self.part: int | None = None
        self.schema: Any = None
        self.fh: Any = None
        self.thread = threading.Thread(target=self._work, name="odcore-score-writer", daemon=True)
        self.thread.start()

    def _parquet(self, table: Any, part: int) -> None:
        import pyarrow.parquet as pq

        if self.schema is None:
            self.schema = table.schema
        elif table.schema != self.schema:
            table = table.cast(self.schema)
        if self.writer is not None and self.kind == "folder" and part != self.part:
            self.writer.close()
            self.writer = None
        if self.writer is None:
            target = self.path / f"part-{part:05d}.parquet" if self.kind == "folder" else self.path
            # no dictionary for the scores and positions (unique values: a dictionary is built, then dropped)
            self.writer = pq.ParquetWriter(target, self.schema, use_dictionary=[
                c for c in self.schema.names if c not in ("score", "row_id", "source_row")])
            self.part = part
        self.writer.write_table(table)

    def _work(self) -> None:
        first = True
        while True:
            item = self.q.get()
            if item is None:
                return
            if self.error is not None:
                continue
            table, part = item
            try:
                if self.kind != "csv":
                    self._parquet(table, part)
                else:
                    if self.fh is None:
                        self.fh = open(self.path, "w", newline="")  # noqa: SIM115 - closed in close()
                    table.to_pandas().to_csv(self.fh, header=first, index=False)
                first = False
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                self.error = exc

    def write(self, table: Any, part: int = 0) -> None:
        if self.error is not None:
            raise self.error
        self.q.put((table, part))

    def close(self) -> None:
        """Finish writing (raises what the thread raised) and close the file."""
        if self.thread.is_alive():
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


def _read_ahead(scorer: Scorer, chunk_size: int) -> int:
    """How many prepared batches the reader may hold: :data:`READ_AHEAD_BYTES` of float32 rows."""
    return int(min(32, max(1, READ_AHEAD_BYTES // max(1, chunk_size * scorer.n_features * 4))))


def _is_folder(text: str) -> bool:
    """Whether ``text`` names a folder (a name too long for the system is none: its open says so in one line)."""
    try:
        return Path(text).is_dir()
    except OSError:
        return False


def score_file(run: Any, input_path: str | os.PathLike, output_path: str | os.PathLike, *,
               chunk_size: int = CHUNK_ROWS) -> dict[str, Any]:
    """Score a Parquet file, folder or glob, a CSV or an .npz file with a finished run, batch by batch
    (bounded memory); write a .parquet or .csv file, or a folder of Parquet parts (one per input file).

    Reads ``chunk_size`` rows at a time (Parquet as Arrow record batches of the columns the run needs,
    CSV with the data layer's reader) and turns them into the run's standardised model rows in a
    reader thread that starts before the model is loaded, scores them with :class:`Scorer` and
    appends the Arrow results in a writer thread. A run on a prepared table
    (:mod:`odcore.data.table`) applies its preparation to each batch (windows need whole series, so a
    run with windows reads the input at once). Writes the columns of :data:`OUTPUT_COLUMNS` (the key
    columns carried from the input first) to a temporary file or folder renamed at the end; an
    existing output folder must be empty. Returns ``{"rows", "flagged", "threshold", "notes",
    "parts"}`` (``notes``: what the preparation did, e.g. blanks filled, rows dropped; ``parts``: the
    files written).
    """
    text = str(input_path)
    if not glob.has_magic(text) and not _is_uri(text) and not _is_folder(text):
        from odcore.data.files import open_plain

        # one line for a missing file or a long path; a FIFO or a device is refused, not waited on
        open_plain(Path(text)).close()
    out = Path(output_path)
    kind = output_kind(output_path)
    if kind == "folder" and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"output folder {out} exists and is not empty; give a new folder (parts are never mixed "
                         "with older output)")
    if chunk_size < 1:
        raise InputError("chunk size must be at least 1")
    scorer = Scorer(run, source=Path(text).name)  # refuses a run that is not done; the model loads below
    chunks: Any = read_input(text, chunk_size, wanted=scorer.columns)
    if scorer.windowed:  # a window may span chunks: the whole series at once
        import pandas as pd

        chunks = [(0, pd.concat([c if hasattr(c, "columns") else c.to_pandas() for _, c in chunks],
                                ignore_index=True))]

    def prepared() -> Iterator[Batch]:
        rows_in = 0
        for part, chunk in chunks:
            b = scorer.features(chunk, row_offset=rows_in)
            b.part = part
            rows_in += b.rows_in
            yield b

    notes: list[str] = []
    n_rows = flagged = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    if kind == "folder":
        tmp.mkdir()
    writer = _Writer(tmp, kind)
    batches = ahead(prepared(), depth=_read_ahead(scorer, chunk_size))  # reading starts now ...
    try:
        threshold = scorer.threshold  # ... while the model loads (torch's import) here
        for b in batches:
            notes.extend(n for n in b.notes if n not in notes)
            table = scorer.score_features(b, row_start=n_rows)
            writer.write(table, b.part)
            n_rows += table.num_rows
            flagged += int(np.count_nonzero(_numpy_of(table.column("pred"))))
        writer.close()
        if n_rows == 0:
            raise InputError(f"{text} has no rows to score")
        if kind == "folder" and out.is_dir():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
    finally:
        batches.close()
        try:
            writer.close()
        except BaseException:  # noqa: BLE001 - the first error is the one raised
            pass
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
    parts = len(list(out.glob("*.parquet"))) if kind == "folder" else 1
    return {"rows": n_rows, "flagged": flagged, "threshold": threshold, "notes": notes, "parts": parts}
