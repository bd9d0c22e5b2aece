"""WALDO paper figures beyond Table 1, scaled down for a 2-core CPU.

- ``fig2a``: distance of the latent codes from the prior mean, inliers vs outliers of the mixture (KDD99).
- ``fig2b``: F1 against nu with and without the advantage (KDD99): F1 of the decoder assignment
  (``labels_``, threshold-free) and F1 when the top-nu share of the ranking is flagged.
- ``disc``: discriminator on positives vs on all data (KDD99, nu = 0.1): AUROC / AUPRC.
- ``retail``: the synthetic retail panel, 2,047 labelled inliers, the rest unlabelled: average
  precision of the ranking by inlier-decoder error (paper about 0.46), recall of the assignment.
- ``gen``: generation on KDD99: generated attacks (inliers) and generated normal traffic (outliers)
  vs real ones (mean nearest-neighbour distance and RBF MMD^2), and a t-SNE PNG (paper Fig. 4).

Usage: ``PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python bench/waldo_extras.py fig2b [--seeds 2]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from waldo_table1 import pu_split  # noqa: E402

from odcore import metrics  # noqa: E402
from odcore.models.waldo import WALDO  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
KDD = dict(latent=32, sigma=1.0, lam=0.1, lr=1e-3, batch_size=3000, out_act="linear")


def _kdd_fit(nu: float, seed: int, epochs: int, **kw):
    Xp, Xu, yu, _ = pu_split("kdd", nu, seed, 5000, 5000)
    m = WALDO(**{**KDD, "epochs": epochs, "random_state": seed, **kw}).fit(Xu, X_pos=Xp)
    return m, Xp, Xu, yu


def fig2a(a) -> dict:
    m, Xp, Xu, yu = _kdd_fit(0.1, 0, a.epochs)
    d = m.prior_distance(Xu)
    out = {"inliers_mean": float(d[yu == 0].mean()), "inliers_std": float(d[yu == 0].std()),
           "outliers_mean": float(d[yu == 1].mean()), "outliers_std": float(d[yu == 1].std()),
           "auroc_of_distance": metrics.auroc(yu, d), "expected_norm_under_prior": float(np.sqrt(m.latent))}
    return out


def fig2b(a) -> list[dict]:
    recs = []
    for nu in (0.05, 0.1, 0.2, 0.5):
        for adv in (True, False):
            for seed in range(a.seeds):
                m, Xp, Xu, yu = _kdd_fit(nu, seed, a.epochs, advantage=adv)
                recs.append({"nu": nu, "advantage": adv, "seed": seed,
                             "f1_assign": metrics.prf_at(yu, m.labels_, 0.5)["f1"],
                             "assigned_share": float(m.labels_.mean()),
                             "f1_top_nu": metrics.f1_at_top(yu, m.decision_scores_),
                             "auprc": metrics.auprc(yu, m.decision_scores_)})
                print(json.dumps(recs[-1]), flush=True)
    return recs


def disc(a) -> list[dict]:
    recs = []
    for disc_on in ("positive", "all", "unlabelled"):
        for seed in range(a.seeds):
            m, Xp, Xu, yu = _kdd_fit(0.1, seed, a.epochs, disc_on=disc_on)
            recs.append({"disc_on": disc_on, "seed": seed, "auroc": metrics.auroc(yu, m.decision_scores_),
                         "auprc": metrics.auprc(yu, m.decision_scores_)})
            print(json.dumps(recs[-1]), flush=True)
    return recs


def retail(a) -> list[dict]:
    from odcore import data

    ds = data.load("retail-synthetic")
    recs = []
    for method in ("waldo", "cora", "wae-gan"):
        for seed in range(a.seeds):
            sp = data.split(ds, "pu", seed=seed, n_pos=2047)
            from odcore.models import registry

            m = registry.create(method, latent=4, hidden=(16,), epochs=a.epochs, lr=1e-3, batch_size=256,
                                random_state=seed).fit(sp.X_train, sp.y_train, X_pos=sp.X_pos)
            y = sp.y_train
            lab = m.labels_
            recs.append({"method": method, "seed": seed, "n_pos": len(sp.X_pos), "n_unl": len(y),
                         "n_out": int(y.sum()), "ap": metrics.auprc(y, m.decision_scores_),
                         "auroc": metrics.auroc(y, m.decision_scores_),
                         "assign_recall": float(lab[y == 1].mean()) if method != "wae-gan" else None,
                         "assign_share": float(lab.mean())})
            print(json.dumps(recs[-1]), flush=True)
    return recs


def _mmd2(A: np.ndarray, B: np.ndarray) -> float:
    """Unbiased-free (biased) RBF MMD^2 with the median-distance bandwidth of A u B."""
    Z = np.concatenate([A, B]).astype(np.float64)
    sq = (Z ** 2).sum(1)
    D = np.maximum(sq[:, None] + sq[None, :] - 2 * Z @ Z.T, 0)
    h = np.median(D[D > 0])
    K = np.exp(-D / h)
    n = len(A)
    return float(K[:n, :n].mean() + K[n:, n:].mean() - 2 * K[:n, n:].mean())


def _mean_nn(A: np.ndarray, B: np.ndarray) -> float:
    sa, sb = (A ** 2).sum(1), (B ** 2).sum(1)
    D = np.maximum(sa[:, None] + sb[None, :] - 2 * A @ B.T, 0)
    return float(np.sqrt(D.min(1)).mean())


def _scatter_png(path: Path, pts: np.ndarray, groups: np.ndarray, names: list[str], title: str) -> None:
    """A small scatter plot drawn with Pillow (no plotting backend needed)."""
    from PIL import Image, ImageDraw

    colours = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14)]
    W, H, pad = 640, 520, 40
    img = Image.new("RGB", (W, H), "white")
    dr = ImageDraw.Draw(img)
    lo, hi = pts.min(0), pts.max(0)
    xy = (pts - lo) / np.where(hi - lo > 0, hi - lo, 1)
    for g in np.unique(groups):
        for x, y in xy[groups == g]:
            cx, cy = pad + x * (W - 2 * pad), pad + (1 - y) * (H - 2 * pad - 40)
            dr.ellipse([cx - 2, cy - 2, cx + 2, cy + 2], fill=colours[g % 4])
    dr.text((pad, 10), title, fill="black")
    for g, name in enumerate(names):
        dr.rectangle([pad + 150 * g, H - 30, pad + 150 * g + 10, H - 20], fill=colours[g % 4])
        dr.text((pad + 150 * g + 15, H - 32), name, fill="black")
    img.save(path, optimize=True)


def gen(a) -> dict:
    m, Xp, Xu, yu = _kdd_fit(0.2, 0, a.epochs)
    rng = np.random.default_rng(0)
    n = 1000
    real_in = Xu[yu == 0][rng.permutation(int((yu == 0).sum()))[:n]]
    real_out = Xu[yu == 1][rng.permutation(int((yu == 1).sum()))[:n]]
    out: dict = {"assigned_outliers": int(m.labels_.sum()), "true_outliers": int(yu.sum())}
    g_in = m.generate(n, kind="inlier", random_state=1)
    try:
        g_out = m.generate(n, kind="outlier", random_state=2)
    except Exception as exc:  # no outlier cloud
        g_out = None
        out["outlier_generation"] = str(exc)
    out["gen_in_vs_real_in"] = {"mean_nn": _mean_nn(g_in, real_in), "mmd2": _mmd2(g_in, real_in)}
    out["gen_in_vs_real_out"] = {"mean_nn": _mean_nn(g_in, real_out), "mmd2": _mmd2(g_in, real_out)}
    out["real_in_vs_real_out"] = {"mmd2": _mmd2(real_in, real_out)}
    if g_out is not None:
        out["gen_out_vs_real_out"] = {"mean_nn": _mean_nn(g_out, real_out), "mmd2": _mmd2(g_out, real_out)}
        out["gen_out_vs_real_in"] = {"mean_nn": _mean_nn(g_out, real_in), "mmd2": _mmd2(g_out, real_in)}
    k = 500
    parts = [real_in[:k], real_out[:k], g_in[:k]] + ([g_out[:k]] if g_out is not None else [])
    names = ["real attacks", "real normal", "gen. attacks"] + (["gen. normal"] if g_out is not None else [])
    from openTSNE import TSNE

    emb = np.asarray(TSNE(n_jobs=1, random_state=0, verbose=False).fit(np.concatenate(parts).astype(np.float64)))
    groups = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])
    png = RESULTS / "waldo_kdd_tsne.png"
    _scatter_png(png, emb, groups, names, "t-SNE of real and generated KDD99 traffic (WALDO, nu=0.2)")
    out["png"] = str(png.relative_to(RESULTS.parent.parent))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["fig2a", "fig2b", "disc", "retail", "gen"])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    res = globals()[a.what](a)
    print(json.dumps(res, indent=1))
    print(f"wall seconds: {time.perf_counter() - t0:.1f}")
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
