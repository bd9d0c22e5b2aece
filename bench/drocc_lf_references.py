"""Training-free references for the DROCC-LF MNIST protocol (``bench/drocc_lf_mnist.py --train-set 60k``):
how far a plain 1-nearest-neighbour distance to the training zeros and an ink-count score get on the same
test sets (the t10k zeros against the t10k ones and the masked zeros), to say what the data allow.

    PYTHONPATH=. .venv/bin/python -m bench.drocc_lf_references --json bench/results/drocc_lf_mnist60k_references.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from bench.drocc_lf_mnist import build_split_60k, recall_at_fpr
from odcore import data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    from sklearn.neighbors import NearestNeighbors

    root = data.shared_data_dir() / "mnist"
    tr, te = data.load(str(root / "train-images-idx3-ubyte.gz")), data.load(str(root / "t10k-images-idx3-ubyte.gz"))
    out = []
    for seed in range(args.seeds):  # the seed draws the masks
        sp = build_split_60k(tr, te, seed, argparse.Namespace(val=0, n_neg=None, mask_frac=0.4))
        zeros = sp["X_tr"][sp["y_tr"] == 0]
        nn = NearestNeighbors(n_neighbors=1).fit(zeros)
        keys = ("pos", "far", "close_pixel", "close_half")
        scores = {"1-NN distance to training zeros": {k: -nn.kneighbors(sp[k])[0][:, 0] for k in keys},
                  "|ink - mean ink of training zeros|": {k: -np.abs(sp[k].sum(1) - zeros.sum(1).mean()) for k in keys}}
        for name, s in scores.items():
            pooled = np.r_[s["far"], s["close_pixel"]]
            r = {"score": name, "seed": seed, "recall3_pooled": recall_at_fpr(s["pos"], pooled, 0.03),
                 "recall5_pooled": recall_at_fpr(s["pos"], pooled, 0.05),
                 "recall3_pixel": recall_at_fpr(s["pos"], s["close_pixel"], 0.03),
                 "recall3_half": recall_at_fpr(s["pos"], s["close_half"], 0.03),
                 "recall3_far": recall_at_fpr(s["pos"], s["far"], 0.03)}
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}), flush=True)
            out.append(r)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
