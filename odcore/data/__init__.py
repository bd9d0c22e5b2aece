"""Datasets: built-ins, file formats and named sources, protocols (splits), the standardiser,
validation and ``describe``.

    >>> from odcore import data
    >>> ds = data.load("sine")                       # a built-in (no network)
    >>> ds = data.load("../shared/datasets/odds/thyroid.mat")   # a file, format detected
    >>> sp = data.split(ds, "drocc", seed=0)         # a seeded protocol split
    >>> data.describe(ds)["problems"]

Every problem with the input raises :class:`odcore.errors.InputError` (alias ``DataError``).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from odcore.data import builtins as _b
from odcore.data import options as data_options
from odcore.data.access import shared_data_dir
from odcore.data.files import DataFile, FileMissing
from odcore.data.formats import frame_to_dataset
from odcore.data.loaders import FORMATS, detect_format, every_file_option, load_file, reader_options
from odcore.data.protocols import PROTOCOLS, clean_training, protocol_defaults, protocol_help, split
from odcore.data.record import Dataset, Split
from odcore.data.retail import retail_panel
from odcore.data.scaling import Standardizer
from odcore.data.validate import describe
from odcore.errors import DataError, InputError
from odcore.params import Declaration

__all__ = [
    "Dataset", "Split", "Standardizer", "DataError", "InputError", "FORMATS", "PROTOCOLS", "clean_training",
    "builtin_names", "builtin_info", "load", "load_bytes", "options_for", "parse_options", "option_catalogue",
    "options_markdown",
    "split", "protocol_defaults", "protocol_help", "describe", "shared_data_dir",
    "detect_format", "frame_to_dataset", "sine_test_points", "sine_grid", "sine_wave_points",
]

sine_test_points = _b.sine_test_points
sine_grid = _b.sine_grid
sine_wave_points = _b.sine_wave_points

_BUILTINS: dict[str, tuple[Callable[..., Dataset], str]] = {
    "sine": (_b.sine, "DROCC 2-D sine wave, 1,024 normal points (Fig. 1a)"),
    "sine-noisy": (_b.sine_noisy, "DROCC sine wave in 10-D: 2 sine + 8 noise coordinates (Fig. 1c)"),
    "gaussian-ocnn": (_b.gaussian_ocnn, "OC-NN synthetic: 190 N(0,4I) normals + 10 N(0,100I) anomalies, 512-d"),
    "digits": (_b.digits, "scikit-learn 8x8 digits, 1,797 images, classes 0-9 (one-vs-rest)"),
    "breast-cancer": (_b.breast_cancer, "scikit-learn breast cancer, 569 rows, malignant (37%) = outlier"),
    "retail-synthetic": (retail_panel, "WALDO-style retail panel: 52 markets x 198 weeks, 7 daily sales"),
}


def builtin_names() -> list[str]:
    """Names of the built-in datasets (no file, no network)."""
    return list(_BUILTINS)


def builtin_info() -> dict[str, str]:
    """Built-in name -> one-line description."""
    return {k: v[1] for k, v in _BUILTINS.items()}


def options_for(source: Any = None, *, fmt: str | None = None) -> Declaration:
    """The declared options (:mod:`odcore.data.options`) that :func:`load` takes for ``source``: a built-in's,
    the reader's of the file's format (``fmt``, else detected), or every file option when the file cannot be
    looked at (yet)."""
    key = "" if source is None else str(source)
    if key in _BUILTINS:
        return data_options.builtin(_BUILTINS[key][0])
    if fmt in FORMATS:
        return reader_options(fmt)
    try:
        p = Path(key).expanduser()
        if key and p.is_file() and p.stat().st_size:
            return reader_options(detect_format(p))
    except (OSError, InputError):
        pass
    return every_file_option()


def parse_options(source: Any, texts: Mapping[str, Any]) -> dict[str, Any]:
    """``texts`` (text from the CLI or a form, or typed values) as the options of ``source``: typed and checked
    by their declarations; unknown names are refused with the valid ones."""
    fmt = texts.get("format")
    decl = options_for(source, fmt=fmt if isinstance(fmt, str) else None)
    return decl.parse(texts, f"data {source}" if source is not None else "the data")


def load(source: str | os.PathLike | DataFile, **options: Any) -> Dataset:
    """Load a built-in by name, or a file by path (``format=`` one of :data:`FORMATS`, else detected).

    File options: CSV/Parquet ``label_column``, ``feature_columns``, ``meta_columns``,
    ``categorical="onehot"|"refuse"``, ``positive``; KDD ``positive``, ``categories``; MNIST
    ``labels``, ``inlier_classes``; abalone ``anomaly_rings``, ``normal_rings``; pharma ``categories``.
    A file is opened once (through the policy in force, see :func:`odcore.data.access.confined`) and
    read through that descriptor; an opened :class:`~odcore.data.files.DataFile` is read as it is.
    """
    if isinstance(source, DataFile):
        return load_file(source, **options)
    key = str(source)
    if key in _BUILTINS:
        fn = _BUILTINS[key][0]
        decl = data_options.builtin(fn)
        unknown = sorted(set(options) - set(decl.names()))
        if unknown:
            raise InputError(f"built-in {key!r} has no option(s) {', '.join(unknown)}"
                             + (f"; its options are {', '.join(decl.names())}" if len(decl)
                                else "; it takes no options"))
        return fn(**decl.parse(options, f"built-in {key!r}"))
    try:
        return load_file(Path(key).expanduser(), **options)
    except FileMissing:
        shown = key if len(key) <= 80 else key[:77] + "..."
        raise InputError(f"{shown!r} is neither a built-in dataset ({', '.join(_BUILTINS)}) nor an existing file; "
                         "check the name or the path") from None


#: the longest uploaded file name kept (the rest is cut; the extension stays)
UPLOAD_NAME_CHARS = 100


def upload_name(filename: str) -> str:
    """A safe file name for an upload: letters, digits, ``._-``, no leading dot, at most
    :data:`UPLOAD_NAME_CHARS` characters with its extension kept."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(str(filename)).name).lstrip(".") or "upload"
    if len(safe) > UPLOAD_NAME_CHARS:
        suffix = "".join(Path(safe).suffixes)[-20:]
        safe = safe[: UPLOAD_NAME_CHARS - len(suffix)] + suffix
    return safe


def load_bytes(filename: str, data: bytes, **options: Any) -> Dataset:
    """Load an uploaded file's bytes (format from ``format=``, the name or the content).

    The bytes go to a new file in the server's private uploads folder
    (:func:`odcore.data.access.uploads_folder`), created exclusively and never through a symbolic link;
    its name is removed at once and the load reads the descriptor that wrote it."""
    if not data:
        raise InputError(f"{filename}: the uploaded file is empty")
    from odcore.data.access import uploads_folder

    name = upload_name(filename)
    path = uploads_folder() / f".upload-{uuid.uuid4().hex}-{name}"
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise InputError(f"{name}: the upload cannot be written to the uploads folder ({exc.strerror}); ask the "
                         "administrator to check the setting data.uploads_dir") from None
    try:
        os.unlink(path)  # nobody can open it by name from now on; the descriptor keeps the bytes
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        os.close(fd)
        raise InputError(f"{name}: the upload cannot be written ({exc.strerror})") from None
    with DataFile(fd, name, name) as f:
        ds = load_file(f, **options)
    ds.source = f"upload: {filename}"
    return ds


# ---------------------------------------------------------------------------------- the catalogue
def option_catalogue() -> list[tuple[str, str, Declaration]]:
    """Every declared data, table and protocol option as ``(section, title, declaration)``: the readers', the
    table preparation's, each protocol's (``odcore describe --options`` and docs/OPTIONS.md show it)."""
    from odcore.data.protocols import declaration
    from odcore.data.table import OPTIONS

    out = [("data", f"reader {fmt} ({f.label})", reader_options(fmt, table=False).only(f.options))
           for fmt, f in FORMATS.items()]
    out.append(("data", "every file", Declaration.of(data_options.format_param(tuple(FORMATS)))))
    out.append(("table", "CSV and Parquet tables (the table preparation)", OPTIONS))
    out += [("protocol", f"protocol {name}", declaration(name)) for name in PROTOCOLS]
    return out


def _cell(v: Any) -> str:
    text = "-" if v is None else repr(v) if not isinstance(v, str) else v
    return text.replace("|", "\\|")


def options_markdown() -> str:
    """The catalogue as Markdown (docs/OPTIONS.md is this text; ``tests/test_options.py`` keeps them equal)."""
    lines = ["# Data, table and protocol options", "",
             "Generated from the declarations (`python -m odcore describe --options --markdown > docs/OPTIONS.md`). "
             "The CLI takes them as `--data-option K=V` and `--protocol-option K=V`, the library as keyword "
             "arguments of `odcore.data.load` and `odcore.data.split` (and the `data_options` / `protocol_options` "
             "of a `RunSpec`); the app's forms parse their fields with the same declarations.", ""]
    for _, title, decl in option_catalogue():
        lines.append(f"## {title}")
        lines.append("")
        if not len(decl):
            lines += ["No options of its own.", ""]
            continue
        lines += ["| option | default | accepts | meaning |", "|---|---|---|---|"]
        lines += [f"| `{p.name}` | {_cell(p.default)} | {_cell(p.constraint())} | {_cell(p.help)} |" for p in decl]
        lines.append("")
    return "\n".join(lines)
