"""Speed of the shared training loop and of scoring, measured as ratios in one process.

    python -m bench.speed [--rows 60000] [--epochs 3] [--threads 2] [--json PATH]

1. Training overhead: odcore's loop (AutoEncoder with the WALDO KDD network sizes,
   121-64-32 / 32-64-121) against a bare PyTorch loop of the same network, batch size and
   data; epochs interleaved (bare, ours, bare, ours ...) so machine noise hits both alike.
   Goal (issue 7): ours <= 1.25x the bare loop per epoch.
2. Scoring throughput of the same network, rows/s at several batch sizes (goal >= 1M rows/s).
3. DROCC's adversarial search, ascent steps per second (when odcore.models.drocc exists).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch
from torch import nn

from odcore.models import nets
from odcore.models.autoencoder import AutoEncoder


def bare_epoch(enc: nn.Module, dec: nn.Module, opt, X: torch.Tensor, bs: int, gen) -> float:
    t0 = time.perf_counter()
    perm = torch.randperm(X.shape[0], generator=gen)
    for i in range(0, X.shape[0], bs):
        x = X[perm[i:i + bs]]
        loss = ((dec(enc(x)) - x) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def training_overhead(X: np.ndarray, batch_sizes=(120, 1024), epochs: int = 3) -> list[dict]:
    out = []
    d = X.shape[1]
    Xt = torch.from_numpy(X)
    for bs in batch_sizes:
        torch.manual_seed(0)
        enc = nets.encoder(d, 32, hidden=(64,))
        dec = nets.decoder(d, 32, hidden=(64,))
        opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-4)
        gen = torch.Generator().manual_seed(0)
        bare_epoch(enc, dec, opt, Xt, bs, gen)  # warm-up
        ours_times, bare_times = [], []
        for _ in range(epochs):
            bare_times.append(bare_epoch(enc, dec, opt, Xt, bs, gen))
            m = AutoEncoder(latent=32, hidden=(64,), epochs=1, batch_size=bs, lr=1e-4, device="cpu")
            m.fit(X)
            ours_times.append(m.history_[0]["seconds"])
        b, o = statistics.median(bare_times), statistics.median(ours_times)
        out.append({"batch_size": bs, "bare_s_per_epoch": b, "ours_s_per_epoch": o, "ratio": o / b,
                    "ours_samples_per_s": X.shape[0] / o})
    return out


def scoring_throughput(X: np.ndarray, batch_sizes=(1024, 8192, 65536)) -> list[dict]:
    m = AutoEncoder(latent=32, hidden=(64,), epochs=1, batch_size=1024, device="cpu").fit(X[:5000])
    big = np.tile(X, (max(1, 1_000_000 // X.shape[0]), 1))
    out = []
    for bs in batch_sizes:
        m.set_params(score_batch_size=bs)
        m.decision_function(big[:bs])
        t0 = time.perf_counter()
        m.decision_function(big)
        dt = time.perf_counter() - t0
        out.append({"score_batch_size": bs, "rows": big.shape[0], "seconds": dt, "rows_per_s": big.shape[0] / dt})
    return out


def drocc_ascent(X: np.ndarray) -> dict | None:
    try:
        from odcore.models.drocc import DROCC
    except ImportError:
        return None
    m = DROCC(epochs=2, only_ce_epochs=1, ascent_num_steps=50, batch_size=256, device="cpu")
    t0 = time.perf_counter()
    m.fit(X[:4096])
    dt = m.history_[-1]["seconds"]
    steps = 50 * int(np.ceil(4096 / 256))
    return {"rows": 4096, "ascent_steps_per_epoch": steps, "adversarial_epoch_s": dt,
            "ascent_steps_per_s": steps / dt, "total_s": time.perf_counter() - t0}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=60000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(a.rows, 121)).astype(np.float32)  # KDD width
    res = {
        "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
        "threads": a.threads, "date": time.strftime("%Y-%m-%d"),
        "training": training_overhead(X, epochs=a.epochs),
        "scoring": scoring_throughput(X),
        "drocc": drocc_ascent(np.ascontiguousarray(X[:, :6])),
    }
    print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
    return res


if __name__ == "__main__":
    main()
