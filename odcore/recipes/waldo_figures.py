"""WALDO's figures as recipes: decoder swap (Fig. 1b), distance from the prior mean (Fig. 2a), F1 against nu
with and without the advantage (Fig. 2b), real vs generated rows (Fig. 4), average precision per epoch of
WALDO, CoRa and WAE-GAN (Fig. 5).

Figs. 1b, 2a and 4 draw from one WALDO fit on real MNIST (digit 0 the inliers, ``nu = 0.5``: a mixture
with enough outliers for the outlier decoder to learn them). Figs. 2b and 5 are on KDD Cup 99, as in the
paper's experiments (the attacks are the inliers, ``normal.`` traffic the outliers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from odcore import metrics, plots
from odcore.recipes.framework import Budget, Check, Fits, Knob, Member, Recipe, Training

_PAPER = "WALDO"

# ----------------------------------------------------------------------------------------- trainings
#: WALDO on MNIST t10k, digit 0 = inliers: the paper's MNIST setting (latent 20, sigma 1, lambda 0.5) with an MLP
#: encoder (784-256-20; the paper's conv nets cost 2-3x the CPU time) and, for the teaching budget, lr 1e-3 at
#: batch 32 (the paper: lr 1e-4 for ~400 epochs)
MNIST_SWAP = Training(
    name="waldo-mnist", fold="mnist-pu",
    options={"source": "t10k", "inlier": 0, "nu": 0.5, "n_pos": 490},
    members=(Member("WALDO", "waldo", {"latent": 20, "sigma": 1.0, "lam": 0.5, "hidden": (256,),
                                       "input_shape": None}),),
    budgets={
        "teaching": Budget("teaching", seeds=(0,), params={"epochs": 60, "batch_size": 32, "lr": 1e-3},
                           seconds=50.0, what="60 epochs at lr 1e-3, batch 32, seed 0; 490 labelled zeros, a "
                                             "mixture of 490 zeros and 490 other digits"),
        "full": Budget("full", seeds=(0, 1, 2), params={"epochs": 400, "batch_size": 32, "lr": 1e-4},
                       seconds=3 * 330.0, what="the paper's optimiser: 400 epochs at lr 1e-4, 3 seeds"),
    },
    knobs=(Knob("epochs", "epochs", "param", 5, 200, 5), Knob("nu", "outlier share nu of the mixture", "option",
                                                              0.1, 0.5, 0.05),
           Knob("lam", "lambda (weight of the Wasserstein term)", "param", 0.0, 2.0, 0.1),
           Knob("seed", "seed", "seed", 0, 9, 1)),
)

#: WALDO, CoRa (+ advantage) and WAE-GAN on the same KDD sample, AP of the mixture after every epoch (Fig. 5)
KDD_NET = {"latent": 32, "sigma": 1.0, "out_act": "linear"}
KDD_FIG5 = Training(
    name="waldo-kdd-fig5", fold="kdd-pu", monitor=True,
    options={"nu": 0.1, "n_pos": 5000, "n_mix": 5000},
    members=(Member("WALDO", "waldo", {**KDD_NET, "lam": 0.1}),
             Member("CoRa", "cora", dict(KDD_NET), title="CoRa + advantage"),
             Member("WAE-GAN", "wae-gan", {**KDD_NET, "lam": 0.1})),
    budgets={
        "teaching": Budget("teaching", seeds=(0,), params={"epochs": 100, "batch_size": 3000, "lr": 1e-3},
                           seconds=75.0, what="100 epochs at lr 1e-3, batch 3000, seed 0; 5,000 labelled attacks, "
                                             "a mixture of 5,000 rows with 10% normal traffic"),
        "full": Budget("full", seeds=tuple(range(8)), params={"epochs": 100, "batch_size": 3000, "lr": 1e-3},
                       seconds=8 * 60.0, what="the same for 8 seeds (the paper's Fig. 5 averages 8 runs)"),
    },
    knobs=(Knob("epochs", "epochs", "param", 10, 300, 10), Knob("nu", "outlier share nu", "option", 0.05, 0.5, 0.05),
           Knob("seed", "seed", "seed", 0, 9, 1)),
)

#: WALDO with and without the advantage at each outlier share (Fig. 2b)
KDD_FIG2B = Training(
    name="waldo-kdd-fig2b", fold="kdd-pu", sweep="nu",
    options={"nu": (0.05, 0.1, 0.2, 0.5), "n_pos": 1500, "n_mix": 1500},
    members=(Member("with advantage", "waldo", {**KDD_NET, "lam": 0.1, "advantage": True}),
             Member("without advantage", "waldo", {**KDD_NET, "lam": 0.1, "advantage": False})),
    budgets={
        "teaching": Budget("teaching", seeds=(0,), params={"epochs": 60, "batch_size": 500, "lr": 1e-3},
                           seconds=30.0, what="60 epochs at lr 1e-3, batch 500, seed 0; 1,500 labelled attacks "
                                             "and a mixture of 1,500 rows per nu"),
        "full": Budget("full", seeds=(0, 1, 2), options={"n_pos": 5000, "n_mix": 5000},
                       params={"epochs": 100, "batch_size": 3000, "lr": 1e-3}, seconds=3 * 200.0,
                       what="5,000 + 5,000 rows per nu, batch 3000, 3 seeds"),
    },
    knobs=(Knob("epochs", "epochs", "param", 10, 300, 10), Knob("seed", "seed", "seed", 0, 9, 1)),
)


# ----------------------------------------------------------------------------------------- figure data
def _round(a, nd: int = 3) -> list:
    return np.round(np.asarray(a, dtype=np.float64), nd).tolist()


def _show_rows(fold, n: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the mixture to draw: ``n`` inliers, and one outlier of each other class (then more) — seeded."""
    rng = np.random.default_rng(0)
    y = fold.y_test
    inl = np.sort(rng.choice(np.flatnonzero(y == 0), n, replace=False))
    classes = fold.extras.get("classes")
    out_idx = np.flatnonzero(y == 1)
    if classes is not None:
        picked = [int(rng.choice(out_idx[classes[out_idx] == c])) for c in np.unique(classes[out_idx])]
        rest = [int(i) for i in rng.permutation(out_idx) if i not in picked]
        out = np.asarray(picked[:n] + rest[:max(0, n - len(picked))])
    else:
        out = rng.choice(out_idx, n, replace=False)
    return inl, out


def decoder_swap_data(fits: Fits, options: Mapping[str, Any]) -> dict:
    """Real inliers and outliers through each decoder; the mean error of each decoder on each group."""
    fold, model = fits.fold(), fits.model("WALDO")
    X, y = fold.X_test, fold.y_test
    decoders = model.capabilities().decoders
    errors, tiles = {"inliers": {}, "outliers": {}}, {}
    for d in decoders:
        e = model.reconstruct(X, decoder=d)["errors"].mean(axis=1)
        errors["inliers"][d] = float(e[y == 0].mean())
        errors["outliers"][d] = float(e[y == 1].mean())
    for group, idx in zip(("inliers", "outliers"), _show_rows(fold)):
        tiles[group] = {"input": _round(X[idx], 2),
                        **{d: _round(model.reconstruct(X[idx], decoder=d)["reconstruction"], 2) for d in decoders}}
    return {"shape": list(fold.image_shape), "tiles": tiles, "errors": errors}


def decoder_swap_check(data: Mapping[str, Any]) -> Check:
    """The inlier decoder reconstructs real inliers clearly (1.25x) better than real outliers, the outlier
    decoder the reverse."""
    e = data["errors"]
    gi = e["outliers"]["inlier"] / e["inliers"]["inlier"]
    go = e["inliers"]["outlier"] / e["outliers"]["outlier"]
    return Check(gi >= 1.25 and go >= 1.25,
                 f"inlier decoder: MSE {e['inliers']['inlier']:.3f} on inliers vs {e['outliers']['inlier']:.3f} on "
                 f"outliers ({gi:.1f}x); outlier decoder: {e['outliers']['outlier']:.3f} on outliers vs "
                 f"{e['inliers']['outlier']:.3f} on inliers ({go:.1f}x)", {"inlier_ratio": gi, "outlier_ratio": go})


def prior_distance_data(fits: Fits, options: Mapping[str, Any]) -> dict:
    fold, model = fits.fold(), fits.model("WALDO")
    d = model.prior_distance(fold.X_test)
    return {"distance": _round(d, 3), "label": fold.y_test.astype(int).tolist(),
            "prior_norm": float(model.sigma) * float(np.sqrt(model.latent))}


def prior_distance_check(data: Mapping[str, Any]) -> Check:
    """Outliers' codes lie farther from the prior mean than inliers' (mean and AUROC of the distance)."""
    d, y = np.asarray(data["distance"]), np.asarray(data["label"])
    a = metrics.auroc(y, d)
    mi, mo = float(d[y == 0].mean()), float(d[y == 1].mean())
    return Check(mo > mi and a >= 0.7, f"mean ||Q(x)|| {mi:.2f} for inliers vs {mo:.2f} for outliers; AUROC of the "
                 f"distance {a:.2f}", {"inliers": mi, "outliers": mo, "auroc": a})


def generated_data(fits: Fits, options: Mapping[str, Any]) -> dict:
    """Generated inliers (G_i) and outliers (G_o) from the fitted latent clouds beside real ones: a t-SNE map
    of all of them, the nearest real row of each generated one, and tiles."""
    from odcore import embed

    fold, model = fits.fold(), fits.model("WALDO")
    X, y = fold.X_test, fold.y_test
    rng = np.random.default_rng(0)
    n = 200
    real_in = X[rng.choice(np.flatnonzero(y == 0), n, replace=False)]
    real_out = X[rng.choice(np.flatnonzero(y == 1), n, replace=False)]
    gen = {k: model.generate(n, kind=k, source="fitted", random_state=1) for k in model.capabilities().generate}
    parts = [real_in, real_out] + [gen[k] for k in gen]
    group = ["real inlier"] * n + ["real outlier"] * n + [g for k in gen for g in [f"generated {k}"] * n]
    Z = np.vstack(parts).astype(np.float32)
    try:
        xy, projection = embed.tsne(Z, seed=0), "t-SNE"
    except Exception:  # noqa: BLE001 - openTSNE is an optional ("app") dependency; PCA says what it is
        xy, projection = embed.pca(Z), "PCA"
    real = np.vstack([real_in, real_out])
    real_y = np.r_[np.zeros(n), np.ones(n)]
    nn = {}
    for k, g in gen.items():
        d2 = ((g[:, None, :] - real[None, :, :]) ** 2).sum(-1)
        nn[k] = float(np.mean(real_y[d2.argmin(axis=1)] == (1 if k == "outlier" else 0)))
    out = {"xy": _round(xy, 3), "group": group, "projection": projection, "nearest_same": nn}
    if fold.image_shape is not None:
        out["shape"] = list(fold.image_shape)
        out["tiles"] = {"real inliers": _round(real_in[:9], 2), **{f"generated {k}s (G_{k[0]})": _round(g[:9], 2)
                                                                   for k, g in gen.items()},
                        "real outliers": _round(real_out[:9], 2)}
    return out


def generated_check(data: Mapping[str, Any]) -> Check:
    """Each generated class looks like its own real class: the nearest real row of most generated inliers is
    an inlier and of most generated outliers an outlier."""
    nn = data["nearest_same"]
    ok = all(v >= 0.7 for v in nn.values()) and len(nn) == 2
    return Check(ok, "nearest real row of the same class: " + ", ".join(f"generated {k}s {100 * v:.0f}%"
                                                                          for k, v in nn.items()), dict(nn))


def ap_curves_data(fits: Fits, options: Mapping[str, Any]) -> dict:
    curves = {}
    for key in fits.settings["members"]:
        runs = [[h.get("val_auprc") for h in fits.model(key, s).history_] for s in fits.settings["seeds"]]
        a = np.asarray(runs, dtype=np.float64)
        title = next((m.label for m in KDD_FIG5.members if m.key == key), key)
        curves[title] = {"epoch": list(range(1, a.shape[1] + 1)), "mean": _round(a.mean(0), 4),
                         "low": _round(a.min(0), 4), "high": _round(a.max(0), 4)}
    return {"curves": curves}


#: how far WALDO's mean AP over the second half of training must lie above WAE-GAN's for the gap to read
AP_GAP = 0.03


def ap_curves_check(data: Mapping[str, Any]) -> Check:
    """WALDO's average precision over the second half of training is above WAE-GAN's (mean by at least
    :data:`AP_GAP`, and at the last epoch). The summary also says how far WALDO falls from its best epoch by
    the end, so a curve that dips is named, not hidden behind its last value."""
    half = {k: np.asarray(c["mean"][len(c["mean"]) // 2:], dtype=np.float64) for k, c in data["curves"].items()}
    last = {k: float(v[-1]) for k, v in half.items()}
    mean = {k: float(v.mean()) for k, v in half.items()}
    w = np.asarray(data["curves"]["WALDO"]["mean"], dtype=np.float64)
    peak, at = float(w.max()), int(np.argmax(w)) + 1
    ok = mean["WALDO"] - mean["WAE-GAN"] >= AP_GAP and last["WALDO"] > last["WAE-GAN"]
    return Check(ok, "AP at the last epoch: " + ", ".join(f"{k} {v:.3f}" for k, v in last.items())
                 + "; mean over the second half: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items())
                 + f"; WALDO peaks at {peak:.3f} (epoch {at}) and ends {peak - last['WALDO']:.3f} lower",
                 {**last, "second_half": mean, "waldo_peak": peak, "waldo_peak_epoch": at})


def f1_nu_data(fits: Fits, options: Mapping[str, Any]) -> dict:
    nus = fits.sweep_values()
    curves: dict[str, Any] = {}
    top: dict[str, Any] = {}
    for key in fits.settings["members"]:
        f1s, tops = [], []
        for nu in nus:
            vals, tv = [], []
            for s in fits.settings["seeds"]:
                m, fold = fits.model(key, s, nu), fits.fold(s, nu)
                vals.append(metrics.prf_at(fold.y_test, m.assign(fold.X_test), 0.5)["f1"])
                tv.append(metrics.f1_at_top(fold.y_test, m.decision_function(fold.X_test), nu))
            f1s.append(vals)
            tops.append(tv)
        curves[key] = {"mean": _round(np.mean(f1s, axis=1), 4), "std": _round(np.std(f1s, axis=1), 4)}
        top[key] = {"mean": _round(np.mean(tops, axis=1), 4), "std": _round(np.std(tops, axis=1), 4)}
    return {"nus": [float(v) for v in nus], "curves": curves, "top_nu": top,
            "metric": "F1 of the decoder assignment (threshold-free)"}


def f1_nu_check(data: Mapping[str, Any]) -> Check:
    """With the advantage the decoder assignment's F1 is higher than without it at every nu."""
    w, wo = data["curves"]["with advantage"]["mean"], data["curves"]["without advantage"]["mean"]
    return Check(all(a > b for a, b in zip(w, wo)), "F1 with / without the advantage per nu: " + ", ".join(
        f"{nu:g}: {a:.2f} / {b:.2f}" for nu, a, b in zip(data["nus"], w, wo)), {"with": w, "without": wo})


# ----------------------------------------------------------------------------------------- recipes
RECIPES = (
    Recipe("waldo-fig1b", _PAPER, "Fig. 1b", "decoder swap", "waldo", MNIST_SWAP, decoder_swap_data,
           plots.decoder_swap, decoder_swap_check,
           caption="Each real digit passes through both decoders: the inlier decoder turns every digit into "
                   "a zero-like shape, the outlier decoder draws the other digits and blurs the zeros."),
    Recipe("waldo-fig2a", _PAPER, "Fig. 2a", "distance from the prior mean", "waldo", MNIST_SWAP,
           prior_distance_data, plots.prior_distance, prior_distance_check,
           caption="The discriminator pulls the labelled inliers' codes onto the prior N(0, I): look for the "
                   "outliers' codes (red) lying farther from its mean than the inliers' (blue).",
           finding="Here half the mixture are outliers (nu 0.5). With 10% outliers, on the authors' MNIST split, "
                   "their codes sat nearer the prior mean in all 8 runs measured, whatever the number of steps "
                   "or which codes were pushed to the prior (BENCHMARKS.md, WALDO round 4)."),
    Recipe("waldo-fig4", _PAPER, "Fig. 4", "real vs generated rows (t-SNE)", "waldo", MNIST_SWAP,
           generated_data, plots.real_vs_generated, generated_check,
           caption="Samples of each decoder's latent cloud (crosses) should land among the real rows of their "
                   "own class (dots of the same colour family), and look like them (the tiles below).",
           extras=(plots.generated_tiles,)),
    Recipe("waldo-fig5", _PAPER, "Fig. 5", "average precision per epoch", "waldo", KDD_FIG5,
           ap_curves_data, plots.ap_per_epoch, ap_curves_check,
           caption="Look at the second half of training: the two-decoder models (WALDO, CoRa) stay above the "
                   "single-decoder WAE-GAN, though in the one-seed teaching run WALDO peaks near epoch 80 and dips "
                   "back towards WAE-GAN by the end, so the last epoch alone understates the gap (the paper "
                   "averages 8 runs)."),
    Recipe("waldo-fig2b", _PAPER, "Fig. 2b", "F1 against nu, with and without the advantage", "waldo", KDD_FIG2B,
           f1_nu_data, plots.f1_against_nu, f1_nu_check,
           caption="Without the advantage the outlier decoder starts as an exact copy of the inlier decoder and "
                   "can stay stuck at F1 0; with it the assignment finds outliers at every nu.",
           finding="The tie is fragile: at the full budget (5,000 + 5,000 rows, batch 3000, 3 seeds) the copy "
                   "escaped it by rounding and, without the advantage, assigned better at nu <= 0.2 (F1 0.41 / "
                   "0.82 / 0.90 against 0.20 / 0.40 / 0.71), while the authors' setting (lr 1e-4, 401 epochs) "
                   "kept it and showed the paper's picture (BENCHMARKS.md, WALDO round 3)."),
)
