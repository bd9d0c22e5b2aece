"""OC-NN on the synthetic Gaussian set and MNIST t10k (digit 4 normal, 265 others anomalous).

Both follow the paper's transductive setting: fit on the whole (contaminated) set and score the
same rows. Metrics: AUPRC, AUROC, precision at 10 (ranking by ``r - y_hat``; the paper's AUROC
was computed on the signs of the scores, so ranking numbers are not directly comparable). The
decision scores ``y_hat - r`` of normal vs anomalous rows are drawn as overlaid histograms
(paper Figs. 3-4) with Pillow (matplotlib and kaleido are not installed).

Data, seeds and settings are those of the OC-NN figure recipes (``odcore.recipes.ocnn_figures``); this
script adds the activation sweep of the table (linear, sigmoid, ReLU, and the radial extension) and the
autoencoder-feature variant. The recipes' own figures run with ``python -m bench.figures ocnn-fig3 ocnn-fig4``.

Usage::

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python bench/ocnn_bench.py --out bench/results
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.common import save_json


def histogram_png(path: Path, normal: np.ndarray, anomalous: np.ndarray, title: str, bins: int = 40) -> None:
    """Overlaid histograms (normal blue, anomalous red, densities) written as a PNG with Pillow."""
    from PIL import Image, ImageDraw

    W, H, L, R, T, B = 640, 400, 60, 20, 40, 50
    lo = float(min(normal.min(), anomalous.min()))
    hi = float(max(normal.max(), anomalous.max()))
    hi = hi if hi > lo else lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    hn = np.histogram(normal, edges)[0] / max(len(normal), 1)
    ha = np.histogram(anomalous, edges)[0] / max(len(anomalous), 1)
    top = max(hn.max(), ha.max(), 1e-9)
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img, "RGBA")
    pw, ph = W - L - R, H - T - B

    def x_of(v: float) -> float:
        return L + (v - lo) / (hi - lo) * pw

    for h, col in ((hn, (31, 119, 180, 140)), (ha, (214, 39, 40, 140))):
        for i, c in enumerate(h):
            if c > 0:
                d.rectangle([x_of(edges[i]), T + ph * (1 - c / top), x_of(edges[i + 1]), T + ph], fill=col)
    d.line([L, T + ph, L + pw, T + ph], fill="black")
    d.line([L, T, L, T + ph], fill="black")
    if lo < 0 < hi:  # the decision boundary S = 0
        d.line([x_of(0.0), T, x_of(0.0), T + ph], fill=(0, 0, 0, 200), width=2)
    for v in np.linspace(lo, hi, 5):
        d.text((x_of(v) - 15, T + ph + 5), f"{v:.3g}", fill="black")
    d.text((5, T - 5), f"{top:.2f}", fill="black")
    d.text((L, 10), title, fill="black")
    d.text((L + pw - 260, T + 5), "blue: normal   red: anomalous   line: S=0", fill="black")
    d.text((L + pw // 2 - 90, H - 20), "decision score S = y_hat - r", fill="black")
    img.save(path)


def evaluate(name: str, X: np.ndarray, y: np.ndarray, params: dict, out: Path | None) -> dict:
    from odcore import metrics
    from odcore.models.ocnn import OCNN

    m = OCNN(device="cpu", **params)
    c0 = time.process_time()
    m.fit(X)
    cpu = time.process_time() - c0
    s = m.decision_function(X)
    row = {"data": name, **{k: v for k, v in params.items() if k in ("activation", "pretrain")},
           "auprc": metrics.auprc(y, s), "auroc": metrics.auroc(y, s), "p_at_10": metrics.precision_at_k(y, s, 10),
           "sign_auroc": metrics.auroc(y, (s > 0).astype(float)),
           "share_anomalies_below_r": float(np.mean(s[y == 1] > 0)),
           "share_normals_below_r": float(np.mean(s[y == 0] > 0)),
           "cpu_seconds_per_epoch": cpu / max(len(m.history_), 1), "r": m.r_}
    if out is not None:
        fn = f"ocnn_{name}_{params.get('activation')}_{params.get('pretrain', 'none')}.png"
        histogram_png(out / fn, -s[y == 0], -s[y == 1],
                      f"OC-NN {name}, g={params.get('activation')}, pretrain={params.get('pretrain', 'none')}")
        row["png"] = fn
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    """The rows of the OC-NN table: each activation with the settings, data and seeds of the OC-NN figure recipes
    (``odcore.recipes.ocnn_figures`` at their full budget), plus the autoencoder-feature variants."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="folder for the histogram PNGs")
    ap.add_argument("--budget", default="full", choices=("teaching", "full"), help="the recipes' budget")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    import torch

    from odcore import recipes
    from odcore.recipes import folds, framework

    torch.set_num_threads(1)
    out = Path(a.out) if a.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    rows = []
    for training, name in (("ocnn-gaussian", "gaussian"), ("ocnn-mnist", "mnist4")):
        t = recipes.trainings()[training]
        s = framework.resolve(t, a.budget)
        base = dict(next(iter(s["members"].values()))["params"])  # the recipe's settings, activation aside
        base.pop("activation")
        base = {k: v for k, v in base.items() if k not in ("pretrain", "pretrain_epochs", "pretrain_latent",
                                                           "input_shape", "device")}
        for seed in s["seeds"]:
            fold = folds.build(t.fold, s["options"], seed)
            X, y = fold.X_test, fold.y_test
            variants = [dict(activation=act) for act in ("linear", "sigmoid", "relu", "radial")]
            shape = {"input_shape": tuple(fold.image_shape)} if fold.image_shape else {}
            variants.append(dict(activation="sigmoid", pretrain="autoencoder", pretrain_epochs=30, **shape))
            for v in variants:
                rows.append(evaluate(name, X, y, {**base, **v, "random_state": seed}, out if seed == s["seeds"][0]
                                     else None))
    save_json(rows, a.json)


if __name__ == "__main__":
    main()
