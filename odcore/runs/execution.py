"""One run = data -> protocol split -> detector.fit -> scores -> metrics -> (run store).

:func:`prepare` builds the dataset, split and unfitted detector of a :class:`~odcore.runs.spec.ResolvedRun`
(a request validated once by :func:`odcore.runs.spec.resolve`);
:func:`execute` fits, scores the test part, computes :func:`odcore.metrics.summary` and writes the
run to a :class:`~odcore.runs.store.RunStore` when one is given (with the split's standardiser, so
the run can score new files later). The job registry, the command line and the benchmarks all go
through these two functions, so a run means the same thing everywhere.
"""

from __future__ import annotations

import time
import traceback as tb
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from odcore.data.record import Dataset, Split
from odcore.errors import FitCancelled, InputError
from odcore.jsonio import jsonable
from odcore.runs.spec import STORED_PREFIX, ResolvedRun, RunSpec
from odcore.runs.store import RunStore

Callback = Callable[[dict], None]


# ---------------------------------------------------------------------------------- prepare
def load_data(run: ResolvedRun | RunSpec, store: RunStore | None = None) -> Dataset:
    """The run's Dataset: the one :func:`~odcore.runs.spec.resolve` loaded in this process, else the stored
    dataset or the file's prepared table (read from the store's cache: :mod:`odcore.runs.prepared`), which must
    still be the data the run was resolved on (same content hash). A :class:`RunSpec` (a request, or a stored
    run's record) gives the Dataset it names, loaded the same way."""
    from odcore.runs import prepared

    if isinstance(run, RunSpec):
        return prepared.spec_data(run, store)
    if run.dataset is not None:
        return run.dataset
    ds = prepared.spec_data(run.spec(), store)
    if ds.content_hash() != run.data_hash:
        raise InputError(f"the data behind {run.data} changed since the run was requested (hash {ds.content_hash()} "
                         f"!= {run.data_hash}); restore the original file or start the run again")
    return ds


def make_split(ds: Dataset, protocol: str, seed: int, options: dict) -> Split:
    """``odcore.data.split`` with unknown protocols/options turned into a clear InputError."""
    import odcore.data

    if protocol not in odcore.data.PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; choose one of: {', '.join(odcore.data.PROTOCOLS)}")
    try:
        return odcore.data.split(ds, protocol, seed=seed, **options)
    except TypeError as exc:
        valid = "; valid: " + (", ".join(odcore.data.protocol_defaults(protocol)) or "none")
        raise InputError(f"protocol {protocol!r} does not take option(s) {', '.join(options)} "
                         f"({exc}){valid}") from None


def prepare(run: ResolvedRun, *, store: RunStore | None = None) -> tuple[Dataset, Split, Any]:
    """The run's ``(Dataset, Split, detector)``: the data and split :func:`~odcore.runs.spec.resolve` made (or
    loaded and split again, in another process), and the unfitted detector built from the resolved parameters
    (``registry.build``: nothing is validated again)."""
    from odcore.models import registry

    ds = load_data(run, store)
    split = run.split if run.split is not None else make_split(ds, run.protocol, run.seed, dict(run.protocol_options))
    return ds, split, registry.build(run.method, run.params, device=run.device)


# ---------------------------------------------------------------------------------- execute
def fit_detector(detector: Any, split: Split, *, monitor: bool = True, callbacks: Iterable[Callback] = (),
                 cancel: Any = None) -> Any:
    """``detector.fit`` with the split's parts: ``X_pos`` for the detectors that learn from labelled inliers
    (PU methods; Deep SAD), test-set monitoring as ``monitor=(X_test, y_test)``, and the training labels only
    for detectors with ``uses_labels``."""
    kwargs: dict[str, Any] = {"callbacks": tuple(callbacks), "cancel": cancel}
    if split.X_pos is not None and (getattr(detector, "needs_positives", False)
                                    or getattr(detector, "uses_positives", False)):
        kwargs["X_pos"] = split.X_pos  # labelled inliers, for the detectors that learn from them
    if monitor and split.y_test is not None:
        kwargs["monitor"] = (split.X_test, split.y_test)
    y = split.y_train if getattr(detector, "uses_labels", False) else None
    detector.fit(split.X_train, y, **kwargs)
    if cancel is not None and cancel.is_set():  # classical fits do not look at cancel
        raise FitCancelled("cancelled after fitting, before scoring")
    return detector


def score_rows(model: Any, X: np.ndarray) -> dict[str, np.ndarray]:
    """``score`` (float64), ``pred`` (score > threshold) and, for detectors whose capabilities
    include ``assign`` (the two-decoder contest), ``decoder`` of rows ``X`` as the model sees them
    (standardised)."""
    scores = np.asarray(model.decision_function(X), dtype=np.float64)
    out = {"score": scores, "pred": (scores > model.threshold_).astype(np.int8)}
    if model.capabilities().assign:
        out["decoder"] = np.asarray(model.assign(X), dtype=np.int8)
    return out


def score_split(detector: Any, split: Split) -> dict[str, np.ndarray]:
    """The test part's ``row_id``, ``score``, ``label`` (when known), ``pred`` and ``decoder`` (see
    :func:`score_rows`)."""
    scored = score_rows(detector, split.X_test)
    out = {"row_id": np.asarray(split.test_index, dtype=np.int64), "score": scored["score"], "pred": scored["pred"]}
    if split.y_test is not None:
        out["label"] = np.asarray(split.y_test, dtype=np.int8)
    if "decoder" in scored:
        out["decoder"] = scored["decoder"]
    return out


def compute_metrics(split: Split, scores: np.ndarray) -> dict[str, Any]:
    """``odcore.metrics.summary`` of the test part (empty without labels, None with one class)."""
    from odcore import metrics

    if split.y_test is None:
        return {}
    y = np.asarray(split.y_test)
    if y.min() == y.max():  # one class only (e.g. protocol "all" on unlabelled data): nothing to measure
        return {"auroc": None, "auprc": None, "precision_at_10": None, "f1": None}
    return jsonable(metrics.summary(y, scores))


def run_details(run: ResolvedRun, ds: Dataset, split: Split, detector: Any) -> dict[str, Any]:
    """The config fields a prepared run adds to its record: dataset identity, full parameters,
    protocol, seeds, device, family, split sizes and the test set's composition (plain JSON types)."""
    dataset = {"name": ds.name, "source": ds.source, "ref": run.data, "options": run.data_options,
               "hash": run.data_hash, "source_hash": run.source_hash, "rows": ds.n_rows, "features": ds.n_features,
               "kind": ds.kind, "image_shape": list(ds.image_shape) if ds.image_shape else None,
               "feature_names": list(ds.feature_names), "label_column": run.data_options.get("label_column"),
               "meta_columns": [] if ds.meta is None else [str(c) for c in ds.meta.columns],
               "table": ds.table}  # the fitted table preparation that new data go through (odcore.data.table)
    device = run.device or "cpu"
    if device == "auto":
        from odcore.models.deep import resolve_device

        device = resolve_device("auto")
    return {"dataset": dataset, "params": detector.get_params(deep=False), "protocol": run.protocol,
            "protocol_options": run.protocol_options, "split_seed": run.seed, "seed": run.seed,
            "device": device, "family": run.family,
            "split": {"train": int(len(split.train_index)), "test": int(len(split.test_index)),
                      "pos": None if split.X_pos is None else int(len(split.X_pos)), **test_composition(split)}}


def test_composition(split: Split) -> dict[str, int | None]:
    """``{"test_normal", "test_anomalous"}``: how many rows of each kind the run is evaluated on (None without
    labels). Two runs' metrics compare only on the same data, protocol and test set (the Compare page groups by it)."""
    if split.y_test is None:
        return {"test_normal": None, "test_anomalous": None}
    y = np.asarray(split.y_test)
    return {"test_normal": int((y == 0).sum()), "test_anomalous": int((y == 1).sum())}


def execute(run: ResolvedRun, *, store: RunStore | None = None, callbacks: Iterable[Callback] = (),
            cancel: Any = None, run_id: str | None = None, tags: dict[str, Any] | None = None,
            owner: str | None = None) -> dict[str, Any]:
    """Fit, score the test part, compute metrics and (when ``store`` is given) write the run.

    ``run`` is a :class:`~odcore.runs.spec.ResolvedRun` (``odcore.runs.resolve(spec)``): its method,
    parameters, protocol and data were checked when it was resolved, before anything here, so a bad value
    never leaves a record in the store. Returns ``{"run_id", "metrics", "fit_seconds", "score_seconds"}``
    (``run_id`` is None without a store), plus ``"report"`` (also in the run's record) for detectors whose
    capabilities include ``report`` (``ensemble``, ``auto``: what they chose and why). A cancelled fit raises
    :class:`FitCancelled` and any other failure re-raises; in both cases the run is kept in the store
    (status ``cancelled`` / ``failed``, with the history so far and, for failures, the error and traceback)
    and the exception carries ``run_id``. ``tags`` are extra fields of the run's record (a parameter search
    records its id and the trial's values there); ``owner`` the session that asked for the run (the app's
    sessions see their own runs).
    """
    if not isinstance(run, ResolvedRun):
        raise TypeError(f"execute takes a ResolvedRun (odcore.runs.resolve(spec)), not {type(run).__name__}")
    callbacks = tuple(callbacks)
    rec = None
    if store is not None:
        if run.dataset is not None and run.data.startswith(STORED_PREFIX):
            store.save_dataset(run.dataset)  # so that "stored:<hash>" in the record can be reloaded
        rec = store.begin(run.method, run.spec().to_dict(), run_id=run_id, owner=owner)
        run_id = rec.id
        if tags:
            store.update(rec.id, **jsonable(tags))
    try:
        ds, split, detector = prepare(run, store=store)
        if rec is not None:
            store.update(rec.id, **run_details(run, ds, split, detector))
            store.save_standardizer(rec.id, split.scaler)
            callbacks = (lambda h: store.append_history(rec.id, h),) + callbacks
        _warm_imports(detector)
        t0 = time.perf_counter()
        fit_detector(detector, split, monitor=run.monitor, callbacks=callbacks, cancel=cancel)
        if split.marked is not None:  # the analyst's marks: every mark re-ranks the scores near it
            from odcore.runs.rerank import with_marks

            detector, marks_used = with_marks(detector, ds, split)
            if rec is not None:
                store.update(rec.id, marks_used=marks_used)
        fit_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        cols = score_split(detector, split)
        score_seconds = time.perf_counter() - t0
        result_metrics = compute_metrics(split, cols["score"])
        report = detector.report() if detector.capabilities().report else None  # what it chose and why
        if rec is not None:
            if report is not None:
                store.update(rec.id, report=jsonable(report))
            store.finish(rec.id, model=detector, scores=cols, metrics=result_metrics,
                         timings={"fit_seconds": fit_seconds, "score_seconds": score_seconds},
                         device=getattr(detector, "device_", None))
    except FitCancelled as exc:
        if rec is not None:
            store.mark(rec.id, "cancelled", error=str(exc))
        exc.run_id = run_id
        raise
    except BaseException as exc:  # KeyboardInterrupt included: the run is kept, then re-raised
        if rec is not None:
            status = "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"
            message = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else error_message(exc)
            store.mark(rec.id, status, error=message, traceback=tb.format_exc())
        try:
            exc.run_id = run_id
        except AttributeError:
            pass
        raise
    finally:
        if rec is not None:
            _track(store, rec.id)
    out = {"run_id": run_id, "metrics": result_metrics, "fit_seconds": fit_seconds, "score_seconds": score_seconds}
    if report is not None:
        out["report"] = report
    return out


def _track(store: RunStore, run_id: str) -> None:
    """Log the ended run to MLflow when tracking is configured (:mod:`odcore.runs.tracking`); a tracking
    server that fails must not fail the run, so its error is only logged."""
    from odcore.runs import tracking

    if not tracking.enabled():
        return
    try:
        tracking.log_run(store.get(run_id))
    except Exception as exc:  # noqa: BLE001 - MLflow raises many types; the run itself is stored
        import logging

        logging.getLogger("odcore").warning("MLflow tracking of run %s failed: %s", run_id, exc)


def _warm_imports(detector: Any) -> None:
    """Import what the first fit would import lazily, so that ``fit_seconds`` measures fitting,
    not a one-off import: the first optimizer built in a process imports ``torch._dynamo``
    (2-6 s on the 2-core machine)."""
    from odcore.models.deep import DeepDetector

    if isinstance(detector, DeepDetector):
        import torch._dynamo  # noqa: F401
        import torch.optim  # noqa: F401
    import sklearn.metrics  # noqa: F401  (per-epoch monitoring and odcore.metrics)


def error_message(exc: BaseException) -> str:
    """The one-line message shown to users: InputError text as is, others with their type."""
    if isinstance(exc, InputError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
