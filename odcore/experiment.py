"""One experiment = data -> protocol split -> detector.fit -> scores -> metrics -> (run store).

:class:`RunSpec` says what to run; :func:`prepare` builds the dataset, split and unfitted
detector; :func:`execute` fits, scores the test part, computes :func:`odcore.metrics.summary`
and writes the run to a :class:`odcore.store.RunStore` when one is given. The job registry, the
command line and the benchmarks all go through these two functions, so a run means the same
thing everywhere.
"""

from __future__ import annotations

import math
import time
import traceback as tb
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from odcore.errors import FitCancelled, InputError

#: prefix of ``RunSpec.data`` for datasets kept in the run store (uploads, in-memory data)
STORED_PREFIX = "stored:"


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
        return _jsonable(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunSpec":
        names = set(cls.__dataclass_fields__)
        unknown = set(d) - names
        if unknown:
            raise InputError(f"unknown run spec field(s) {', '.join(sorted(unknown))}; valid: {', '.join(names)}")
        return cls(**{k: (dict(v) if isinstance(v, dict) else v) for k, v in d.items()})


def _jsonable(v: Any) -> Any:
    """Plain JSON types; NaN/inf become None so the files are standard JSON."""
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, np.bool_):
        return bool(v)
    return v


# ---------------------------------------------------------------------------------- prepare
def load_data(spec: RunSpec, store=None):
    """The spec's Dataset: the object itself, a stored dataset, or ``odcore.data.load``."""
    from odcore.data.record import Dataset

    if isinstance(spec.data, Dataset):
        return spec.data
    if not isinstance(spec.data, str) or not spec.data:
        raise InputError("data must be a built-in name, a file path or a Dataset")
    if spec.data.startswith(STORED_PREFIX):
        if store is None:
            from odcore.store import RunStore

            store = RunStore()
        return store.load_dataset(spec.data[len(STORED_PREFIX):])
    import odcore.data

    return odcore.data.load(spec.data, **spec.data_options)


def make_split(ds, protocol: str, seed: int, options: dict):
    """``odcore.data.split`` with unknown protocols/options turned into a clear InputError."""
    import odcore.data

    protocols = getattr(odcore.data, "PROTOCOLS", None)
    if protocols is not None and protocol not in protocols:
        raise InputError(f"unknown protocol {protocol!r}; choose one of: {', '.join(protocols)}")
    try:
        return odcore.data.split(ds, protocol, seed=seed, **options)
    except TypeError as exc:
        valid = ""
        defaults = getattr(odcore.data, "protocol_defaults", None)
        if defaults is not None:
            try:
                valid = "; valid: " + (", ".join(defaults(protocol)) or "none")
            except Exception:  # noqa: BLE001 - only for the message
                valid = ""
        raise InputError(f"protocol {protocol!r} does not take option(s) {', '.join(options)} "
                         f"({exc}){valid}") from None


def detector_params(method: str, params: dict, *, seed: int, image_shape=None) -> dict[str, Any]:
    """Parameters for ``registry.create``: the user's, plus ``random_state=seed`` and
    ``input_shape=image_shape`` where the method takes them and the user did not set them, and
    on image data the detector's ``image_defaults`` the user did not set.
    JSON lists are turned back into tuples where the default is a tuple."""
    from odcore.models import registry

    defaults = registry.defaults(method)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise InputError(f"unknown parameter(s) {', '.join(unknown)} for {method}; "
                         f"valid: {', '.join(defaults)}")
    out = {}
    for k, v in params.items():
        if isinstance(v, list) and (isinstance(defaults[k], tuple) or defaults[k] is None):
            v = tuple(v)
        out[k] = v
    if "random_state" in defaults and "random_state" not in out:
        out["random_state"] = int(seed)
    if "input_shape" in defaults and "input_shape" not in out and image_shape is not None:
        out["input_shape"] = tuple(int(s) for s in image_shape)
    if image_shape is not None:
        for k, v in registry.get_class(method).image_defaults.items():
            out.setdefault(k, v)
    return out


def prepare(spec: RunSpec, *, store=None):
    """Load the data, split it by the protocol and create the (unfitted) detector.

    Returns ``(Dataset, Split, detector)``. Raises :class:`InputError` for bad input.
    """
    from odcore.models import registry

    registry.info(spec.method)  # unknown method -> InputError listing the valid ones
    ds = load_data(spec, store)
    split = make_split(ds, spec.protocol, int(spec.seed), dict(spec.protocol_options))
    params = detector_params(spec.method, dict(spec.params), seed=int(spec.seed), image_shape=ds.image_shape)
    detector = registry.create(spec.method, **params)
    return ds, split, detector


# ---------------------------------------------------------------------------------- execute
def fit_detector(detector, split, *, method: str, monitor: bool = True, callbacks: Iterable = (), cancel=None):
    """``detector.fit`` with the split's parts: ``X_pos`` for PU methods, test-set monitoring."""
    kwargs: dict[str, Any] = {"callbacks": tuple(callbacks), "cancel": cancel}
    if split.X_pos is not None:
        kwargs["X_pos"] = split.X_pos
    if monitor and split.y_test is not None:
        kwargs["monitor"] = (split.X_test, split.y_test)
    # labels go to fit for methods that train on them, and otherwise only for monitoring
    y = split.y_train if monitor or getattr(detector, "uses_labels", False) else None
    detector.fit(split.X_train, y, **kwargs)
    if cancel is not None and cancel.is_set():  # classical fits do not look at cancel
        raise FitCancelled("cancelled after fitting, before scoring")
    return detector


def score_split(detector, split) -> dict[str, np.ndarray]:
    """Scores of the test part plus predictions and (where the detector has ``assign``) decoders."""
    scores = np.asarray(detector.decision_function(split.X_test), dtype=np.float64)
    out = {"row_id": np.asarray(split.test_index, dtype=np.int64), "score": scores,
           "pred": (scores > detector.threshold_).astype(np.int8)}
    if split.y_test is not None:
        out["label"] = np.asarray(split.y_test, dtype=np.int8)
    if callable(getattr(detector, "assign", None)):
        out["decoder"] = np.asarray(detector.assign(split.X_test), dtype=np.int8)
    return out


def compute_metrics(split, scores: np.ndarray) -> dict[str, Any]:
    from odcore import metrics

    if split.y_test is None:
        return {}
    y = np.asarray(split.y_test)
    if y.min() == y.max():  # one class only (e.g. protocol "all" on unlabelled data): nothing to measure
        return {"auroc": None, "auprc": None, "precision_at_10": None, "f1": None}
    return _jsonable(metrics.summary(y, scores))


def execute(spec: RunSpec, *, store=None, callbacks: Iterable = (), cancel=None, run_id: str | None = None,
            prepared=None) -> dict[str, Any]:
    """Fit, score the test part, compute metrics and (when ``store`` is given) write the run.

    Returns ``{"run_id", "metrics", "fit_seconds", "score_seconds"}`` (``run_id`` is None
    without a store). A cancelled fit raises :class:`FitCancelled` and any other failure
    re-raises; in both cases the run is kept in the store (status ``cancelled`` / ``failed``,
    with the history so far and, for failures, the error and traceback) and the exception
    carries ``run_id``. ``prepared`` may pass an earlier ``prepare(spec)`` result.
    """
    callbacks = tuple(callbacks)
    run = None
    if store is not None:
        run = store.begin(spec, run_id=run_id)
        run_id = run.id
    try:
        ds, split, detector = prepared if prepared is not None else prepare(spec, store=store)
        if run is not None:
            store.describe(run.id, spec, ds, split, detector)
            callbacks = (lambda rec: store.append_history(run.id, rec),) + callbacks
        _warm_imports(detector)
        t0 = time.perf_counter()
        fit_detector(detector, split, method=spec.method, monitor=spec.monitor, callbacks=callbacks,
                     cancel=cancel)
        fit_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        cols = score_split(detector, split)
        score_seconds = time.perf_counter() - t0
        result_metrics = compute_metrics(split, cols["score"])
        if run is not None:
            store.finish(run.id, detector=detector, scores=cols, metrics=result_metrics,
                         timings={"fit_seconds": fit_seconds, "score_seconds": score_seconds})
    except FitCancelled as exc:
        if run is not None:
            store.mark(run.id, "cancelled", error=str(exc))
        exc.run_id = run_id
        raise
    except BaseException as exc:  # KeyboardInterrupt included: the run is kept, then re-raised
        if run is not None:
            status = "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"
            message = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else _message(exc)
            store.mark(run.id, status, error=message, traceback=tb.format_exc())
        try:
            exc.run_id = run_id
        except AttributeError:
            pass
        raise
    return {"run_id": run_id, "metrics": result_metrics, "fit_seconds": fit_seconds,
            "score_seconds": score_seconds}


def _warm_imports(detector) -> None:
    """Import what the first fit would import lazily, so that ``fit_seconds`` measures fitting,
    not a one-off import: the first optimizer built in a process imports ``torch._dynamo``
    (2-6 s on the 2-core machine)."""
    from odcore.models.deep import DeepDetector

    if isinstance(detector, DeepDetector):
        import torch._dynamo  # noqa: F401
        import torch.optim  # noqa: F401
    import sklearn.metrics  # noqa: F401  (per-epoch monitoring and odcore.metrics)


def _message(exc: BaseException) -> str:
    """The one-line message shown to users: InputError text as is, others with their type."""
    if isinstance(exc, InputError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------------- grids (bench)
_DATA_CACHE: dict[str, Any] = {}
_DATA_CACHE_LOCK = __import__("threading").Lock()


def cached_dataset(data: str, data_options: dict | None = None):
    """``odcore.data.load`` memoised per process (a grid loads each dataset once per worker)."""
    import json

    key = json.dumps([data, data_options or {}], sort_keys=True, default=str)
    with _DATA_CACHE_LOCK:
        if key in _DATA_CACHE:
            return _DATA_CACHE[key]
    ds = load_data(RunSpec(data=data, method="", data_options=dict(data_options or {})))
    with _DATA_CACHE_LOCK:
        if len(_DATA_CACHE) >= 8:
            _DATA_CACHE.pop(next(iter(_DATA_CACHE)))
        _DATA_CACHE[key] = ds
    return ds


def options_for(data: str, data_options: dict | None) -> dict:
    """Loader options apply to files; built-ins (which refuse options they do not know) get none."""
    import odcore.data

    return {} if data in odcore.data.builtin_names() else dict(data_options or {})


def validate_grid(datasets: list[str], protocol: str, protocol_options: dict, data_options: dict | None = None) -> None:
    """Load every dataset and split it once, so bad files and unsupported protocols fail up front."""
    for d in datasets:
        try:
            ds = cached_dataset(d, options_for(d, data_options))
            make_split(ds, protocol, 0, dict(protocol_options))
        except InputError as exc:
            raise InputError(f"{d}: {exc}") from None


def grid_cells(datasets: list[str], methods: list[str], protocol: str, *, seeds, protocol_options: dict | None = None,
               params: dict[str, dict] | None = None, data_options: dict | None = None) -> list[dict[str, Any]]:
    """One plain-dict cell per (dataset, method, seed), in that nesting order (picklable for Ray)."""
    cells = []
    for d in datasets:
        for m in methods:
            for s in seeds:
                spec = RunSpec(data=d, method=m, protocol=protocol, data_options=options_for(d, data_options),
                               protocol_options=dict(protocol_options or {}), params=dict((params or {}).get(m, {})),
                               seed=int(s), monitor=False)
                cells.append({"dataset": d, "spec": spec.to_dict()})
    return cells


def run_cell(cell: dict[str, Any]) -> dict[str, Any]:
    """Run one grid cell; returns the benchmark record (the keys of ``odcore bench --json``)."""
    import dataclasses

    spec = RunSpec.from_dict(cell["spec"])
    ds = cached_dataset(spec.data, spec.data_options)
    res = execute(dataclasses.replace(spec, data=ds))
    m = res["metrics"]
    return {"dataset": cell["dataset"], "method": spec.method, "protocol": spec.protocol, "seed": spec.seed,
            "auroc": m.get("auroc"), "auprc": m.get("auprc"), "precision_at_10": m.get("precision_at_10"),
            "f1": m.get("f1"), "fit_seconds": res["fit_seconds"], "score_seconds": res["score_seconds"]}


RAY_MISSING = ("the ray engine needs Ray, an optional dependency: pip install -r requirements-ray.txt "
               "(or use --engine local)")


def _import_ray():
    try:
        import ray
    except ImportError:
        raise InputError(RAY_MISSING) from None
    return ray


def run_grid(cells: list[dict[str, Any]], *, engine: str = "local", address: str | None = None,
             progress=None) -> list[dict[str, Any]]:
    """Run every cell and return the records in cell order.

    ``engine="local"`` runs them one after the other in this process; ``engine="ray"`` runs
    each cell as a Ray task (one CPU each) on a local Ray instance, or on the cluster at
    ``address``. Data paths must be readable where the tasks run. ``progress(record)`` is
    called as each cell finishes.
    """
    if engine == "local":
        out = []
        for c in cells:
            rec = run_cell(c)
            out.append(rec)
            if progress is not None:
                progress(rec)
        return out
    if engine != "ray":
        raise InputError(f"unknown engine {engine!r}; choose local or ray")
    ray = _import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False,
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    try:
        task = ray.remote(num_cpus=1)(run_cell)
        refs = [task.remote(c) for c in cells]
        pending = list(refs)
        done: dict[Any, dict] = {}
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for r in ready:
                done[r] = ray.get(r)
                if progress is not None:
                    progress(done[r])
        return [done[r] for r in refs]
    finally:
        if started_here and hasattr(ray, "shutdown"):
            ray.shutdown()
