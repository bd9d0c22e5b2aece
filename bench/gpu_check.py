"""CUDA self-check for a session with a GPU: the speed benchmark on CUDA vs CPU, and AMP.

    PYTHONPATH=. python -m bench.gpu_check [--rows 200000] [--batch 4096] [--cpu-threads 2] [--json PATH]

1. Correctness: an autoencoder fitted on CPU scores the same rows on CUDA (float32 tolerance),
   through the staged pinned-memory path; with ``amp = True`` (bfloat16) within a looser
   tolerance; a CUDA fit with AMP trains (finite, decreasing loss).
2. Speed: training throughput (rows/s per epoch) of the KDD-sized autoencoder and WALDO at a
   large batch, and scoring throughput, on CUDA (float32 and AMP) and on CPU, in one process;
   the CUDA/CPU ratios (issue 7 goal: >= 20x for training throughput at large batch).
   The same networks are also timed with bench.speed's bare loops on CUDA (our loop's overhead).
Exits with status 2 (and says so) when CUDA is not available.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from bench import speed
from bench.common import save_json
from odcore.models.autoencoder import AutoEncoder
from odcore.models.waldo import WALDO


def fit_rate(cls, X, Xp, device: str, batch: int, epochs: int, amp: bool = False, **kw) -> dict:
    m = cls(epochs=epochs, batch_size=batch, device=device, **kw)
    m.amp = amp
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    m.fit(X, X_pos=Xp) if Xp is not None else m.fit(X)
    secs = [r["seconds"] for r in m.history_[1:]] or [m.history_[0]["seconds"]]
    losses = [r["loss"] for r in m.history_]
    return {"rows_per_s": round(X.shape[0] / float(np.median(secs))), "s_per_epoch": round(float(np.median(secs)), 4),
            "loss_first": losses[0], "loss_last": losses[-1], "finite": bool(np.isfinite(losses).all()),
            "model": m}


def score_rate(m, X, repeats: int = 3) -> float:
    m.decision_function(X[:m.score_batch_size])
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        m.decision_function(X)
        best = min(best, time.perf_counter() - t0)
    return round(X.shape[0] / best)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200000)
    ap.add_argument("--batch", type=int, default=4096)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--cpu-threads", type=int, default=2)
    ap.add_argument("--score-rows", type=int, default=2_000_000)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("CUDA is not available: nothing to check (run this on a machine with an NVIDIA GPU)")
        sys.exit(2)
    torch.set_num_threads(a.cpu_threads)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(a.rows, 121)).astype(np.float32)
    Xp = rng.normal(size=(a.rows // 10, 121)).astype(np.float32)
    res: dict = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__, "rows": a.rows,
                 "batch": a.batch, "cpu_threads": a.cpu_threads, "date": time.strftime("%Y-%m-%d %H:%M")}

    # 1. correctness
    small = X[:5000]
    ref_m = AutoEncoder(latent=32, hidden=(64,), epochs=1, batch_size=256, device="cpu",
                        score_batch_size=1000).fit(small)
    ref = ref_m.decision_function(small)
    ref_m.nets_ = {k: v.to("cuda") for k, v in ref_m.nets_.items()}
    ref_m.device_ = "cuda"
    got = ref_m.decision_function(small)
    ref_m.amp = True
    got_amp = ref_m.decision_function(small)
    res["max_rel_diff_cuda_vs_cpu"] = float(np.max(np.abs(got - ref) / (np.abs(ref) + 1e-6)))
    res["max_rel_diff_cuda_amp_vs_cpu"] = float(np.max(np.abs(got_amp - ref) / (np.abs(ref) + 1e-6)))
    res["rank_corr_amp"] = float(np.corrcoef(np.argsort(np.argsort(got_amp)), np.argsort(np.argsort(ref)))[0, 1])

    # 2. speed: CUDA (fp32, AMP) vs CPU, ours
    ae_kw = {"latent": 32, "hidden": (64,), "lr": 1e-4}
    wa_kw = {"latent": 32, "hidden": (64,), "out_act": "linear"}
    n_cpu = min(a.rows, 50000)  # CPU epochs are slow: fewer rows, rows/s is what is compared
    out = {}
    for name, cls, kw, xp in (("autoencoder", AutoEncoder, ae_kw, None), ("waldo", WALDO, wa_kw, Xp)):
        cpu = fit_rate(cls, X[:n_cpu], None if xp is None else xp[:n_cpu // 10], "cpu", a.batch, 2, **kw)
        gpu = fit_rate(cls, X, xp, "cuda", a.batch, a.epochs, **kw)
        gpu_amp = fit_rate(cls, X, xp, "cuda", a.batch, a.epochs, amp=True, **kw)
        big = np.tile(X, (-(-a.score_rows // a.rows), 1))[:a.score_rows]
        gm = gpu.pop("model")
        cm = cpu.pop("model")
        gm.set_params(score_batch_size=65536)
        s_gpu = score_rate(gm, big)
        cm.set_params(score_batch_size=32768)
        s_cpu = score_rate(cm, big[:500_000], repeats=1)
        gpu_amp.pop("model")
        out[name] = {"cpu": cpu, "cuda": gpu, "cuda_amp": gpu_amp,
                     "train_ratio_cuda_vs_cpu": round(gpu["rows_per_s"] / cpu["rows_per_s"], 1),
                     "train_ratio_amp_vs_fp32": round(gpu_amp["rows_per_s"] / gpu["rows_per_s"], 2),
                     "score_rows_per_s_cuda": s_gpu, "score_rows_per_s_cpu": s_cpu,
                     "score_ratio_cuda_vs_cpu": round(s_gpu / s_cpu, 1)}
    res["throughput"] = out
    # our loop vs the bare loop on CUDA (same networks as bench.speed)
    res["overhead_cuda"] = [speed.waldo_overhead(X[:100000], Xp[:10000], a.batch, 4, "cuda"),
                            speed.ae_overhead(X[:100000], a.batch, 4, "cuda"),
                            speed.drocc_overhead(X[:20000], 1024, 3, 50, "cuda")]
    print(json.dumps(res, indent=1))
    save_json(res, a.json)
    return res


if __name__ == "__main__":
    main()
