"""What to run: :class:`RunSpec`, a plain record of a request that round-trips through JSON, and
:func:`resolve`, which checks a request once and returns its :class:`ResolvedRun` (what jobs, estimates,
execution, grids and searches take); also the protocol a method and a dataset can run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from odcore.errors import InputError
from odcore.jsonio import dataclass_from_dict, jsonable
from odcore.runs.prepared import STORED_PREFIX  # noqa: F401 - ``RunSpec.data`` of datasets kept in the run store

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


# ---------------------------------------------------------------------------------- the nearest working protocol
@dataclass
class ProtocolChoice:
    """A protocol and options that split the data, and (when they differ from what was asked) why."""

    protocol: str
    options: dict[str, Any] = field(default_factory=dict)
    message: str | None = None


def _splits(ds, protocol: str, options: dict[str, Any]) -> str | None:
    """None when ``ds`` splits by ``protocol`` with ``options``, else the reason it does not."""
    from odcore.data import split

    try:
        split(ds, protocol, seed=0, **options)
        return None
    except InputError as err:
        return str(err)


def working_protocol(ds, method: str, protocol: str, options: dict[str, Any] | None = None) -> ProtocolChoice:
    """The nearest protocol and options to ``protocol`` / ``options`` that ``method`` can run on ``ds``.

    A protocol that needs outlier labels the data lack is kept with ``inlier_classes`` (the smallest class)
    when the data have classes (pu stays pu; a one-class protocol becomes one-vs-rest), else replaced by
    ``all``; a method that needs labelled inliers gets the ``pu`` protocol. The message names the option
    that was set and how to change it.
    """
    from odcore.data import protocol_defaults
    from odcore.models import registry

    opts = {k: v for k, v in dict(options or {}).items() if k in protocol_defaults(protocol)}
    needs_pos = bool(getattr(registry.get_class(method), "needs_positives", False))
    if needs_pos and protocol != "pu":
        opts, first = {}, f"{registry.info(method).title} needs labelled inliers, so the protocol is 'pu'"
        protocol = "pu"
    else:
        first = None
    why = _splits(ds, protocol, opts)
    if why is None:
        return ProtocolChoice(protocol, opts, f"{first}." if first else None)
    classes = getattr(ds, "classes", None)
    if classes is not None and len(set(map(str, classes))) > 1:
        import numpy as np

        inlier = np.unique(np.asarray(classes))[0].item()
        target = "pu" if protocol == "pu" else "one-vs-rest"
        new = {**({k: v for k, v in opts.items() if k in protocol_defaults(target)}), "inlier_classes": [inlier]}
        if target == "pu" and new.get("nu") is None:
            new["nu"] = 0.1
        if _splits(ds, target, new) is None:
            what = "" if target == protocol else f"the {protocol!r} protocol needs outlier labels, so "
            extra = " and nu=0.1, the outlier share of the mixture" if target == "pu" and "nu" not in opts else ""
            return ProtocolChoice(target, new, (f"{first}; " if first else "") + (
                f"{ds.name} has classes but no outlier labels: {what}the {target!r} protocol now treats class "
                f"{inlier} as the inliers (protocol option inlier_classes={inlier}{extra}); set inlier_classes to "
                "choose the normal class."))
    if not needs_pos and _splits(ds, "all", {}) is None:
        return ProtocolChoice("all", {}, (f"{first}; " if first else "") + (
            f"{ds.name} has no outlier labels to test with: using the 'all' protocol (fit and score every row, no "
            "metrics); load the data with a label column (label_column=) to evaluate."))
    raise InputError(why)


#: why a method's setting asks for its protocol, completing "<method> runs under '<protocol>' because ..."
SETTING_REASON = {
    "one-class": "as a one-class detector it learns from normal rows only",
    "pu": "as a positive-unlabelled detector it learns from labelled inliers and an unlabelled mixture",
    "limited-negatives": "it learns from normal rows and a few labelled anomalies",
    "unsupervised": "it needs no labels and fits the rows as they come",
}


def switch_note(ds, method: str, asked: str, choice: ProtocolChoice) -> str | None:
    """One line announcing, before a run starts, that ``method`` will run under ``choice.protocol`` rather than
    the protocol ``asked`` (the one chosen before the method changed), why, and the test set it will be measured
    on, or None when the protocol stays. Runs under different protocols are tested on different rows, so their
    metrics do not compare (the Compare page groups them apart)."""
    from odcore.data import split
    from odcore.models import registry

    if choice.protocol == asked:
        return None
    info = registry.info(method)
    opts = choice.options or {}
    who = f"class {_option_text(opts['inlier_classes'])} normal, the others anomalous; " if opts.get(
        "inlier_classes") else ""
    try:
        sp = split(ds, choice.protocol, seed=0, **opts)
        y = sp.y_test
        test = "no labels to test with" if y is None else (
            f"test set {int((y == 0).sum()):,} normal / {int((y == 1).sum()):,} anomalous")
    except InputError:
        test = "test set unknown"
    reason = SETTING_REASON.get(info.setting, f"its setting is {info.setting}")
    return (f"{info.title} will run under the '{choice.protocol}' protocol, not '{asked}': {reason} ({who}{test}). "
            f"Its metrics compare only with runs under the same protocol and test set.")


def _option_text(v: Any) -> str:
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


# ---------------------------------------------------------------------------------- the resolved request
@dataclass(frozen=True)
class ResolvedRun:
    """A run request validated once (by :func:`resolve`): everything the run needs, checked, and nothing that
    would need checking again. Jobs (``JobRegistry.submit``), the estimate (``odcore.runs.eta.estimate``),
    :func:`odcore.runs.execution.execute` and the grid and tune engines take only this record.

    - the data: ``data`` (a built-in name, a file path or ``stored:<hash>``), its checked ``data_options``,
      ``data_hash`` (the content hash of the rows the detector sees), ``source_hash`` (of the file's bytes:
      the key of its prepared table in the run store's cache; None for built-ins and stored data), ``table``
      (the prepared-table record, None when the data are not a prepared table), ``name``, ``rows``,
      ``features``, ``image_shape``;
    - the protocol and its checked ``protocol_options``, the ``seed``, ``monitor``;
    - the method, ``family``, ``params`` (every parameter the detector gets: the request's, validated, plus
      the seed, the image shape and the image-data defaults) and ``requested`` (the request's own, for the
      record);
    - what running it needs, from the detector's plan (:meth:`odcore.models.base.BaseDetector.plan`):
      ``device``, ``epochs`` (for progress), ``time_budget``, ``cancellable``.

    ``dataset`` and ``split`` hold the loaded data and the protocol's split in this process (not in the
    record), so that the estimate and a job started here do not load or split again.
    """

    data: str
    method: str
    protocol: str
    seed: int
    params: dict
    requested: dict
    data_options: dict
    protocol_options: dict
    data_hash: str
    name: str
    rows: int
    features: int
    family: str
    monitor: bool = True
    source_hash: str | None = None
    table: dict | None = None
    image_shape: tuple | None = None
    device: str | None = None
    epochs: int | None = None
    time_budget: float | None = None
    cancellable: bool = True
    dataset: Any = field(default=None, compare=False, repr=False)
    split: Any = field(default=None, compare=False, repr=False)

    _TRANSIENT = ("dataset", "split")

    def spec(self) -> RunSpec:
        """The request as a :class:`RunSpec` (what the run record keeps as ``spec``)."""
        return RunSpec(data=self.data, method=self.method, protocol=self.protocol,
                       data_options=dict(self.data_options), protocol_options=dict(self.protocol_options),
                       params=dict(self.requested), seed=self.seed, monitor=self.monitor)

    def data_ref(self) -> str:
        return self.data

    def title(self) -> str:
        return f"{self.method} on {self.name} ({self.protocol}, seed {self.seed})"

    def with_device(self, device: str) -> ResolvedRun:
        """The same run placed on ``device`` (a job's GPU slot)."""
        from dataclasses import replace

        return replace(self, device=device)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (without the in-process dataset and split)."""
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__ if k not in self._TRANSIENT})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResolvedRun:
        """The record written by :meth:`to_dict` (a job persisted before a restart, a grid cell on a Ray
        worker); trusted as resolved: it was checked when it was made."""
        d = dict(d)
        if d.get("image_shape") is not None:
            d["image_shape"] = tuple(d["image_shape"])
        from odcore.models import registry

        d["params"] = registry.from_record(d["method"], d["params"])  # JSON lists back into tuples
        d["requested"] = registry.from_record(d["method"], d.get("requested") or {})
        return dataclass_from_dict(cls, d, "resolved run", list_valid=True)


def resolve(spec: RunSpec | dict, *, store: Any = None, data_check: Any = None, split: bool = True,
            load: Any = None) -> ResolvedRun:
    """Validate a request once and return its :class:`ResolvedRun`.

    Checks the method (unknown: the valid ones listed), the protocol and its options (by their declarations),
    the data options (by their declarations) and loads the data (a file's table is prepared once per content
    and options and kept in ``store``'s cache: :mod:`odcore.runs.prepared`), validates the parameters against
    the method's declaration (``registry.resolve_params``: the one validation of a run's parameters), and,
    with ``split``, splits the data by the protocol (so that a protocol the data cannot run fails here).
    ``data_check`` (the app's data roots policy) is applied to the data before they are read; ``load(data,
    options) -> (Dataset, source hash)`` replaces :func:`odcore.runs.prepared.load` (a grid loads each file
    once for all its cells). Every problem raises :class:`~odcore.errors.InputError` before a job or a run
    record exists.
    """
    import odcore.data
    from odcore.data.protocols import check_options
    from odcore.data.record import Dataset
    from odcore.errors import InputError
    from odcore.models import registry
    from odcore.runs import prepared

    if isinstance(spec, dict):
        spec = RunSpec.from_dict(spec)
    info = registry.info(spec.method)  # unknown method -> InputError listing the valid ones
    if spec.protocol not in odcore.data.PROTOCOLS:
        raise InputError(f"unknown protocol {spec.protocol!r}; choose one of: {', '.join(odcore.data.PROTOCOLS)}")
    protocol_options = check_options(spec.protocol, dict(spec.protocol_options))
    data = spec.data
    if data_check is not None:
        data = data_check(data)
    source_hash = None
    if isinstance(data, Dataset):
        ds, ref, data_options = data, STORED_PREFIX + data.content_hash(), {}
        if store is not None:
            store.save_dataset(ds)  # so that "stored:<hash>" in the record can be reloaded
    elif not isinstance(data, str) or not data:
        raise InputError("data must be a built-in name, a file path or a Dataset")
    elif data.startswith(STORED_PREFIX):
        from odcore.runs.store import RunStore

        ds, ref, data_options = (store if store is not None else RunStore()).load_dataset(
            data[len(STORED_PREFIX):]), data, {}
    else:
        data_options = odcore.data.parse_options(data, dict(spec.data_options))
        ds, source_hash = load(data, data_options) if load is not None else prepared.load(data, data_options, store)
        ref = str(data)
    seed = int(spec.seed)
    params = registry.resolve_params(spec.method, dict(spec.params), seed=seed, image_shape=ds.image_shape,
                                     clean_rows=odcore.data.clean_training(spec.protocol, protocol_options))
    plan = registry.plan(spec.method, params)
    sp = None
    if split:  # the protocol on these data: one that they cannot run fails here
        sp = odcore.data.split(ds, spec.protocol, seed=seed, **protocol_options)
    return ResolvedRun(
        data=ref, method=spec.method, protocol=spec.protocol, seed=seed, params=params,
        requested={k: params[k] for k in spec.params},
        data_options=data_options, protocol_options=protocol_options, data_hash=ds.content_hash(), name=ds.name,
        rows=int(ds.n_rows), features=int(ds.n_features), family=info.family, monitor=bool(spec.monitor),
        source_hash=source_hash, table=ds.table, image_shape=tuple(ds.image_shape) if ds.image_shape else None,
        device=plan.device, epochs=plan.epochs, time_budget=plan.time_budget,
        cancellable=info.family != "classical", dataset=ds, split=sp)
