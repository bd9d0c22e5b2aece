"""One run = data -> protocol split -> detector.fit -> scores -> metrics -> (run store).

:func:`prepare` builds the dataset, split and unfitted detector of a :class:`~odcore.runs.spec.RunSpec`;
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
from odcore.runs.spec import STORED_PREFIX, RunSpec
from odcore.runs.store import RunStore

Callback = Callable[[dict], None]


# ---------------------------------------------------------------------------------- prepare
def load_data(spec: RunSpec, store: RunStore | None = None) -> Dataset:
    """The spec's Dataset: the object itself, a stored dataset, or ``odcore.data.load``."""
    if isinstance(spec.data, Dataset):
        return spec.data
    if not isinstance(spec.data, str) or not spec.data:
        raise InputError("data must be a built-in name, a file path or a Dataset")
    if spec.data.startswith(STORED_PREFIX):
        return (store if store is not None else RunStore()).load_dataset(spec.data[len(STORED_PREFIX):])
    import odcore.data

    return odcore.data.load(spec.data, **spec.data_options)


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


def detector_params(method: str, params: dict, *, seed: int, image_shape: tuple | None = None,
                    clean_rows: bool = False) -> dict[str, Any]:
    """Parameters for ``registry.create``: the user's (validated against the method's declaration),
    plus ``random_state=seed`` and ``input_shape=image_shape`` where the method takes them and the
    user did not set them, on image data the image-data defaults the user did not set, and when the
    protocol trains on normal rows only (``clean_rows``) the clean-rows defaults (see
    ``odcore.models.registry.resolve_params``)."""
    from odcore.models import registry

    return registry.resolve_params(method, dict(params), seed=int(seed), image_shape=image_shape,
                                   clean_rows=clean_rows)


def prepare(spec: RunSpec, *, store: RunStore | None = None) -> tuple[Dataset, Split, Any]:
    """Load the data, split it by the protocol and create the (unfitted) detector.

    Returns ``(Dataset, Split, detector)``. Raises :class:`InputError` for bad input.
    """
    import odcore.data
    from odcore.models import registry

    registry.info(spec.method)  # unknown method -> InputError listing the valid ones
    ds = load_data(spec, store)
    split = make_split(ds, spec.protocol, int(spec.seed), dict(spec.protocol_options))
    params = detector_params(spec.method, dict(spec.params), seed=int(spec.seed), image_shape=ds.image_shape,
                             clean_rows=odcore.data.clean_training(spec.protocol, dict(spec.protocol_options)))
    detector = registry.create(spec.method, **params)
    return ds, split, detector


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


def run_details(spec: RunSpec, ds: Dataset, split: Split, detector: Any) -> dict[str, Any]:
    """The config fields a prepared run adds to its record: dataset identity, full parameters,
    protocol, seeds, device, family and split sizes (plain JSON types)."""
    from odcore.models import registry

    dataset = {"name": ds.name, "source": ds.source, "ref": spec.data_ref(), "options": spec.data_options,
               "hash": ds.content_hash(), "rows": ds.n_rows, "features": ds.n_features, "kind": ds.kind,
               "image_shape": list(ds.image_shape) if ds.image_shape else None,
               "feature_names": list(ds.feature_names), "label_column": spec.data_options.get("label_column"),
               "meta_columns": [] if ds.meta is None else [str(c) for c in ds.meta.columns],
               "table": ds.table}  # the fitted table preparation that new data go through (odcore.data.table)
    params = detector.get_params(deep=False)
    device = params.get("device", "cpu")
    if device == "auto":
        from odcore.models.deep import resolve_device

        device = resolve_device("auto")
    return {"dataset": dataset, "params": params, "protocol": spec.protocol,
            "protocol_options": spec.protocol_options, "split_seed": int(spec.seed), "seed": int(spec.seed),
            "device": device, "family": registry.info(spec.method).family,
            "split": {"train": int(len(split.train_index)), "test": int(len(split.test_index)),
                      "pos": None if split.X_pos is None else int(len(split.X_pos))}}


def execute(spec: RunSpec, *, store: RunStore | None = None, callbacks: Iterable[Callback] = (), cancel: Any = None,
            run_id: str | None = None, prepared: tuple[Dataset, Split, Any] | None = None,
            tags: dict[str, Any] | None = None, owner: str | None = None) -> dict[str, Any]:
    """Fit, score the test part, compute metrics and (when ``store`` is given) write the run.

    Returns ``{"run_id", "metrics", "fit_seconds", "score_seconds"}`` (``run_id`` is None without a
    store), plus ``"report"`` (also in the run's record) for detectors whose capabilities include
    ``report`` (``ensemble``, ``auto``: what they chose and why). A cancelled fit raises
    :class:`FitCancelled` and any other failure re-raises; in both cases the run is kept in the
    store (status ``cancelled`` / ``failed``, with the history so far and, for failures, the error
    and traceback) and the exception carries ``run_id``. ``prepared`` may pass an earlier
    ``prepare(spec)`` result; ``tags`` are extra fields of the run's record (a parameter search
    records its id and the trial's values there); ``owner`` the session that asked for the run (the
    app's sessions see their own runs). The method and its parameters are validated before any
    record is created: a bad value raises :class:`InputError` and leaves nothing in the store.
    """
    callbacks = tuple(callbacks)
    run = None
    if store is not None:
        if prepared is None:
            from odcore.models import registry

            registry.info(spec.method)  # unknown method -> InputError, before a record exists
            detector_params(spec.method, dict(spec.params), seed=int(spec.seed))  # types, ranges, sizes
        if isinstance(spec.data, Dataset):
            store.save_dataset(spec.data)  # so that "stored:<hash>" in the record can be reloaded
        run = store.begin(spec.method, spec.to_dict(), run_id=run_id, owner=owner)
        run_id = run.id
        if tags:
            store.update(run.id, **jsonable(tags))
    try:
        ds, split, detector = prepared if prepared is not None else prepare(spec, store=store)
        if run is not None:
            store.update(run.id, **run_details(spec, ds, split, detector))
            store.save_standardizer(run.id, split.scaler)
            callbacks = (lambda rec: store.append_history(run.id, rec),) + callbacks
        _warm_imports(detector)
        t0 = time.perf_counter()
        fit_detector(detector, split, monitor=spec.monitor, callbacks=callbacks, cancel=cancel)
        if split.marked is not None:  # the analyst's marks: what the fit did not learn from re-ranks its scores
            from odcore.runs.rerank import with_marks

            detector, marks_used = with_marks(detector, ds, split)
            if run is not None:
                store.update(run.id, marks_used=marks_used)
        fit_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        cols = score_split(detector, split)
        score_seconds = time.perf_counter() - t0
        result_metrics = compute_metrics(split, cols["score"])
        report = detector.report() if detector.capabilities().report else None  # what it chose and why
        if run is not None:
            if report is not None:
                store.update(run.id, report=jsonable(report))
            store.finish(run.id, model=detector, scores=cols, metrics=result_metrics,
                         timings={"fit_seconds": fit_seconds, "score_seconds": score_seconds},
                         device=getattr(detector, "device_", None))
    except FitCancelled as exc:
        if run is not None:
            store.mark(run.id, "cancelled", error=str(exc))
        exc.run_id = run_id
        raise
    except BaseException as exc:  # KeyboardInterrupt included: the run is kept, then re-raised
        if run is not None:
            status = "cancelled" if isinstance(exc, KeyboardInterrupt) else "failed"
            message = "interrupted (Ctrl-C)" if isinstance(exc, KeyboardInterrupt) else error_message(exc)
            store.mark(run.id, status, error=message, traceback=tb.format_exc())
        try:
            exc.run_id = run_id
        except AttributeError:
            pass
        raise
    finally:
        if run is not None:
            _track(store, run.id)
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
