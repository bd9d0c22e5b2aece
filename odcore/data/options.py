"""Data options, declared once: what each reader and each built-in takes (type, range or choices, default, help).

``odcore.data.load(source, **options)``, the CLI's ``--data-option k=v``, the app's Data and Flagged pages
and ``odcore describe --options`` all read these declarations: text values are parsed by them, typed values
checked, unknown names refused with the valid ones. A file's options are its reader's (:data:`READERS`)
plus ``format`` and, for the table formats, the table preparation's (:data:`odcore.data.table.OPTIONS`);
a built-in's are its keyword-only arguments (their defaults give their kinds).

A new reader option: one :class:`~odcore.params.Param` in :data:`DECLARED` and its name in the reader's
entry of :data:`READERS` (``tests/test_options.py`` checks every reader's keywords against them).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from odcore.data.validate import MIN_ROWS
from odcore.params import Declaration, Param

#: every reader option by name (a name means the same thing in every reader that takes it)
DECLARED = Declaration.of(
    Param("label_column", None, "column of 0/1 labels (1 = outlier); with positive= any column", kind="str",
          optional=True, group="file"),
    Param("feature_columns", None, "the feature columns (default: every other column)", kind="names", optional=True,
          group="file"),
    Param("meta_columns", None, "identifier columns kept beside the rows, never features", kind="names",
          optional=True, group="file"),
    Param("categorical", "onehot", "text columns: 'onehot' encodes them, 'refuse' stops with a message", kind="str",
          choices=("onehot", "refuse"), group="file"),
    Param("positive", None, "label value(s) that mark an outlier (default: labels are 0/1)", kind="values",
          optional=True, group="file"),
    Param("max_categories", 50, "a one-hot column may have at most this many distinct values", kind="int", low=1,
          high=100_000, group="file"),
    Param("min_rows", MIN_ROWS, "refuse tables with fewer rows", kind="int", low=1, group="file"),
    Param("sep", None, "CSV delimiter (default: detected from the first lines)", kind="str", optional=True,
          group="file"),
    Param("decimal", None, "CSV decimal mark (default: detected)", kind="str", choices=(".", ","), optional=True,
          group="file"),
    Param("categories", None, "KDD Cup 99: the categories of each text column (from kdd_categories of the training "
          "file); pharmacy: the drug categories to keep", kind="json", optional=True, group="file"),
    Param("max_rows", None, "read at most this many rows", kind="int", low=1, optional=True, group="file"),
    Param("labels", None, "MNIST: the labels file (default: found beside the images file)", kind="str",
          optional=True, group="file"),
    Param("inlier_classes", None, "MNIST: digits that are normal (y = 1 for every other class)", kind="values",
          optional=True, group="file"),
    Param("anomaly_rings", (3, 21), "abalone: ring counts that are anomalies", kind="ints", low=0, high=100,
          group="file"),
    Param("normal_rings", (8, 9, 10), "abalone: ring counts that are normal", kind="ints", low=0, high=100,
          group="file"),
)

#: the options each reader takes, and the defaults that differ from :data:`DECLARED`'s
READERS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "csv": (("label_column", "feature_columns", "meta_columns", "categorical", "positive", "max_categories",
             "min_rows", "decimal", "sep"), {}),
    "parquet": (("label_column", "feature_columns", "meta_columns", "categorical", "positive", "max_categories",
                 "min_rows"), {}),
    "kdd99": (("positive", "categories", "max_rows"), {"positive": "normal."}),
    "mnist": (("labels", "inlier_classes", "max_rows"), {}),
    "mat": ((), {}), "npz": ((), {}), "npy": ((), {}),
    "pharma": (("categories",), {}),
    "abalone": (("anomaly_rings", "normal_rings"), {}),
}
#: the readers that hand their frame to the table preparation (its options apply)
TABLE_FORMATS = ("csv", "parquet")


def format_param(formats: tuple[str, ...]) -> Param:
    return Param("format", None, "the file's format (default: detected from its content and name)", kind="str",
                 choices=formats, optional=True, group="file")


def reader(fmt: str, *, table: bool = True) -> Declaration:
    """The options of the reader of format ``fmt``: its own, then ``format``, then (CSV and Parquet, when
    ``table``) the table preparation's."""
    from odcore.data.table import OPTIONS

    names, overrides = READERS[fmt]
    decl = Declaration({n: replace(DECLARED[n], default=overrides[n]) if n in overrides else DECLARED[n]
                        for n in names}, "option")
    decl = decl + Declaration.of(format_param(tuple(READERS)))
    return decl + OPTIONS if table and fmt in TABLE_FORMATS else decl


def every_file_option() -> Declaration:
    """The options of any file (every reader's, ``format`` and the table options): what a file of a format not
    known yet may be given."""
    from odcore.data.table import OPTIONS

    return DECLARED + Declaration.of(format_param(tuple(READERS))) + OPTIONS


#: help of the built-ins' options (their keyword-only arguments)
BUILTIN_HELP = {
    "seed": "seed of the generated data", "inlier_classes": "classes that are normal (y = 1 for every other class)",
    "noise_dims": "noise coordinates added to the sine wave", "noise_std": "standard deviation of the noise",
    "sine_scale": "scale of the sine wave's two coordinates", "n_normal": "normal rows", "n_anomalies": "anomalies",
    "dim": "dimensions", "n_markets": "markets (series)", "n_weeks": "weeks per market",
    "start": "first Monday (YYYY-MM-DD)", "promo_rate": "share of market-days with a promotion",
    "stockout_rate": "share of market-days with a stock-out", "holiday_lift": "range of the holiday sales lift",
    "noise": "relative day-to-day noise", "scaling": "global or series (each market in its own level)",
}


def _kind_of(default: Any) -> dict[str, Any]:
    if isinstance(default, bool):
        return {"kind": "bool"}
    if isinstance(default, int):
        return {"kind": "int"}
    if isinstance(default, float):
        return {"kind": "float"}
    if isinstance(default, str):
        return {"kind": "str"}
    return {"kind": "json", "optional": default is None}


def builtin(fn: Callable[..., Any], help_text: Mapping[str, str] | None = None) -> Declaration:
    """The options of a built-in dataset: its keyword-only arguments, typed by their defaults."""
    out = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            default = p.default if p.default is not inspect.Parameter.empty else None
            text = (help_text or {}).get(p.name) or BUILTIN_HELP.get(p.name, f"{p.name} of the generated data")
            out.append(Param(p.name, default, text,
                             group="built-in", **_kind_of(default)))
    return Declaration.of(*out)



# ---------------------------------------------------------------------------------- the catalogue
def catalogue() -> list[tuple[str, str, Declaration]]:
    """Every declared data, table and protocol option as ``(section, title, declaration)``: the readers', the
    table preparation's, each protocol's (``odcore describe --options`` and docs/OPTIONS.md show it)."""
    from odcore.data.protocols import PROTOCOLS, declaration
    from odcore.data.table import OPTIONS

    out = [("data", f"reader {fmt}", reader(fmt, table=False).only(READERS[fmt][0])) for fmt in READERS]
    out.append(("data", "every file", Declaration.of(format_param(tuple(READERS)))))
    out.append(("table", "CSV and Parquet tables (the table preparation)", OPTIONS))
    out += [("protocol", f"protocol {name}", declaration(name)) for name in PROTOCOLS]
    return out


def _cell(v: Any) -> str:
    text = "-" if v is None else repr(v) if not isinstance(v, str) else v
    return text.replace("|", "\\|")


def markdown() -> str:
    """The catalogue as Markdown (docs/OPTIONS.md is this text; ``tests/test_options.py`` keeps them equal)."""
    lines = ["# Data, table and protocol options", "",
             "Generated from the declarations (`python -m odcore describe --options --markdown > docs/OPTIONS.md`). "
             "The CLI takes them as `--data-option K=V` and `--protocol-option K=V`, the library as keyword "
             "arguments of `odcore.data.load` and `odcore.data.split` (and the `data_options` / `protocol_options` "
             "of a `RunSpec`); the app's forms parse their fields with the same declarations.", ""]
    for _, title, decl in catalogue():
        lines.append(f"## {title}")
        lines.append("")
        if not len(decl):
            lines += ["No options of its own.", ""]
            continue
        lines += ["| option | default | accepts | meaning |", "|---|---|---|---|"]
        lines += [f"| `{p.name}` | {_cell(p.default)} | {_cell(p.constraint())} | {_cell(p.help)} |" for p in decl]
        lines.append("")
    return "\n".join(lines)
