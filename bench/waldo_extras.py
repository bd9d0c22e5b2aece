"""WALDO paper figures beyond Table 1, scaled down for a 2-core CPU.

- ``fig2a``: distance of the latent codes from the prior mean, inliers vs outliers of the mixture (KDD99).
- ``fig2b``: F1 against nu with and without the advantage (KDD99): F1 of the decoder assignment
  (``labels_``, threshold-free) and F1 when the top-nu share of the ranking is flagged.
- ``disc``: discriminator on positives vs on all data (KDD99, nu = 0.1): AUROC / AUPRC.
- ``retail``: the synthetic retail panel, 2,047 labelled inliers, the rest unlabelled: average
  precision of the ranking by inlier-decoder error (paper about 0.46), recall of the assignment.
- ``diag``: the small-nu gap on KDD99 (issue 3): per epoch, the AUPRC of every ranking the model
  has (inlier-decoder error, contrast ``l_ui - l_uo``, ratio ``l_ui / l_uo``, prior distance), the
  inlier-decoder error of inliers and outliers, the outlier share and the advantage; at the end,
  which attack types outrank the outliers and how rare they are in X_pos. Labels are used only
  to *measure*; the label-free stopping rules are evaluated on the same curves.
- ``fig5``: average precision per epoch for WALDO vs CoRa + advantage vs WAE-GAN over several seeds
  (monitoring labels on the mixture), mean +- std band, PNG.
- ``fig5ckpt``: the same figure from Table-1 runs made with ``--checkpoint-every`` (no training).
- ``gen``: generation on KDD99: generated attacks (inliers) and generated normal traffic (outliers)
  vs real ones (mean nearest-neighbour distance and RBF MMD^2), and a t-SNE PNG (paper Fig. 4).

Usage: ``PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python bench/waldo_extras.py fig2b [--budget full]``

``fig2a``, ``fig2b``, ``fig5`` and ``gen`` are figures the app shows: they run the figure recipes of
``odcore.recipes.waldo_figures`` (the same settings, ``python -m bench.figures``); their own code below
runs only with ``--protocol authors``.

``--protocol authors`` makes ``fig2a``, ``fig2b`` and ``disc`` use the authors' KDD split
(``waldo_table1.authors_split``), ``--lr`` and ``--seed0`` (their script: lr 1e-4, 401 epochs,
seeds 11-14) instead of the 5k + 5k subsample at lr 1e-3.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import waldo_table1  # noqa: E402
from waldo_table1 import authors_split, pu_split  # noqa: E402

from bench.common import save_json  # noqa: E402
from odcore import metrics  # noqa: E402
from odcore.models.waldo import WAEGAN, WALDO, CoRa  # noqa: E402
from odcore.recipes.waldo_figures import KDD_NET  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
#: the paper's KDD network, declared once in the figure recipes (odcore.recipes.waldo_figures)
KDD = dict(**KDD_NET, lam=0.1, lr=1e-3, batch_size=3000)
#: the subcommands that are figures the app shows: they run the figure recipe (``--budget``, default full);
#: only ``--protocol authors`` (the authors' KDD split of round 3) keeps its own code path below
RECIPE_OF = {"fig2a": "waldo-fig2a", "fig2b": "waldo-fig2b", "fig5": "waldo-fig5", "gen": "waldo-fig4"}
_SETUP = {"protocol": "subsample", "lr": None, "seed0": 0}  # set from the command line in main()


def _kdd_fit(nu: float, seed: int, epochs: int, **kw):
    """WALDO on the KDD split of the chosen protocol; ``seed`` counts from ``--seed0``."""
    seed = seed + _SETUP["seed0"]
    if _SETUP["protocol"] == "authors":
        Xp, Xu, yu, _ = authors_split(nu, seed)
    else:
        Xp, Xu, yu, _ = pu_split("kdd", nu, seed, 5000, 5000)
    lr = {"lr": _SETUP["lr"]} if _SETUP["lr"] else {}
    m = WALDO(**{**KDD, **lr, "epochs": epochs, "random_state": seed, **kw}).fit(Xu, X_pos=Xp)
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

            m = registry.create(method, latent=4, hidden=(16,), epochs=a.epochs, lr=a.lr, batch_size=256,
                                random_state=seed).fit(sp.X_train, sp.y_train, X_pos=sp.X_pos)
            y = sp.y_train
            lab = m.labels_
            lat = None
            if a.latent:  # the same fit ranked by score="latent" (Mahalanobis from the encoded positives)
                m.set_params(anomaly_score="latent")
                lat = metrics.auprc(y, m.decision_function(sp.X_train))
            recs.append({"method": method, "seed": seed, "n_pos": len(sp.X_pos), "n_unl": len(y),
                         "n_out": int(y.sum()), "ap": metrics.auprc(y, m.decision_scores_),
                         "auroc": metrics.auroc(y, m.decision_scores_),
                         "assign_recall": float(lab[y == 1].mean()) if method != "wae-gan" else None,
                         "assign_share": float(lab.mean()), "ap_latent": lat})
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


def _kdd_classes() -> np.ndarray:
    from odcore.data import shared_data_dir
    from odcore.data.sources import load_kdd99

    ds = load_kdd99(shared_data_dir() / "kddcup99" / "kddcup.data_10_percent.gz", positive="normal.")
    return np.asarray(ds.classes)


def _rankings(m, Xu: np.ndarray, Xp: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every ranking the fitted (or training) model offers on the mixture, higher = more outlying.

    With ``Xp``: also the distance of each code from the cloud of encoded positives (Euclidean from
    its mean, and Mahalanobis under the Gaussian fitted to it, as ``generate`` fits it).
    """
    import torch

    def fn(xb):
        z = m.nets_["encoder"](xb)
        li = ((m.nets_["decoder_in"](z) - xb) ** 2).mean(dim=1)
        lo = ((m.nets_["decoder_out"](z) - xb) ** 2).mean(dim=1) if "decoder_out" in m.nets_ else li
        return torch.cat([torch.stack([li, lo], dim=1), z], dim=1)

    def run(X):
        with torch.no_grad():
            return fn(torch.from_numpy(np.ascontiguousarray(X, np.float32)).to(m.device_)).cpu().numpy()

    m._train_mode(False)
    out = run(Xu).astype(np.float64)
    zp = run(Xp)[:, 2:].astype(np.float64) if Xp is not None else None
    m._train_mode(True)
    li, lo, z = out[:, 0], out[:, 1], out[:, 2:]
    res = {"l_ui": li, "l_uo": lo, "contrast": li - lo, "log_ratio": np.log(li + 1e-12) - np.log(lo + 1e-12),
           "prior_dist": np.linalg.norm(z, axis=1)}
    if zp is not None:
        mu = zp.mean(0)
        cov = np.cov(zp, rowvar=False) + 1e-3 * np.eye(z.shape[1]) * (np.trace(np.cov(zp, rowvar=False)) / z.shape[1])
        d = z - mu
        res["pos_center_dist"] = np.linalg.norm(d, axis=1)
        res["pos_mahalanobis"] = np.einsum("ij,ij->i", d @ np.linalg.inv(cov), d)
    return res


def stop_epoch(hist: list[dict], key: str, window: int = 5, tol: float = 0.01, min_epoch: int = 10) -> int:
    """Label-free stopping rule: the first epoch (1-based) from ``min_epoch`` on where the training
    signal ``key`` moved by less than ``tol`` (absolute) over the last ``window`` epochs; the last
    epoch when it never settles. Uses only the training history (no labels)."""
    vals = [h[key] for h in hist]
    for e in range(max(min_epoch, window), len(vals) + 1):
        seg = vals[e - window:e]
        if max(seg) - min(seg) < tol:
            return e
    return len(vals)


def stop_epoch_relative(hist: list[dict], key: str, window: int = 10, rel: float = 0.02) -> int:
    """Label-free rule: the first epoch (1-based) where ``key`` moved by less than ``rel`` of its
    current value over the last ``window`` epochs; the last epoch when it never settles."""
    vals = [h[key] for h in hist]
    for e in range(window, len(vals) + 1):
        seg = vals[e - window:e]
        if max(seg) - min(seg) < rel * abs(seg[-1]):
            return e
    return len(vals)


def diag(a) -> list[dict]:
    """Per-epoch curves of all rankings (KDD99, WALDO with the Table-1 settings unless overridden)."""
    classes = _kdd_classes() if a.classes else None
    recs = []
    for nu in a.nus:
        for seed in range(a.seed0, a.seed0 + a.seeds):
            Xp, Xu, yu, _ = pu_split("kdd", nu, seed, a.n_pos, a.n_unl)
            split = dict(waldo_table1._last_split)
            m = WALDO(**{**KDD, "lr": a.lr, "epochs": a.epochs, "random_state": seed})
            curve: list[dict] = []

            def cb(rec, m=m, Xu=Xu, Xp=Xp, yu=yu, curve=curve):
                r = _rankings(m, Xu, Xp)
                row = {"epoch": rec["epoch"], "outlier_share": rec.get("outlier_share"),
                       "advantage": rec.get("advantage"), "loss_rec_u": rec.get("loss_rec_u"),
                       "loss_rec_p": rec.get("loss_rec_p"), "loss_disc": rec.get("loss_disc"),
                       "l_ui_in": float(r["l_ui"][yu == 0].mean()), "l_ui_out": float(r["l_ui"][yu == 1].mean()),
                       "l_ui_out_median": float(np.median(r["l_ui"][yu == 1])),
                       "l_ui_in_p95": float(np.quantile(r["l_ui"][yu == 0], 0.95))}
                for k in ("l_ui", "contrast", "log_ratio", "prior_dist", "pos_center_dist", "pos_mahalanobis"):
                    row[f"auprc_{k}"] = metrics.auprc(yu, r[k])
                    row[f"auroc_{k}"] = metrics.auroc(yu, r[k])
                curve.append(row)

            c0 = time.process_time()
            m.fit(Xu, X_pos=Xp, callbacks=[cb])
            rec = {"nu": nu, "seed": seed, "lr": a.lr, "epochs": a.epochs, "cpu_s": time.process_time() - c0,
                   "curve": curve}
            for key in ("outlier_share", "advantage"):
                tol = 0.01 if key == "outlier_share" else 0.1 * abs(curve[-1]["advantage"] or 1e-3)
                e = stop_epoch(curve, key, tol=tol)
                rec[f"stop_{key}"] = {"epoch": e, "auprc_l_ui": curve[e - 1]["auprc_l_ui"]}
            if classes is not None:  # which inliers outrank the outliers at the end
                s = m.decision_scores_
                n_out = int(yu.sum())
                top = np.argsort(-s)[:n_out]
                cu = classes[split["unl"]]
                cp = classes[split["pos"]]
                fp = cu[top][yu[top] == 0]
                names, counts = np.unique(fp, return_counts=True)
                order = np.argsort(-counts)
                rec["false_positives_in_top_nu"] = [
                    {"class": str(names[i]), "count": int(counts[i]),
                     "share_in_mixture_inliers": float((cu[yu == 0] == names[i]).mean()),
                     "count_in_X_pos": int((cp == names[i]).sum()),
                     "recall_of_class_in_top": float(counts[i] / max((cu == names[i]).sum(), 1))}
                    for i in order[:8]]
                rec["n_false_positives_in_top_nu"] = int(len(fp))
            last = curve[-1]
            print(json.dumps({k: v for k, v in rec.items() if k != "curve"}), flush=True)
            print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in last.items()}), flush=True)
            recs.append(rec)
    return recs


def diag_summary(recs: list[dict]) -> str:
    """Markdown tables of diag records: AUPRC of each ranking at a few epochs (mean +- std over seeds),
    the outliers' inlier-decoder error against the inliers', and the label-free stopping rules."""
    lines = []
    keys = [k[6:] for k in recs[0]["curve"][0] if k.startswith("auprc_")]
    for nu in sorted({r["nu"] for r in recs}):
        rs = [r for r in recs if r["nu"] == nu]
        n_ep = min(len(r["curve"]) for r in rs)
        eps = sorted({e for e in (10, 25, 50, 100, 200, 300, 400, 500, 800) if e <= n_ep} | {n_ep})
        lines += [f"nu={nu}, lr={rs[0]['lr']}, {len(rs)} seeds: AUPRC in % per ranking (mean ± std) by epoch", "",
                  "| epoch | " + " | ".join(keys) + " | l_ui outliers / inliers | outlier share |",
                  "|---|" + "---|" * (len(keys) + 2)]
        for e in eps:
            cells = []
            for k in keys:
                v = 100 * np.array([r["curve"][e - 1][f"auprc_{k}"] for r in rs])
                cells.append(f"{v.mean():.1f} ± {v.std():.1f}")
            ratio = np.mean([r["curve"][e - 1]["l_ui_out"] / r["curve"][e - 1]["l_ui_in"] for r in rs])
            share = np.mean([r["curve"][e - 1]["outlier_share"] for r in rs])
            lines.append(f"| {e} | " + " | ".join(cells) + f" | {ratio:.1f} | {share:.3f} |")
        best = 100 * np.array([max(c["auprc_l_ui"] for c in r["curve"]) for r in rs])
        lines += ["", "best epoch in hindsight (uses labels, NOT a method): "
                  f"l_ui AUPRC {best.mean():.1f} ± {best.std():.1f}"]
        for key in ("outlier_share", "advantage"):
            st = [r[f"stop_{key}"] for r in rs]
            v = 100 * np.array([s["auprc_l_ui"] for s in st])
            lines.append(f"stop when {key} settles: epochs {[s['epoch'] for s in st]}, AUPRC "
                         f"{v.mean():.1f} ± {v.std():.1f}")
        # a third rule, fixed before the long runs were read: the positives' reconstruction loss
        # changed by less than 2% (relative) over the last 10 epochs
        ep = [stop_epoch_relative(r["curve"], "loss_rec_p") for r in rs]
        for k in ("l_ui", "pos_mahalanobis"):
            if f"auprc_{k}" in rs[0]["curve"][0]:
                v = 100 * np.array([r["curve"][e - 1][f"auprc_{k}"] for r, e in zip(rs, ep)])
                lines.append(f"stop when loss_rec_p settles (2% over 10 epochs): epochs {ep}, AUPRC {k} "
                             f"{v.mean():.1f} ± {v.std():.1f}")
        lines.append("")
    return "\n".join(lines)


FIG5_METHODS = {"WALDO": WALDO, "CoRa + advantage": CoRa, "WAE-GAN": WAEGAN}


def fig5(a) -> list[dict]:
    """AP per epoch on the mixture (monitoring labels, evaluation only), KDD99, one nu."""
    recs = []
    only = a.methods.split(",") if a.methods else list(FIG5_METHODS)
    for name in only:
        cls = FIG5_METHODS[name]
        for seed in range(a.seeds):
            Xp, Xu, yu, _ = pu_split("kdd", a.nus[0], seed, 5000, 5000)
            c0 = time.process_time()
            kw = {**KDD, "lr": a.lr, "epochs": a.epochs, "random_state": seed}
            if cls is CoRa:
                kw.pop("lam")  # CoRa = WALDO without the Wasserstein term (its own default lam=0)
            m = cls(**kw)
            m.fit(Xu, X_pos=Xp, monitor=(Xu, yu))
            ap = [h["val_auprc"] for h in m.history_]
            recs.append({"method": name, "seed": seed, "nu": a.nus[0], "lr": a.lr, "ap": ap,
                         "cpu_s": time.process_time() - c0})
            print(name, seed, f"final AP {ap[-1]:.4f}  max {max(ap):.4f}", flush=True)
    return recs


def fig5_from_checkpoints(files: list[str], nu: float) -> list[dict]:
    """Fig. 5 records from Table-1 runs made with ``--checkpoint-every`` (no new training): the AP of
    WALDO, CoRa + advantage and WAE-GAN on the mixture at each recorded epoch, one record per seed."""
    names = {"WALDO": "WALDO", "CoRa+adv": "CoRa + advantage", "WAE-GAN": "WAE-GAN"}
    recs = []
    for f in files:
        for r in json.loads(Path(f).read_text()):
            if r["method"] in names and r["nu"] == nu and r.get("checkpoints"):
                ck = r["checkpoints"]
                recs.append({"method": names[r["method"]], "seed": r["seed"], "nu": nu,
                             "epochs": [c["epoch"] for c in ck], "ap": [c["auprc"] for c in ck]})
    return sorted(recs, key=lambda r: list(names.values()).index(r["method"]))


def fig5_png(recs: list[dict], path: Path, title: str) -> None:
    """Mean +- std of AP per epoch for each method, drawn with Pillow."""
    from PIL import Image, ImageDraw

    colours = {"WALDO": (214, 39, 40), "CoRa + advantage": (31, 119, 180), "WAE-GAN": (44, 160, 44)}
    W, H, L, R, T, B = 720, 480, 60, 20, 40, 70
    img = Image.new("RGB", (W, H), "white")
    dr = ImageDraw.Draw(img, "RGBA")
    names = list(dict.fromkeys(r["method"] for r in recs))
    n_ep = max(r.get("epochs", [len(r["ap"])])[-1] for r in recs)
    ylo = 0.0

    def px(e, v):
        return L + (e - 1) / max(n_ep - 1, 1) * (W - L - R), T + (1 - (v - ylo) / (1 - ylo)) * (H - T - B)

    for v in np.linspace(0, 1, 6):
        x0, y0 = px(1, v)
        dr.line([L, y0, W - R, y0], fill=(225, 225, 225))
        dr.text((8, y0 - 6), f"{v:.1f}", fill="black")
    for e in np.linspace(1, n_ep, 5).astype(int):
        x0, _ = px(e, ylo)
        dr.text((x0 - 8, H - B + 6), str(e), fill="black")
    dr.text((W // 2 - 20, H - B + 22), "epoch", fill="black")
    dr.text((8, T - 28), "average precision on the mixture", fill="black")
    dr.text((L + 180, 10), title, fill="black")
    for k, name in enumerate(names):
        rs = [r for r in recs if r["method"] == name]
        A = np.array([r["ap"] for r in rs])
        ep = rs[0].get("epochs", list(range(1, A.shape[1] + 1)))  # x of each AP value
        mu, sd = A.mean(0), A.std(0)
        col = colours.get(name, (0, 0, 0))
        up = [px(ep[i], min(1.0, mu[i] + sd[i])) for i in range(len(mu))]
        dn = [px(ep[i], max(ylo, mu[i] - sd[i])) for i in range(len(mu))][::-1]
        dr.polygon(up + dn, fill=col + (60,))
        dr.line([px(ep[i], mu[i]) for i in range(len(mu))], fill=col, width=2)
        dr.rectangle([L + 200 * k, H - 28, L + 200 * k + 12, H - 16], fill=col)
        dr.text((L + 200 * k + 18, H - 30), f"{name} (n={len(A)})", fill="black")
    img.save(path, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["fig2a", "fig2b", "disc", "retail", "gen", "diag", "diagsum", "fig5", "fig5png",
                                     "fig5ckpt"])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--json", default=None)
    ap.add_argument("--lr", type=float, default=1e-3, help="diag / fig5 / retail: Adam learning rate")
    ap.add_argument("--nus", default="0.05", help="diag / fig5: comma-separated outlier shares")
    ap.add_argument("--classes", action="store_true", help="diag: per-attack-type false positives")
    ap.add_argument("--n-pos", type=int, default=5000, help="diag: labelled attacks (X_pos)")
    ap.add_argument("--seed0", type=int, default=0, help="diag: first seed")
    ap.add_argument("--n-unl", type=int, default=5000, help="diag: rows of the unlabelled mixture")
    ap.add_argument("--latent", action="store_true", help="retail: also the AP of score='latent'")
    ap.add_argument("--methods", default=None, help="fig5: comma-separated subset of " + ",".join(FIG5_METHODS))
    ap.add_argument("--inputs", nargs="+", default=None, help="fig5png / fig5ckpt / diagsum: JSON files to read")
    ap.add_argument("--png", default=str(RESULTS / "waldo_fig5.png"))
    ap.add_argument("--protocol", default="subsample", choices=["subsample", "authors"],
                    help="fig2a / fig2b / disc: KDD split (see the module docstring)")
    ap.add_argument("--budget", default="full", choices=("teaching", "full"),
                    help="fig2a / fig2b / fig5 / gen: the figure recipe's budget (python -m bench.figures)")
    a = ap.parse_args()
    a.nus = [float(v) for v in a.nus.split(",")]
    if a.what in RECIPE_OF and a.protocol != "authors":
        from bench import figures

        for rec in figures.run([RECIPE_OF[a.what]], a.budget):
            print(f"{rec['recipe']} ({rec['budget']}): {'OK' if rec['ok'] else 'NO'} {rec['summary']}")
        return
    if a.protocol == "authors":
        _SETUP.update(protocol="authors", lr=a.lr, seed0=a.seed0)
    if a.what == "diagsum":
        print(diag_summary([r for f in a.inputs for r in json.loads(Path(f).read_text())]))
        return
    if a.what == "fig5ckpt":
        recs = fig5_from_checkpoints(a.inputs, a.nus[0])
        fig5_png(recs, Path(a.png), f"KDD99, nu={a.nus[0]}, authors' protocol, mean +- std over seeds")
        for name in dict.fromkeys(r["method"] for r in recs):
            rs = [r for r in recs if r["method"] == name]
            A = np.array([r["ap"] for r in rs]) * 100
            cells = ", ".join(f"{e}: {m:.1f} ± {sd:.1f}" for e, m, sd in zip(rs[0]["epochs"], A.mean(0), A.std(0))
                              if e in (20, 100, 200, 300, 401))
            print(f"{name} (n={len(rs)}): {cells}")
        save_json(recs, a.json)
        return
    if a.what == "fig5png":
        recs = [r for f in a.inputs for r in json.loads(Path(f).read_text())]
        fig5_png(recs, Path(a.png), f"KDD99, nu={recs[0]['nu']}, {len(recs[0]['ap'])} epochs, mean +- std")
        return
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    res = globals()[a.what](a)
    print(json.dumps(res, indent=1))
    print(f"wall seconds: {time.perf_counter() - t0:.1f}")
    save_json(res, a.json)


if __name__ == "__main__":
    main()
