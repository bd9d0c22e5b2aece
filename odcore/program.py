"""A fitted network's score as a small NumPy program: scoring without importing torch.

A detector whose score is a plain feed-forward network followed by a simple reduction (the
autoencoder's reconstruction error, Deep SVDD's distance to its centre, DROCC's negated logit)
writes, when it is saved, the steps of that computation into its ``config.json`` (``state.score_program``)
next to the weights it already saves (``weights.safetensors``). :func:`load` reads both with NumPy
only, and :meth:`Program.score` evaluates the steps in float32 batch by batch: the same numbers as
the detector's own ``decision_function`` within float32 rounding (a test checks each detector that
writes one), at none of the cost of importing torch and scikit-learn (about 2 s of a command's
start-up on this machine, more than the whole forward pass of a million rows; ``BENCHMARKS.md``,
"scoring at scale").

A program is a JSON record::

    {"version": 1,
     "steps": [{"op": "linear", "weight": "net.encoder.0.weight", "bias": "net.encoder.0.bias"},
               {"op": "leaky_relu", "slope": 0.2}, {"op": "batchnorm", "mean": ..., "var": ..., "eps": 1e-4}, ...],
     "score": {"op": "row_mse"}}

``steps`` run in order on the (standardised) rows ``x``; ``score`` reduces the result ``h`` to one
number per row:

- ``row_mse``: ``mean_j (h_j - x_j)^2`` (a reconstruction error);
- ``sq_dist``: ``sum_j (h_j - c_j)^2 + offset`` with ``c`` a saved tensor (Deep SVDD's Eq. 3/4 score);
- ``column``: ``scale * h_k`` (DROCC's score is the negated logit: ``scale`` -1).

This module is the core layer: NumPy and safetensors' NumPy reader only (no torch, no scikit-learn).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

VERSION = 1
#: activations the runtime evaluates (the names the exporter writes)
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")


class ProgramError(ValueError):
    """A program record that this runtime cannot evaluate (the caller falls back to the detector)."""


def _sigmoid(h: np.ndarray) -> np.ndarray:
    np.negative(h, out=h)
    np.exp(h, out=h)
    h += 1.0
    np.reciprocal(h, out=h)
    return h


class Program:
    """The steps of a program bound to their float32 arrays; ``score(X) -> float64 scores``."""

    def __init__(self, record: dict[str, Any], tensors: dict[str, np.ndarray]) -> None:
        if not isinstance(record, dict) or record.get("version") != VERSION:
            raise ProgramError(f"unsupported score program {record!r:.80}")

        def arr(name: Any, shape_of: str) -> np.ndarray:
            if name not in tensors:
                raise ProgramError(f"the weights lack {name!r} ({shape_of})")
            return np.ascontiguousarray(tensors[name], dtype=np.float32)

        self.steps: list[tuple[str, Any]] = []
        for s in record.get("steps") or []:
            op = s.get("op")
            if op == "linear":
                w = arr(s.get("weight"), "a linear layer's weight")
                b = arr(s["bias"], "a linear layer's bias") if s.get("bias") else None
                self.steps.append(("linear", (w, None if b is None else b[:, None])))
            elif op == "batchnorm":  # eval mode: (h - mean) / sqrt(var + eps) * weight + bias, one affine map
                scale = 1.0 / np.sqrt(arr(s.get("var"), "running variance") + float(s["eps"]))
                if s.get("weight"):
                    scale = scale * arr(s["weight"], "batch-norm weight")
                shift = -arr(s.get("mean"), "running mean") * scale
                if s.get("bias"):
                    shift = shift + arr(s["bias"], "batch-norm bias")
                self.steps.append(("affine", (scale.astype(np.float32)[:, None], shift.astype(np.float32)[:, None])))
            elif op in ACTIVATIONS:
                self.steps.append((op, float(s.get("slope", 0.0))))
            else:
                raise ProgramError(f"unknown step {op!r}")
        sc = record.get("score") or {}
        self.reduce = sc.get("op")
        if self.reduce == "row_mse":
            self.args: Any = None
        elif self.reduce == "sq_dist":
            self.args = (arr(sc.get("center"), "the centre")[:, None], float(sc.get("offset", 0.0)))
        elif self.reduce == "column":
            self.args = (int(sc.get("index", 0)), float(sc.get("scale", 1.0)))
        else:
            raise ProgramError(f"unknown score {self.reduce!r}")
        self._local = threading.local()
        first = next((a for op, a in self.steps if op == "linear"), None)
        self.n_features = None if first is None else int(first[0].shape[1])

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """The steps on ``x`` laid out features by rows (d, batch): each layer is ``W @ h + b``, written
        into buffers kept per thread and batch width (no allocation, no fresh pages, after the first batch).
        The result is one of those buffers: use it before the next call."""
        bufs = self._local.__dict__.setdefault(x.shape[1], {})

        def buf(key: Any, rows: int) -> np.ndarray:
            out = bufs.get(key)
            if out is None:
                out = bufs[key] = np.empty((rows, x.shape[1]), dtype=np.float32)
            return out

        h = x
        for k, (op, a) in enumerate(self.steps):
            if op == "linear":
                h = np.matmul(a[0], h, out=buf(k, a[0].shape[0]))
                if a[1] is not None:
                    h += a[1]
                continue
            if h is x:  # never change the caller's rows
                h = buf(k, x.shape[0])
                np.copyto(h, x)
            if op == "affine":
                h *= a[0]
                h += a[1]
            elif op == "relu":
                np.maximum(h, 0.0, out=h)
            elif op == "leaky_relu":  # slope in [0, 1): max(h, slope * h)
                np.maximum(h, np.multiply(h, np.float32(a), out=buf(("tmp", k), h.shape[0])), out=h)
            elif op == "tanh":
                np.tanh(h, out=h)
            elif op == "sigmoid":
                h = _sigmoid(h)
        return h

    def score(self, X: np.ndarray, *, batch_size: int = 8192) -> np.ndarray:
        """The score of each row of ``X`` (n, d) (float32 in, float64 out), ``batch_size`` rows at a time.

        The program runs on ``X.T`` (features by rows): fastest when ``X`` is column-major (Fortran
        order), as :meth:`odcore.data.scaling.Standardizer.transform_columns` gives with ``order="F"``
        (no row-major copy of the columns of an Arrow batch); any layout gives the same numbers."""
        XT = np.asarray(X, dtype=np.float32).T
        n = XT.shape[1]
        out = np.empty(n, dtype=np.float64)
        for i in range(0, n, batch_size):
            xb = XT[:, i:i + batch_size]
            h = self._forward(xb)
            j = slice(i, i + xb.shape[1])
            if self.reduce == "row_mse":
                d = np.subtract(h, xb, out=h if h is not xb else None)
                out[j] = np.einsum("ij,ij->j", d, d) / xb.shape[0]
            elif self.reduce == "sq_dist":
                d = np.subtract(h, self.args[0], out=h if h is not xb else None)
                out[j] = np.einsum("ij,ij->j", d, d) + self.args[1]
            else:
                out[j] = self.args[1] * h[self.args[0]]
        return out


def load(model_dir: str | Path) -> tuple[Program, float] | None:
    """``(program, threshold)`` of a saved detector that wrote a score program, else None (none written,
    or one this runtime cannot evaluate: the caller loads the detector itself)."""
    model_dir = Path(model_dir)
    try:
        config = json.loads((model_dir / "config.json").read_text())
        state = config["state"]
        record = state.get("score_program")
        if not record:
            return None
        from safetensors.numpy import load_file

        tensors = load_file(str(model_dir / "weights.safetensors"))
        prog = Program(record, tensors)
        threshold = float(state["threshold_"])
        if prog.n_features is not None and int(state.get("n_features_in_", prog.n_features)) != prog.n_features:
            return None
        return prog, threshold
    except (OSError, ValueError, KeyError, TypeError):  # damaged or foreign: the detector's own load says why
        return None
