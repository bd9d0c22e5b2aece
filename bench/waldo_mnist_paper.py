"""WALDO Table 1 on MNIST at the paper's scale, with the authors' protocol and networks (issue 16).

Protocol of the authors' MNIST script (kddblind/waldo, code/ComparisonExperiments/waldo_mnist.py and its
notebook, read for the protocol only): the unlabelled mixture comes from the MNIST *test* set: the first
``int(980 / 0.95) * (1 - nu)`` zeros and the first ``int(980 / 0.95) * nu`` other digits of t10k (1,031 rows
in all); the labelled positives are the first 1,031 zeros of the 60k *training* set. Networks: their WAE
convolutional encoder / decoders (``conv_arch="wae"``, width 40, code 20) and a discriminator of four
hidden layers of 160 units without dropout; lambda 0.5, sigma 1, advantage on; the discriminator is
trained on the positives' codes and the autoencoder step pushes the *unlabelled* codes to the prior
(their step1set 'p', step2set 'u': ``disc_on="positive", gen_on="unlabelled"``); Adam at 1e-4, batch 2048
(so one step per epoch), 401 epochs; their StepLR is created but never stepped, so the rate stays 1e-4.
Deviations we keep: the mixture and the positives are shuffled with our seed (their positives are the
first 1,031 zeros in file order: we take a seeded sample of that size), the decoder ends in a sigmoid as
theirs, and the discriminator is trained with BCE on logits (numerically stable, same objective).

The ranking is the inlier decoder's reconstruction error (their ``scoreI``); AUROC / AUPRC on the mixture
every 20 epochs; at the end also Fig. 2a: the AUROC of the codes' distance from the prior mean (outliers
should sit farther away) and the mean distances of inliers and outliers.

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.waldo_mnist_paper --nus 0.05,0.1,0.2,0.5 --seeds 3 \\
        --json bench/results/waldo_mnist_paper.json
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.common import load as load_avg
from bench.common import machine, save_json
from odcore import data, metrics
from odcore.models import registry

N_UNL = int(980 * (1.0 / 0.95))  # their unlabelled size: 1,031
PAPER_AUPRC = {0.05: 90.30, 0.1: 98.07, 0.2: 99.29, 0.5: 99.14}
PAPER_AUROC = {0.05: 99.33, 0.1: 99.77, 0.2: 99.82, 0.5: 99.13}
PARAMS = dict(latent=20, sigma=1.0, lam=0.5, advantage=True, disc_on="positive", gen_on="unlabelled",
              disc_hidden=(160, 160, 160, 160), disc_dropout=0.0, conv_arch="wae", conv_width=40,
              input_shape=(1, 28, 28), out_act="sigmoid", lr=1e-4, batch_size=2048, epochs=401, device="cpu")


def mnist(part: str):
    """(images in [0, 1], digit labels) of the MNIST ``train`` or ``t10k`` file."""
    ds = data.load(str(data.shared_data_dir() / "mnist" / f"{part}-images-idx3-ubyte.gz"))
    return ds.X, np.asarray(ds.classes)


def authors_split(nu: float, seed: int, test=None, train=None):
    """Their mixture from t10k and their 1,031 positives from the training set (see the module docstring)."""
    (Xt, ct), (Xtr, ctr) = test or mnist("t10k"), train or mnist("train")
    rng = np.random.default_rng(seed)
    n_out, n_in = int(N_UNL * nu), int(N_UNL * (1 - nu))
    zeros, others = np.flatnonzero(ct == 0), np.flatnonzero(ct != 0)
    unl = np.r_[zeros[:n_in], others[:n_out]]
    y = np.r_[np.zeros(n_in, np.int64), np.ones(n_out, np.int64)]
    order = rng.permutation(len(unl))
    pos = rng.choice(np.flatnonzero(ctr == 0), N_UNL, replace=False)
    return Xtr[pos], Xt[unl[order]], y[order]


def run(nus, seeds: int, epochs: int, seed0: int = 0, overrides: dict | None = None) -> list[dict]:
    test, train = mnist("t10k"), mnist("train")
    recs = []
    for nu in nus:
        for seed in range(seed0, seed0 + seeds):
            Xp, Xu, yu = authors_split(nu, seed, test, train)
            curve = []

            def on_epoch(rec, curve=curve):
                if rec["epoch"] % 20 == 1 or rec["epoch"] == rec["epochs"]:
                    curve.append({"epoch": rec["epoch"], "auroc": rec.get("val_auroc"),
                                  "auprc": rec.get("val_auprc"), "outlier_share": rec.get("outlier_share")})

            m = registry.create("waldo", **{**PARAMS, **(overrides or {}), "epochs": epochs, "random_state": seed})
            t0 = time.perf_counter()
            m.fit(Xu, X_pos=Xp, monitor=(Xu, yu), callbacks=[on_epoch])
            secs = time.perf_counter() - t0
            s = m.decision_scores_
            dist = m.prior_distance(Xu)
            rec = {"nu": nu, "seed": seed, "epochs": epochs, "n_pos": len(Xp), "n_unl": len(Xu),
                   "n_out": int(yu.sum()), "auroc": metrics.auroc(yu, s), "auprc": metrics.auprc(yu, s),
                   "assign_f1": metrics.prf_at(yu, m.labels_, 0.5)["f1"],
                   "prior_dist_auroc": metrics.auroc(yu, dist), "prior_dist_in": float(dist[yu == 0].mean()),
                   "prior_dist_out": float(dist[yu == 1].mean()), "fit_seconds": secs, "load": load_avg(),
                   "curve": curve}
            print(f"nu {nu} seed {seed}: AUROC {100 * rec['auroc']:.2f} AUPRC {100 * rec['auprc']:.2f} "
                  f"(paper {PAPER_AUROC[nu]} / {PAPER_AUPRC[nu]}); prior-distance AUROC "
                  f"{rec['prior_dist_auroc']:.3f}; {secs:.0f} s", flush=True)
            recs.append(rec)
    return recs


def table(recs: list[dict]) -> str:
    lines = ["| nu | seeds | AUROC % | AUPRC % | paper AUROC / AUPRC | assignment F1 | prior-distance AUROC "
             "(out farther > 0.5) | fit s |", "|---|---|---|---|---|---|---|---|"]
    for nu in sorted({r["nu"] for r in recs}):
        rs = [r for r in recs if r["nu"] == nu]

        def ms(k, scale=1.0, rs=rs):
            v = np.array([r[k] for r in rs], dtype=float) * scale
            return f"{v.mean():.2f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.2f}"

        lines.append(f"| {nu} | {len(rs)} | {ms('auroc', 100)} | {ms('auprc', 100)} | {PAPER_AUROC[nu]} / "
                     f"{PAPER_AUPRC[nu]} | {ms('assign_f1')} | {ms('prior_dist_auroc')} | {ms('fit_seconds')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nus", default="0.05,0.1,0.2,0.5")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=401)
    ap.add_argument("--net", default="wae", choices=("wae", "mlp"),
                    help="wae: the authors' conv networks (the paper); mlp: our MLP (for quick Fig. 2a checks)")
    ap.add_argument("--gen-on", default="unlabelled", choices=("unlabelled", "same"),
                    help="codes the autoencoder step pushes to the prior: the unlabelled mixture (authors' script) "
                         "or the ones the discriminator sees, the labelled inliers (our earlier runs)")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=2048, help="the authors': 2048 (one step per epoch)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    over = {"gen_on": a.gen_on, "lr": a.lr, "batch_size": a.batch,
            "device": "cuda" if torch.cuda.is_available() else "cpu"}
    if a.net == "mlp":
        over.update(conv_arch="small", input_shape=None)
    head = machine(command="python -m bench.waldo_mnist_paper " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(a).items() if v is not None))
    recs = run([float(v) for v in a.nus.split(",")], a.seeds, a.epochs, a.seed0, over)
    save_json({**head, "records": recs}, a.json)
    print(table(recs))


if __name__ == "__main__":
    main()
