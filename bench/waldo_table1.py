"""WALDO paper, Table 1: AUROC / AUPRC on the unlabelled mixture, KDD99 and MNIST t10k, nu in {0.05, 0.1, 0.2, 0.5}.

Positive-unlabelled protocol (as the authors' notebooks, scaled down for a 2-core CPU):
- KDD99 10%: attacks are the inliers, ``normal.`` the outliers. A random subsample: ``--n-pos``
  labelled attacks (X_pos) and an unlabelled mixture of ``--n-unl`` rows with outlier share nu,
  drawn from disjoint rows. Min-max scaling fitted on X_pos (the authors' MinMaxScaler); the
  decoders get a linear output (values of the mixture leave [0, 1]).
- MNIST t10k (no training set here): inlier digit 0. Half of the 980 zeros are X_pos, the other
  half plus nu/(1-nu) times as many other digits form the mixture. Pixels in [0, 1]; conv nets.

``--protocol authors`` (KDD only) instead follows the authors' KDD script (kddblind/waldo,
``waldo_kdd.py``, read for the protocol only): a 10% random sample of the 10% file, split 50/50;
X_pos = the first half's attacks, min-max scaled on all of them, truncated to the mixture's size;
the mixture = ``int(U * (1 - nu))`` attacks and ``int(U * nu)`` normals of the second half with
``U = min(n_attacks / 0.95, n_normals / 0.5)`` (about 9,750 rows at every nu). Their script
evaluates every 20 epochs; ``--checkpoint-every`` records AUROC / AUPRC of the mixture at those
epochs too (evaluation only: the table reports the last epoch).

Scores: the inlier-decoder error ranks the mixture (AUROC, AUPRC); F1 of the threshold-free
decoder assignment (``labels_``) and F1 when flagging the top-nu share are also recorded.
Isolation Forest is fitted on X_pos (the same information WALDO has) and scores the mixture.

Usage:
    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python bench/waldo_table1.py --data kdd --seeds 3 \\
        --json bench/results/waldo_table1_kdd.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.common import minmax_scaler, save_json
from odcore import metrics
from odcore.data import shared_data_dir
from odcore.models.deepsvdd import DeepSVDD
from odcore.models.pyod_adapter import IForest
from odcore.models.waldo import WAEGAN, WALDO, CoRa

NUS = (0.05, 0.1, 0.2, 0.5)
PAPER = {  # Table 1, AUROC / AUPRC in %
    "mnist": {0.05: (99.33, 90.30), 0.1: (99.77, 98.07), 0.2: (99.82, 99.29), 0.5: (99.13, 99.14)},
    "kdd": {0.05: (99.51, 86.34), 0.1: (99.65, 95.67), 0.2: (99.51, 97.06), 0.5: (99.61, 99.42)},
}

_cache: dict[str, tuple] = {}
_last_split: dict[str, np.ndarray] = {}  # row indices of the last pu_split (for per-class diagnostics)


def load(name: str):
    """(X, y) with y = 1 for outliers, and the image shape (or None)."""
    if name in _cache:
        return _cache[name]
    from odcore.data.sources import load_kdd99, load_mnist

    root = shared_data_dir()
    if name == "kdd":
        ds = load_kdd99(root / "kddcup99" / "kddcup.data_10_percent.gz", positive="normal.")
        out = (ds.X, ds.y, None)
    else:
        ds = load_mnist(root / "mnist" / "t10k-images-idx3-ubyte.gz", inlier_classes=(0,))
        out = (ds.X, ds.y, tuple(ds.image_shape))
    _cache[name] = out
    return out


def pu_split(name: str, nu: float, seed: int, n_pos: int, n_unl: int):
    X, y, shape = load(name)
    rng = np.random.default_rng(seed)
    inl, outl = rng.permutation(np.flatnonzero(y == 0)), rng.permutation(np.flatnonzero(y == 1))
    if name == "mnist":
        n_pos = len(inl) // 2
        n_in = len(inl) - n_pos
        n_out = int(round(nu / (1 - nu) * n_in))
    else:
        n_out = int(round(nu * n_unl))
        n_in = n_unl - n_out
    pos = inl[:n_pos]
    unl = np.r_[inl[n_pos:n_pos + n_in], outl[:n_out]]
    Xp, Xu, yu = X[pos], X[unl], y[unl]
    _last_split.update(pos=pos, unl=unl)
    if name == "kdd":  # min-max on the labelled inliers (authors' MinMaxScaler)
        scale = minmax_scaler(Xp)
        Xp, Xu = scale(Xp), scale(Xu)
    return Xp.astype(np.float32), Xu.astype(np.float32), yu.astype(np.int64), shape


def authors_split(nu: float, seed: int):
    """The authors' KDD split (module docstring): X_pos, mixture, its labels."""
    X, y, _ = load("kdd")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(y), int(round(0.1 * len(y))), replace=False)
    first, second = idx[: len(idx) // 2], idx[len(idx) // 2:]
    att = X[first][y[first] == 0]
    t_in, t_out = second[y[second] == 0], second[y[second] == 1]
    size = min(int(len(t_in) / 0.95), int(len(t_out) / 0.5))
    n_out, n_in = int(size * nu), int(size * (1 - nu))
    unl = np.r_[t_in[:n_in], t_out[:n_out]]
    _last_split.update(pos=first[y[first] == 0][: n_in + n_out], unl=unl)
    scale = minmax_scaler(att)
    Xp, Xu = scale(att[: n_in + n_out]), scale(X[unl])
    return Xp.astype(np.float32), Xu.astype(np.float32), y[unl].astype(np.int64), None


def methods(name: str, shape, epochs: int, lr: float, batch: int, net: str = "conv", disc_lr: float | None = None):
    # the paper's networks, declared once in the figure recipes (odcore.recipes.waldo_figures)
    from odcore.recipes.waldo_figures import KDD_NET, MNIST_SWAP

    if name == "kdd":
        common = dict(**KDD_NET, epochs=epochs, lr=lr, batch_size=batch)
        lam = 0.1
    else:
        paper = MNIST_SWAP.member("WALDO").params
        common = dict(latent=paper["latent"], sigma=paper["sigma"], epochs=epochs, lr=lr, batch_size=batch,
                      input_shape=shape if net == "conv" else None)
        lam = paper["lam"]
    return {
        "WALDO": lambda s: WALDO(lam=lam, random_state=s, disc_lr=disc_lr, **common),
        "CoRa+adv": lambda s: CoRa(random_state=s, **common),
        "WAE-GAN": lambda s: WAEGAN(lam=lam, random_state=s, disc_lr=disc_lr, **common),
        "IForest (X_pos)": lambda s: IForest(random_state=s),
        # one-class Deep SVDD fitted on X_pos only (Ruff et al.: lr 1e-4, weight decay 1e-6, autoencoder
        # pretraining); bias-free MLP 128-64-32 on both data sets (conv nets are too slow for 24 CPU fits)
        "Deep SVDD (X_pos)": lambda s: DeepSVDD(random_state=s, **_svdd_params(name)),
    }


def _svdd_params(name: str) -> dict:
    if name == "kdd":  # 5,000 rows: 25 steps per epoch
        return dict(rep_dim=32, hidden=(128, 64), pretrain_epochs=20, epochs=50, batch_size=200, lr=1e-4)
    # 490 labelled zeros: 4 steps per epoch, so more epochs
    return dict(rep_dim=32, hidden=(128, 64), pretrain_epochs=100, epochs=200, batch_size=128, lr=1e-4)


def run(name: str, seeds: int, epochs: int, lr: float, batch: int, n_pos: int, n_unl: int, nus,
        net: str = "conv", disc_lr: float | None = None, only: tuple[str, ...] | None = None,
        latent: bool = False, protocol: str = "subsample", seed0: int = 0, every: int = 0) -> list[dict]:
    import torch

    torch.set_num_threads(1)
    recs = []
    for nu in nus:
        for seed in range(seed0, seed0 + seeds):
            Xp, Xu, yu, shape = (authors_split(nu, seed) if protocol == "authors"
                                 else pu_split(name, nu, seed, n_pos, n_unl))
            for mname, make in methods(name, shape, epochs, lr, batch, net, disc_lr).items():
                if only and mname not in only:
                    continue
                m = make(seed)
                c0, t0 = time.process_time(), time.perf_counter()
                if isinstance(m, (IForest, DeepSVDD)):  # one-class: fitted on the labelled inliers only
                    m.fit(Xp)
                    s = m.decision_function(Xu)
                    lab = None
                elif every:  # per-epoch monitoring on the mixture (about 1% of the fit's time at 10k rows)
                    m.fit(Xu, X_pos=Xp, monitor=(Xu, yu))
                    s, lab = m.decision_scores_, m.labels_
                else:
                    m.fit(Xu, X_pos=Xp)  # no labels: no per-epoch monitoring in the timing
                    s, lab = m.decision_scores_, m.labels_
                cpu, wall = time.process_time() - c0, time.perf_counter() - t0
                rec = {"data": name, "method": mname, "nu": nu, "seed": seed, "n_pos": len(Xp), "n_unl": len(Xu),
                       "n_out": int(yu.sum()), "auroc": metrics.auroc(yu, s), "auprc": metrics.auprc(yu, s),
                       "f1_top_nu": metrics.f1_at_top(yu, s),
                       "f1_assign": None if lab is None or isinstance(m, WAEGAN)
                       else metrics.prf_at(yu, lab, 0.5)["f1"],
                       "cpu_s_per_epoch": cpu / epochs if isinstance(m, WALDO) and m.history_ else None,
                       "fit_cpu_s": cpu, "fit_wall_s": wall, "protocol": protocol}
                if every and getattr(m, "history_", None):
                    rec["checkpoints"] = [
                        {"epoch": h["epoch"], "auroc": h.get("val_auroc"), "auprc": h.get("val_auprc"),
                         "outlier_share": h.get("outlier_share")}
                        for h in m.history_ if h["epoch"] % every == 0 or h["epoch"] == len(m.history_)]
                recs.append(rec)
                n_rec = 1
                if latent and isinstance(m, WALDO):  # same trained model, other rankings
                    for alt in ("latent", "ratio") if m._two_decoders else ("latent",):
                        m.set_params(anomaly_score=alt)
                        sl = m.decision_function(Xu)
                        recs.append({**rec, "method": f"{mname} [{alt}]", "auroc": metrics.auroc(yu, sl),
                                     "auprc": metrics.auprc(yu, sl), "f1_top_nu": metrics.f1_at_top(yu, sl)})
                        recs[-1].pop("checkpoints", None)
                        n_rec += 1
                for r in recs[-n_rec:]:
                    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                                      if k != "checkpoints"}), flush=True)
    return recs


def table(recs: list[dict]) -> str:
    """Markdown: one row per (data, method), columns nu with AUROC / AUPRC mean ± std in %."""
    rows = ["| data | method | " + " | ".join(f"nu={nu} AUROC / AUPRC" for nu in NUS) + " | CPU s/epoch |",
            "|---|---|" + "---|" * (len(NUS) + 1)]
    keys = []
    for r in recs:
        if (r["data"], r["method"]) not in keys:
            keys.append((r["data"], r["method"]))
    for data, meth in keys:
        cells = []
        cpu = [r["cpu_s_per_epoch"] for r in recs if r["data"] == data and r["method"] == meth
               and r["cpu_s_per_epoch"] is not None]
        for nu in NUS:
            rs = [r for r in recs if r["data"] == data and r["method"] == meth and r["nu"] == nu]
            if not rs:
                cells.append("")
                continue
            a = 100 * np.array([r["auroc"] for r in rs])
            p = 100 * np.array([r["auprc"] for r in rs])
            cells.append(f"{a.mean():.2f} ± {a.std():.2f} / {p.mean():.2f} ± {p.std():.2f}")
        rows.append(f"| {data} | {meth} | " + " | ".join(cells) + f" | {np.mean(cpu):.3f} |" if cpu
                    else f"| {data} | {meth} | " + " | ".join(cells) + " | - |")
    for data in dict.fromkeys(d for d, _ in keys):
        rows.append(f"| {data} | paper WALDO | " + " | ".join(f"{PAPER[data][nu][0]:.2f} / {PAPER[data][nu][1]:.2f}"
                                                           for nu in NUS) + " | - |")
    return "\n".join(rows)


def f1_table(recs: list[dict]) -> str:
    rows = ["| data | method | " + " | ".join(f"nu={nu} F1 assign / F1 top-nu" for nu in NUS) + " |",
            "|---|---|" + "---|" * len(NUS)]
    keys = list(dict.fromkeys((r["data"], r["method"]) for r in recs))
    for data, meth in keys:
        cells = []
        for nu in NUS:
            rs = [r for r in recs if r["data"] == data and r["method"] == meth and r["nu"] == nu]
            fa = [r["f1_assign"] for r in rs if r["f1_assign"] is not None]
            ft = [r["f1_top_nu"] for r in rs]
            cells.append((f"{np.mean(fa):.3f}" if fa else "-") + (f" / {np.mean(ft):.3f}" if ft else ""))
        rows.append(f"| {data} | {meth} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="kdd", choices=["kdd", "mnist"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--n-pos", type=int, default=5000)
    ap.add_argument("--n-unl", type=int, default=5000)
    ap.add_argument("--nus", default=",".join(map(str, NUS)))
    ap.add_argument("--net", default="conv", choices=["conv", "mlp"], help="MNIST networks (KDD: always MLP)")
    ap.add_argument("--disc-lr", type=float, default=None, help="discriminator learning rate (default: lr)")
    ap.add_argument("--methods", default=None, help="comma-separated subset, e.g. WALDO,CoRa+adv")
    ap.add_argument("--latent", action="store_true",
                    help="also rank each fit by score='latent' and (two decoders) 'ratio': rows '<method> [latent]'")
    ap.add_argument("--protocol", default="subsample", choices=["subsample", "authors"],
                    help="KDD split: our subsample (--n-pos, --n-unl) or the authors' script's (module docstring)")
    ap.add_argument("--seed0", type=int, default=0, help="first seed (the authors used 11-14)")
    ap.add_argument("--checkpoint-every", type=int, default=0,
                    help="also record AUROC / AUPRC on the mixture every N epochs (evaluation only)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--merge", nargs="+", default=None, help="print the tables of these JSON files and stop")
    a = ap.parse_args()
    if a.merge:
        recs = [r for f in a.merge for r in json.loads(Path(f).read_text())]
        print(table(recs))
        print()
        print(f1_table(recs))
        return
    nus = tuple(float(v) for v in a.nus.split(","))
    only = tuple(a.methods.split(",")) if a.methods else None
    if a.protocol == "authors" and a.data != "kdd":
        ap.error("--protocol authors exists for KDD only")
    recs = run(a.data, a.seeds, a.epochs, a.lr, a.batch, a.n_pos, a.n_unl, nus, a.net, a.disc_lr, only, a.latent,
               protocol=a.protocol, seed0=a.seed0, every=a.checkpoint_every)
    save_json(recs, a.json)
    print(table(recs))
    print()
    print(f1_table(recs))


if __name__ == "__main__":
    main()
