"""DROCC-LF on MNIST: digit 0 normal, digit 1 as the limited negatives, half-masked zeros as the
close negatives at test time (DROCC paper, one-class with limited negatives).

Data: the MNIST t10k file only (the paper trained on the 60k training set). Zeros are split
60/40 (train/test) by seed; ``--n-neg`` ones join the training set as limited negatives. The
test set holds the held-out zeros (positives) and a masked copy of each (one random half of the
image - top, bottom, left or right - set to 0: the close negatives).

Metric: recall of the *normal* class (zeros kept as normal) when at most 3% / 5% of the close
negatives are let through (false-positive rate on the close negatives), as in the paper.

Methods (same conv net, same epochs): DROCC-LF; DROCC (normal data only); DROCC with outlier
exposure (DROCC plus cross-entropy on the limited negatives, Euclidean shell); a plain binary
classifier (cross-entropy on zeros vs ones, no adversarial search).

    PYTHONPATH=. OMP_NUM_THREADS=1 .venv/bin/python bench/drocc_lf_mnist.py --seeds 1 --methods DROCC-LF
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from odcore import data, metrics
from odcore.models.drocc import DROCC, DROCCLF, project_shell


class DROCCOE(DROCCLF):
    """DROCC with outlier exposure: DROCC-LF's loss but the Euclidean shell (no learned metric)."""

    def _refresh_weights(self) -> None:
        pass

    def _project(self, h, noise):
        return project_shell(h, self.radius_, float(self.gamma), noise=noise)


def half_mask(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Zero one random half (top, bottom, left, right) of each 28x28 image."""
    imgs = X.reshape(-1, 28, 28).copy()
    for i, k in enumerate(rng.integers(0, 4, len(imgs))):
        if k == 0:
            imgs[i, :14] = 0
        elif k == 1:
            imgs[i, 14:] = 0
        elif k == 2:
            imgs[i, :, :14] = 0
        else:
            imgs[i, :, 14:] = 0
    return imgs.reshape(len(X), -1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--only-ce-epochs", type=int, default=10)
    ap.add_argument("--ascent-steps", type=int, default=10)
    ap.add_argument("--n-neg", type=int, default=100)
    ap.add_argument("--ascent-step-size", type=float, default=0.01)
    ap.add_argument("--radius", type=float, default=4.0)
    ap.add_argument("--gamma", type=float, default=2.0)
    ap.add_argument("--methods", default="DROCC-LF,DROCC,DROCC + outlier exposure,binary classifier",
                    help="comma-separated subset of the methods (to split the work into runs of a few minutes)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    ds = data.load(str(data.shared_data_dir() / "mnist" / "t10k-images-idx3-ubyte.gz"))
    cls = np.asarray(ds.classes)
    rows = []
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        zeros = rng.permutation(np.flatnonzero(cls == 0))
        ones = rng.permutation(np.flatnonzero(cls == 1))[:args.n_neg]
        k = int(0.6 * len(zeros))
        tr, te = zeros[:k], zeros[k:]
        X_tr = np.r_[ds.X[tr], ds.X[ones]]
        y_tr = np.r_[np.zeros(len(tr)), np.ones(len(ones))].astype(int)
        X_te = np.r_[ds.X[te], half_mask(ds.X[te], rng)]
        normal = np.r_[np.ones(len(te)), np.zeros(len(te))].astype(int)  # 1 = normal zero
        common = dict(radius=args.radius, gamma=args.gamma, ascent_step_size=args.ascent_step_size,
                      ascent_num_steps=args.ascent_steps,
                      epochs=args.epochs, only_ce_epochs=args.only_ce_epochs, input_shape=(1, 28, 28),
                      hidden=(64,), batch_size=128, lr=1e-3, random_state=seed)
        runs = {
            "DROCC-LF": (DROCCLF(**common), True),
            "DROCC": (DROCC(**common), False),
            "DROCC + outlier exposure": (DROCCOE(**common), True),
            "binary classifier": (DROCCLF(**{**common, "only_ce_epochs": args.epochs}), True),
        }
        for name, (model, labelled) in runs.items():
            if name not in args.methods.split(","):
                continue
            c0 = time.process_time()
            ticks: list[float] = []
            cb = [lambda rec, ticks=ticks: ticks.append(time.process_time())]
            if labelled:
                model.fit(X_tr, y_tr, callbacks=cb)
            else:
                model.fit(X_tr[y_tr == 0], callbacks=cb)
            cpu = time.process_time() - c0
            per_epoch = np.diff(np.r_[c0, ticks])
            adv_cpu = float(per_epoch[model.only_ce_epochs:].sum())
            normality = -model.decision_function(X_te)
            rec = {"method": name, "seed": seed,
                   "recall_at_3fpr": metrics.recall_at_fpr(normal, normality, 0.03),
                   "recall_at_5fpr": metrics.recall_at_fpr(normal, normality, 0.05),
                   "auroc": metrics.auroc(normal, normality),
                   "cpu_s_per_epoch": cpu / len(model.history_),
                   "cpu_s_per_adv_epoch": adv_cpu / max(len(per_epoch) - model.only_ce_epochs, 1),
                   "ascent_steps_per_cpu_s": model.n_grad_evals_ / adv_cpu if adv_cpu > 0 else float("nan")}
            rows.append(rec)
            print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in rec.items()}), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print(f"\nMNIST t10k, digit 0 normal, {args.n_neg} ones as limited negatives, half-masked zeros as close "
          f"negatives; {args.epochs} epochs ({args.only_ce_epochs} CE-only), {args.ascent_steps} ascent steps of "
          f"{args.ascent_step_size}, "
          f"r={args.radius}, gamma={args.gamma}; mean ± std over {args.seeds} seeds\n")
    print("| method | recall @ 3% FPR | recall @ 5% FPR | AUROC | CPU s/epoch (all) | CPU s/adversarial epoch "
          "| ascent steps / CPU s |")
    print("|---|---|---|---|---|---|---|")
    for name in dict.fromkeys(r["method"] for r in rows):
        rr = [r for r in rows if r["method"] == name]

        def ms(key, rr=rr):
            v = [r[key] for r in rr]
            return f"{np.mean(v):.3f} ± {np.std(v):.3f}"

        steps = np.array([r["ascent_steps_per_cpu_s"] for r in rr], dtype=float)
        print(f"| {name} | {ms('recall_at_3fpr')} | {ms('recall_at_5fpr')} | {ms('auroc')} | "
              f"{np.mean([r['cpu_s_per_epoch'] for r in rr]):.2f} | "
              f"{np.mean([r['cpu_s_per_adv_epoch'] for r in rr]):.2f} | "
              f"{np.nanmean(steps) if np.isfinite(steps).any() else float('nan'):.0f} |")


if __name__ == "__main__":
    main()
