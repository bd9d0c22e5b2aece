"""What to run: :class:`RunSpec`, a plain record that round-trips through JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from odcore.jsonio import dataclass_from_dict, jsonable

#: prefix of ``RunSpec.data`` for datasets kept in the run store (uploads, in-memory data)
STORED_PREFIX = "stored:"

#: the evaluation protocol a method's setting starts from (the Train page's default)
SETTING_PROTOCOL = {"pu": "pu", "one-class": "novelty", "limited-negatives": "drocc", "unsupervised": "unsupervised"}


#: the protocol a method's setting trains an analyst's table with (the Flagged rows page ranks every row anyway)
ANALYST_PROTOCOL = {"unsupervised": "all", "one-class": "all", "pu": "pu", "limited-negatives": "drocc"}


def analyst_methods(*, labelled: bool, has_meta: bool) -> tuple[dict[str, str], dict[str, str]]:
    """Every registered detector that can learn from an analyst's table: ``({method: protocol}, {method: why
    not})``. Unsupervised and one-class detectors fit all rows; positive-unlabelled ones (WALDO) need labels or
    rows the analyst marks as known normal (the table's dates, groups or a 0/1 column: ``has_meta``); those
    trained with limited negatives (DROCC-LF) need labelled outliers."""
    from odcore.models import registry

    fits, not_offered = {}, {}
    for m in registry.available():
        setting = registry.info(m).setting
        if setting == "pu" and not (labelled or has_meta):
            not_offered[m] = "needs known-normal rows: labels, or dates / groups to mark them by"
        elif setting == "limited-negatives" and not labelled:
            not_offered[m] = "needs a label column with some outliers"
        else:
            fits[m] = ANALYST_PROTOCOL.get(setting, "all")
    return fits, not_offered


def table_defaults(data: Any, method: str | None, protocol: str | None,
                   data_options: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """``(method, protocol, data options)`` of a request that may leave them out. A CSV / Parquet file is read as an
    analyst's table (``roles=auto`` unless a table option is given); without a method, a table gets the method
    declared for tables (``registry.recommended("tables")``) fitted and scored on every row (protocol ``all``);
    anything else needs its method (the refusal says how to list them)."""
    from odcore.data import table
    from odcore.errors import InputError
    from odcore.models import registry

    opts = dict(data_options)
    is_table = _table_file(data, opts)
    if is_table and not table.wants_table(opts):
        opts["roles"] = "auto"
    if method is None:
        if not is_table:
            raise InputError("give the detector with --method (python -m odcore methods lists them; a CSV or Parquet "
                             "table gets the table default without it)")
        return registry.recommended("tables"), protocol or "all", opts
    return method, protocol or "unsupervised", opts


def _table_file(data: Any, options: dict[str, Any]) -> bool:
    """True for a CSV or Parquet file (by its ``format`` option, else its content and name)."""
    if not isinstance(data, str):
        return False
    fmt = options.get("format")
    if fmt:
        return str(fmt) in ("csv", "parquet")
    from pathlib import Path

    p = Path(data)
    if not p.is_file():
        return False
    from odcore.data.loaders import detect_format
    from odcore.errors import InputError

    try:
        return detect_format(p) in ("csv", "parquet")
    except (InputError, OSError):
        return False


def default_protocol(method: str) -> str:
    """The protocol a run of ``method`` starts from: the one of its setting (``pu`` for WALDO, ``novelty`` for the
    one-class detectors, ``drocc`` for DROCC-LF's limited negatives, else ``unsupervised``)."""
    from odcore.models import registry

    return SETTING_PROTOCOL.get(registry.info(method).setting, "unsupervised")


@dataclass
class RunSpec:
    """What to run. ``data`` is a built-in name, a file path, ``"stored:<hash>"`` (a dataset
    saved in the run store) or, in code, an already-loaded :class:`odcore.data.record.Dataset`.
    """

    data: Any  # str | Dataset
    method: str
    protocol: str = "unsupervised"
    data_options: dict = field(default_factory=dict)  # passed to odcore.data.load
    protocol_options: dict = field(default_factory=dict)  # passed to odcore.data.split
    params: dict = field(default_factory=dict)  # detector parameters (others keep their defaults)
    seed: int = 0  # split seed and the detector's random_state
    monitor: bool = True  # record test-set metrics after every epoch (deep detectors)

    def data_ref(self) -> str:
        """A string naming the data: the name/path, or ``stored:<hash>`` for a Dataset object."""
        if isinstance(self.data, str):
            return self.data
        return STORED_PREFIX + self.data.content_hash()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; a Dataset object is replaced by its ``stored:<hash>`` reference."""
        d = asdict(self) if isinstance(self.data, str) else {
            **{k: getattr(self, k) for k in self.__dataclass_fields__ if k != "data"}}
        d["data"] = self.data_ref()
        return jsonable(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSpec:
        """The spec written by :meth:`to_dict` (refuses unknown fields)."""
        return dataclass_from_dict(cls, d, "run spec", list_valid=True)
