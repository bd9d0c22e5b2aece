"""ALAD on KDD Cup 99 with the ALAD protocol, the score ablation, and Isolation Forest beside it.

Protocol (METHODS.md): the 10% file, 121 features (7 categorical columns one-hot), ``normal.``
is the anomaly class, 50/50 split, fit on the training half's non-``normal.`` rows, flag the top
20% of test scores, precision / recall / F1 of the anomaly class. Paper: P 0.9427, R 0.9577,
F1 0.9501 (Isolation Forest F1 0.9294).

One ALAD fit serves the four scores (the score does not change training). The training rows
can be subsampled (``--train-rows``) to fit the machine; the test half is always scored whole.

Usage::

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python bench/alad_kdd.py --train-rows 20000 --epochs 40 \\
        --patience 40 --lr 1e-3 --labelled-val 10000 --select-epoch-on-val --seed 0

``--labelled-val`` builds a labelled validation set from the training half only (held-out attack rows
plus the training half's ``normal.`` rows); ``--diag-rows`` and ``--monitor-rows`` record test-row
metrics per epoch for diagnosis only; ``--baselines`` adds training-free reference scores.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import minmax_scaler, save_json


def prf_top(y: np.ndarray, s: np.ndarray, q: float = 0.2) -> dict[str, float]:
    """Precision, recall, F1 of the anomaly class (y=1) when the top ``q`` share of scores is flagged."""
    k = int(round(q * y.size))
    pred = np.zeros(y.size, dtype=bool)
    pred[np.argsort(-s, kind="stable")[:k]] = True
    tp = int(np.sum(pred & (y == 1)))
    p = tp / max(int(pred.sum()), 1)
    r = tp / max(int(y.sum()), 1)
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def diagnose(m, Xd: np.ndarray, yd: np.ndarray, Xt: np.ndarray, rec: dict, cpu: list) -> None:
    """Per-epoch diagnostics (callback): F1 at the top 20% of ``Xd`` for every score with the EMA and the
    raw networks, written into the epoch's record and printed; the time spent is kept out of the fit's
    CPU seconds. Never used for stopping or selection."""
    import torch

    c = time.process_time()
    m._train_mode(False)
    xd, xt = torch.from_numpy(np.ascontiguousarray(Xd)), torch.from_numpy(np.ascontiguousarray(Xt))
    parts = []
    with torch.no_grad():
        for ema in (True, False):
            for kind in ("features", "l1", "l2", "logits"):
                f1 = prf_top(yd, m.score_with(xd, kind, ema=ema).numpy().astype(np.float64))["f1"]
                rec[f"diag_f1_{'ema' if ema else 'raw'}_{kind}"] = f1
                parts.append(f"{kind[:4]} {f1:.3f}")
            p = "ema_" if ema else ""
            rec[f"diag_train_l1_{'ema' if ema else 'raw'}"] = float(
                (xt - m.nets_[p + "G"](m.nets_[p + "E"](xt))).abs().sum(1).mean())
    print(f"   diag F1 EMA [{', '.join(parts[:4])}] raw [{', '.join(parts[4:])}] train L1 EMA "
          f"{rec['diag_train_l1_ema']:.2f} raw {rec['diag_train_l1_raw']:.2f}", flush=True)
    cpu[0] += time.process_time() - c


def scaler(kind: str, X: np.ndarray):
    """The feature scaling fitted on the training rows ``X`` (a function of a matrix)."""
    from odcore.data.scaling import Standardizer

    if kind == "none":
        return lambda A: np.asarray(A, dtype=np.float32)
    if kind == "minmax":  # test rows may fall outside [0, 1]
        scale = minmax_scaler(X)
        return lambda A: scale(A).astype(np.float32)
    pre = (lambda A: np.log1p(np.maximum(A, 0))) if kind == "log1p" else (lambda A: A)
    z = Standardizer.fit(pre(X))  # the split's own z-scoring
    return lambda A: z.transform(pre(A))


def on_val(m, Xv: np.ndarray, yv: np.ndarray, kind: str, rec: dict, best: dict, cpu: list) -> None:
    """Per-epoch F1 of every score on the labelled validation set (training half only); keeps the EMA
    weights of the epoch with the best F1 of ``kind`` (used when --select-epoch-on-val)."""
    import copy

    import torch

    from odcore.models.alad import NET_NAMES

    c = time.process_time()
    m._train_mode(False)
    xv = torch.from_numpy(np.ascontiguousarray(Xv))
    with torch.no_grad():
        f1 = {k: prf_top(yv, m.score_with(xv, k).numpy().astype(np.float64))["f1"]
              for k in ("features", "l1", "l2", "logits")}
    rec.update({f"lval_f1_{k}": v for k, v in f1.items()})
    print("   labelled-val F1 " + ", ".join(f"{k[:4]} {v:.3f}" for k, v in f1.items()), flush=True)
    if f1[kind] > best["f1"]:
        best.update(f1=f1[kind], epoch=rec["epoch"],
                    state={n: copy.deepcopy(m.nets_["ema_" + n].state_dict()) for n in NET_NAMES})
    cpu[0] += time.process_time() - c


def baselines(Xtr: np.ndarray, Xte: np.ndarray, y: np.ndarray, a) -> list[dict]:
    """Reference points on the same (scaled) rows: L1 distance from the training mean, 1-NN distance
    (on a 40,000-row test subsample: brute force over the whole test half is too slow here), and a
    plain autoencoder with ALAD's E and G (MSE, Adam 1e-3, batch 256) scored by L1 error."""
    import torch
    from sklearn.neighbors import NearestNeighbors

    from odcore import metrics
    from odcore.models import nets

    out = []

    def add(name, yy, s, cpu):
        out.append({"method": name, **prf_top(yy, s), "auroc": metrics.auroc(yy, s),
                    "auprc": metrics.auprc(yy, s), "cpu_seconds": cpu})

    c = time.process_time()
    add("L1 distance from the training mean", y, np.abs(Xte - Xtr.mean(0)).sum(1).astype(np.float64),
        time.process_time() - c)
    ti = np.random.default_rng(a.seed + 4).choice(len(y), min(40000, len(y)), replace=False)
    c = time.process_time()
    d, _ = NearestNeighbors(n_neighbors=1).fit(Xtr).kneighbors(Xte[ti])
    add("1-NN distance (40k test rows)", y[ti], d[:, 0].astype(np.float64), time.process_time() - c)
    c = time.process_time()
    torch.manual_seed(a.seed)
    n = Xtr.shape[1]
    E, G = nets.mlp([n, 64, 32], act="leaky_relu"), nets.mlp([32, 64, 128, n], act="relu")
    opt = torch.optim.Adam([*E.parameters(), *G.parameters()], lr=1e-3)
    X = torch.from_numpy(np.ascontiguousarray(Xtr))
    g = torch.Generator().manual_seed(a.seed)
    for _ in range(a.ae_epochs):
        perm = torch.randperm(len(X), generator=g)
        for i in range(0, len(X), 256):
            xb = X[perm[i:i + 256]]
            loss = ((G(E(xb)) - xb) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        s = np.concatenate([(G(E(xb)) - xb).abs().sum(1).numpy()
                            for xb in torch.from_numpy(np.ascontiguousarray(Xte)).split(8192)])
    add(f"autoencoder with ALAD's E, G ({a.ae_epochs} epochs, L1)", y, s.astype(np.float64),
        time.process_time() - c)
    return out


def main() -> None:
    # the defaults are the full budget of the score-ablation figure recipe (odcore.recipes.alad_figures), which the
    # app shows and `python -m bench.figures alad-scores --budget full` runs; the options below explore around it
    from odcore.recipes import alad_figures, framework

    full = framework.resolve(alad_figures.KDD, "full")["members"]["ALAD"]["params"]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="path of kddcup.data_10_percent.gz (default: shared datasets)")
    ap.add_argument("--train-rows", type=int, default=20000, help="subsample of training rows (0 = all)")
    ap.add_argument("--epochs", type=int, default=full["epochs"])
    ap.add_argument("--batch-size", type=int, default=full["batch_size"], help="paper: 50 (wastes the CPU)")
    ap.add_argument("--lr", type=float, default=full["lr"], help="paper: 1e-5")
    ap.add_argument("--patience", type=int, default=10)
    ap.add_argument("--validation-share", type=float, default=0.1)
    ap.add_argument("--spectral-norm", action="store_true")
    ap.add_argument("--scale", choices=("zscore", "minmax", "log1p", "none"), default="zscore",
                    help="feature scaling from training rows: z-score (our default), min-max to [0, 1], "
                         "log1p of the non-negative counts then z-score, or none (raw values, as the "
                         "reference code, whose get_train(scale=False) never scales)")
    ap.add_argument("--ema-decay", type=float, default=0.999)
    ap.add_argument("--stop-on", choices=("reconstruction", "score"), default="reconstruction")
    ap.add_argument("--diag-rows", type=int, default=0,
                    help="diagnostics only: each epoch, F1 at the top 20%% of this many random test rows for "
                         "the four scores with the EMA and with the raw networks, and the mean L1 "
                         "reconstruction error of training rows (never used for stopping or selection)")
    ap.add_argument("--baselines", action="store_true",
                    help="also score with training-free references on the same training rows: L1 distance "
                         "from the training mean, 1-NN distance, and an autoencoder with ALAD's E and G")
    ap.add_argument("--labelled-val", type=int, default=0,
                    help="hold this many attack rows out of the fit and add a quarter as many `normal.` rows of "
                         "the TRAINING half: a labelled validation set (no test rows) scored every epoch")
    ap.add_argument("--select-epoch-on-val", action="store_true",
                    help="score the test half with the EMA weights of the epoch with the best labelled-validation "
                         "F1 of --select-score (instead of ALAD's unsupervised early-stopping choice)")
    ap.add_argument("--select-score", default="features", choices=("features", "l1", "l2", "logits"))
    ap.add_argument("--ae-epochs", type=int, default=10, help="epochs of the --baselines autoencoder")
    ap.add_argument("--monitor-rows", type=int, default=0,
                    help="diagnostics only: record F1/AUROC on this many random test rows each epoch "
                         "(never used for stopping or selection)")
    ap.add_argument("--time-budget", type=float, default=None,
                    help="stop training after the epoch that reaches this many wall seconds (then score as usual)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None, help="write the results here as JSON")
    a = ap.parse_args()

    import torch

    from odcore import metrics
    from odcore.data import load, shared_data_dir, split
    from odcore.models.alad import ALAD
    from odcore.models.registry import create

    torch.set_num_threads(a.threads)
    path = a.data or str(shared_data_dir() / "kddcup99" / "kddcup.data_10_percent.gz")
    ds = load(path)
    sp = split(ds, "kdd-alad", seed=a.seed, standardize=False)
    # a labelled validation set from the TRAINING half only: attack rows held out of the fit and the
    # training half's `normal.` rows (which the protocol otherwise discards), never test rows
    rng = np.random.default_rng(a.seed + 5)
    Xv = yv = None
    pool = np.arange(len(sp.X_train))
    if a.labelled_val:
        held = rng.choice(len(pool), a.labelled_val, replace=False)
        pool = np.setdiff1d(pool, held)
        half = np.setdiff1d(np.arange(ds.n_rows), sp.test_index)
        normals = half[ds.y[half] == 1]
        nv = rng.choice(normals, min(len(normals), int(round(a.labelled_val * 0.25))), replace=False)
        Xv = np.vstack([sp.X_train[held], ds.X[nv]]).astype(np.float32)
        yv = np.r_[np.zeros(len(held)), np.ones(len(nv))].astype(np.int64)
    scale = scaler(a.scale, sp.X_train[pool])
    Xtr, Xte = scale(sp.X_train[pool]), scale(sp.X_test)
    Xv = None if Xv is None else scale(Xv)
    n_pool = len(Xtr)
    if a.train_rows and a.train_rows < len(Xtr):
        Xtr = Xtr[np.random.default_rng(a.seed).choice(len(Xtr), a.train_rows, replace=False)]
    y = sp.y_test
    sp.X_test = Xte
    print(f"train {Xtr.shape} (of {n_pool}), test {sp.X_test.shape}, anomaly share {y.mean():.4f}")

    m = ALAD(epochs=a.epochs, batch_size=a.batch_size, lr=a.lr, patience=a.patience,
             validation_share=a.validation_share, spectral_norm=a.spectral_norm, device="cpu",
             random_state=a.seed, ema_decay=a.ema_decay, stop_on=a.stop_on, time_budget=a.time_budget)
    monitor = None
    if a.monitor_rows:
        mi = np.random.default_rng(a.seed + 1).choice(len(y), min(a.monitor_rows, len(y)), replace=False)
        monitor = (sp.X_test[mi], y[mi])
    callbacks = [lambda r: print(f"epoch {r['epoch']}: loss_d {r['loss_d']:.3f} loss_eg {r['loss_eg']:.3f} "
                                     f"val {r.get('val_criterion', float('nan')):.4f} ({r['seconds']:.1f}s)"
                                     + (f" [diag test f1 {r['val_f1']:.3f} auroc {r['val_auroc']:.3f}]"
                                        if 'val_f1' in r else ""), flush=True)]
    diag_cpu = [0.0]
    if a.diag_rows:
        di = np.random.default_rng(a.seed + 2).choice(len(y), min(a.diag_rows, len(y)), replace=False)
        tri = np.random.default_rng(a.seed + 3).choice(len(Xtr), min(a.diag_rows, len(Xtr)), replace=False)
        callbacks.append(lambda r: diagnose(m, sp.X_test[di], y[di], Xtr[tri], r, diag_cpu))
    best = {"f1": -1.0, "state": None, "epoch": None}
    if Xv is not None:
        callbacks.append(lambda r: on_val(m, Xv, yv, a.select_score, r, best, diag_cpu))
    c0, w0 = time.process_time(), time.perf_counter()
    m.fit(Xtr, monitor=monitor, callbacks=callbacks)
    cpu_fit, wall_fit = time.process_time() - c0 - diag_cpu[0], time.perf_counter() - w0
    n_ep = len(m.history_)
    selected = m.best_epoch_
    if a.select_epoch_on_val and best["state"] is not None:  # the labelled-validation epoch replaces ALAD's own
        for n, st in best["state"].items():
            m.nets_["ema_" + n].load_state_dict(st)
        selected = best["epoch"]
    rows = []
    for kind in ("features", "l1", "l2", "logits"):
        s = m.scores(sp.X_test, kind)
        rows.append({"method": f"ALAD ({kind})", **prf_top(y, s), "auroc": metrics.auroc(y, s),
                     "auprc": metrics.auprc(y, s)})
        if Xv is not None:
            rows[-1]["labelled_val_f1"] = prf_top(yv, m.scores(Xv, kind))["f1"]
    c1 = time.process_time()
    ifo = create("iforest", random_state=a.seed).fit(Xtr)
    cpu_if = time.process_time() - c1
    s = ifo.decision_function(sp.X_test)
    rows.append({"method": "Isolation Forest", **prf_top(y, s), "auroc": metrics.auroc(y, s),
                 "auprc": metrics.auprc(y, s)})
    if a.baselines:
        rows += baselines(Xtr, sp.X_test, y, a)
    out = {"rows": rows, "epochs_run": n_ep, "best_epoch": m.best_epoch_, "selected_epoch": selected,
           "cpu_seconds_fit": cpu_fit,
           "wall_seconds_fit": wall_fit, "cpu_seconds_per_epoch": cpu_fit / max(n_ep, 1),
           "iforest_cpu_seconds": cpu_if, "train_rows": int(len(Xtr)), "args": vars(a),
           "history": m.history_}
    print("| method | precision | recall | F1 | AUROC | AUPRC | F1 on the labelled validation set |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        v = f"{r['labelled_val_f1']:.4f}" if "labelled_val_f1" in r else "-"
        print(f"| {r['method']} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | "
              f"{r['auroc']:.4f} | {r['auprc']:.4f} | {v} |")
    print(f"epochs run {n_ep} (best EMA epoch {m.best_epoch_}, scored epoch {selected}), "
          f"CPU s/epoch {out['cpu_seconds_per_epoch']:.1f}, "
          f"fit wall {wall_fit:.0f}s, iforest CPU {cpu_if:.1f}s")
    save_json(out, a.json)


if __name__ == "__main__":
    main()
