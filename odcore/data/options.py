"""Data options, declared once: what each reader and each built-in takes (type, range or choices, default, help).

``odcore.data.load(source, **options)``, the CLI's ``--data-option k=v``, the app's Data and Flagged pages
and ``odcore describe --options`` all read these declarations: text values are parsed by them, typed values
checked, unknown names refused with the valid ones. A file's options are its reader's
(:func:`odcore.data.loaders.reader_options`) plus ``format`` and, for the table formats, the table
preparation's (:data:`odcore.data.table.OPTIONS`);
a built-in's are its keyword-only arguments (their defaults give their kinds).

A new reader option: one :class:`~odcore.params.Param` in :data:`DECLARED` and its name in the reader's
:class:`~odcore.data.loaders.Format` line (``tests/test_options.py`` checks every reader's keywords against
them).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
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

def format_param(formats: tuple[str, ...]) -> Param:
    return Param("format", None, "the file's format (default: detected from its content and name)", kind="str",
                 choices=formats, optional=True, group="file")


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
