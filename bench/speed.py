"""Speed of the shared training loop, of scoring and of DROCC's search, measured as ratios in one process.

    PYTHONPATH=. python -m bench.speed [--rows 20000] [--epochs 4] [--threads 2] [--device cpu] [--json PATH]

1. Training overhead: odcore's loop against a bare PyTorch loop of the same networks, batch
   size and data, for (a) WALDO's KDD network (encoder 121-64-32, two decoders 32-64-121,
   discriminator 32-32-1; one discriminator step and one autoencoder step per batch pair),
   (b) DROCC's tabular network d-128-1 with its adversarial search, and (c) the plain
   autoencoder. Epochs are interleaved: a callback of our fit runs one bare epoch after each of
   our epochs, so machine noise hits both alike. Goal (issue 7): ours <= 1.25x the bare loop.
2. Scoring throughput of the KDD-sized autoencoder (121-64-32-64-121, the inlier path of WALDO's
   KDD network): rows/s through ``decision_function`` at several batch sizes and thread counts,
   against a bare ``model(x)`` loop over a prepared tensor and against our own path with the
   oneDNN fusion switched off (``_score_fused = False``), interleaved in one process; also CPU
   seconds per million rows (goal >= 1M rows/s on 2 cores).
3. DROCC's adversarial search: ascent steps per second (each step = forward + input-gradient
   of one batch).

The load average is recorded with every section: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from bench.common import load, machine, save_json
from odcore.models import nets
from odcore.models.autoencoder import AutoEncoder


def _summary(name: str, bs: int, bare: list[float], ours: list[float], rows: int) -> dict:
    # the first epoch of each side warms allocators and Adam's state: dropped when there are >= 3
    b = bare[1:] if len(bare) >= 3 else bare
    o = ours[1:] if len(ours) >= 3 else ours
    mb, mo = statistics.median(b), statistics.median(o)
    return {"network": name, "batch_size": bs, "epochs_timed": len(o), "bare_s_per_epoch": round(mb, 4),
            "ours_s_per_epoch": round(mo, 4), "ratio": round(mo / mb, 3),
            "ours_rows_per_s": round(rows / mo), "load": load()}


# ---------------------------------------------------------------------- WALDO
def _waldo_bare_nets(d: int, device):
    torch.manual_seed(1)
    enc = nets.encoder(d, 32, hidden=(64,))
    dec_in = nets.decoder(d, 32, hidden=(64,))
    dec_out = nets.decoder(d, 32, hidden=(64,))
    dec_out.load_state_dict(dec_in.state_dict())
    disc = nets.mlp([32, 32, 1], act="leaky_relu", dropout=0.2)
    mods = [m.to(device) for m in (enc, dec_in, dec_out, disc)]
    opt_ae = torch.optim.Adam([p for m in mods[:3] for p in m.parameters()], lr=1e-4)
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-4)
    return mods, opt_ae, opt_d


def waldo_bare_epoch(state, Xu: torch.Tensor, Xp: torch.Tensor, bs: int, gen, lam: float = 0.1) -> float:
    """The WALDO step of odcore.models.waldo written as a bare loop (same batches and terms)."""
    (enc, dec_in, dec_out, disc), opt_ae, opt_d = state
    dev = Xu.device
    t0 = time.perf_counter()
    for m in (enc, dec_in, dec_out, disc):
        m.train()
    n_u, n_p = Xu.shape[0], Xp.shape[0]
    nb = -(-n_u // bs)
    perm_u = torch.randperm(n_u, generator=gen).to(dev)
    bp = min(bs, n_p)
    flat = torch.cat([torch.randperm(n_p, generator=gen) for _ in range(-(-nb * bp // n_p))])[:nb * bp].to(dev)
    for k in range(nb):
        u, p = Xu[perm_u[k * bs:(k + 1) * bs]], Xp[flat[k * bp:(k + 1) * bp]]
        with torch.no_grad():
            zs = enc(p)
        z = torch.randn(zs.shape, generator=gen).to(dev)
        d_real, d_fake = disc(z), disc(zs)
        loss_d = lam * (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                        + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        zp, zu = enc(p), enc(u)
        l_p = ((dec_in(zp) - p) ** 2).mean(1)
        l_ui = ((dec_in(zu) - u) ** 2).mean(1)
        l_uo = ((dec_out(zu) - u) ** 2).mean(1)
        with torch.no_grad():
            adv = l_uo.min() - l_p.min()
            y = (l_uo < l_ui + adv).float()
        d_q = disc(zp)
        loss = ((y * l_uo + (1 - y) * l_ui).mean() + l_p.mean()
                + lam * F.binary_cross_entropy_with_logits(d_q, torch.ones_like(d_q)))
        opt_ae.zero_grad(set_to_none=True)
        loss.backward()
        opt_ae.step()
    float(loss.detach())  # one host sync, as ours does per epoch
    return time.perf_counter() - t0


def waldo_overhead(Xu: np.ndarray, Xp: np.ndarray, bs: int, epochs: int, device: str = "cpu") -> dict:
    from odcore.models.waldo import WALDO

    dev = torch.device(device)
    Xu_t, Xp_t = torch.from_numpy(Xu).to(dev), torch.from_numpy(Xp).to(dev)
    state = _waldo_bare_nets(Xu.shape[1], dev)
    gen = torch.Generator().manual_seed(0)
    waldo_bare_epoch(state, Xu_t, Xp_t, bs, gen)  # warm-up
    bare: list[float] = []
    m = WALDO(epochs=epochs, batch_size=bs, hidden=(64,), latent=32, out_act="linear", device=device)
    m.fit(Xu, X_pos=Xp, callbacks=[lambda rec: bare.append(waldo_bare_epoch(state, Xu_t, Xp_t, bs, gen))])
    return _summary("waldo 121-64-32 x2 dec + disc", bs, bare, [r["seconds"] for r in m.history_], Xu.shape[0])


# ---------------------------------------------------------------------- DROCC
def drocc_bare_epoch(state, X: torch.Tensor, bs: int, gen, steps: int, radius: float, gamma: float = 2.0,
                     eta: float = 0.001, every: int = 10) -> float:
    """DROCC (Algorithm 1: CE + adversarial search, projection every ``every`` steps) as a bare loop."""
    f, opt = state
    dev = X.device
    t0 = time.perf_counter()
    f.train()
    perm = torch.randperm(X.shape[0], generator=gen).to(dev)
    for i in range(0, X.shape[0], bs):
        x = X[perm[i:i + bs]]
        ce = F.binary_cross_entropy_with_logits(f(x).squeeze(1), torch.ones(x.shape[0], device=dev))
        noise = torch.randn(x.shape, generator=gen).to(dev)
        x_adv = x + noise
        zeros = torch.zeros(x.shape[0], device=dev)
        for s in range(steps):
            x_adv = x_adv.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(f(x_adv).squeeze(1), zeros), [x_adv])
            x_adv = x_adv.detach() + eta * g / (g.norm(dim=1, keepdim=True) + 1e-12)
            if (s + 1) % every == 0 or s == steps - 1:
                h = x_adv - x
                n = h.norm(dim=1, keepdim=True)
                x_adv = x + h * (n.clamp(radius, gamma * radius) / (n + 1e-12))
        adv = F.binary_cross_entropy_with_logits(f(x_adv.detach()).squeeze(1), zeros)
        loss = ce + adv
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    float(loss.detach())
    return time.perf_counter() - t0


def drocc_overhead(X: np.ndarray, bs: int, epochs: int, steps: int, device: str = "cpu") -> dict | None:
    try:
        from odcore.models.drocc import DROCC
    except ImportError:
        return None
    dev = torch.device(device)
    d = X.shape[1]
    Xt = torch.from_numpy(X).to(dev)
    torch.manual_seed(1)
    f = nets.mlp([d, 128, 1], act="relu").to(dev)
    state = (f, torch.optim.Adam(f.parameters(), lr=1e-3))
    gen = torch.Generator().manual_seed(0)
    radius = float(np.sqrt(d) / 2)
    drocc_bare_epoch(state, Xt, bs, gen, steps, radius)  # warm-up
    bare: list[float] = []
    m = DROCC(epochs=epochs, only_ce_epochs=0, ascent_num_steps=steps, batch_size=bs, device=device)
    m.fit(X, callbacks=[lambda rec: bare.append(drocc_bare_epoch(state, Xt, bs, gen, steps, radius))])
    out = _summary(f"drocc {d}-128-1, {steps} ascent steps", bs, bare, [r["seconds"] for r in m.history_],
                   X.shape[0])
    n_batches = -(-X.shape[0] // bs)
    out["ours_ascent_steps_per_s"] = round(steps * n_batches / out["ours_s_per_epoch"])
    out["bare_ascent_steps_per_s"] = round(steps * n_batches / out["bare_s_per_epoch"])
    out["ours_ascent_rows_per_s"] = round(steps * X.shape[0] / out["ours_s_per_epoch"])
    return out


# ---------------------------------------------------------------------- autoencoder
def ae_bare_epoch(state, X: torch.Tensor, bs: int, gen) -> float:
    enc, dec, opt = state
    t0 = time.perf_counter()
    perm = torch.randperm(X.shape[0], generator=gen).to(X.device)
    for i in range(0, X.shape[0], bs):
        x = X[perm[i:i + bs]]
        loss = ((dec(enc(x)) - x) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    float(loss.detach())
    return time.perf_counter() - t0


def ae_overhead(X: np.ndarray, bs: int, epochs: int, device: str = "cpu") -> dict:
    dev = torch.device(device)
    d = X.shape[1]
    Xt = torch.from_numpy(X).to(dev)
    torch.manual_seed(1)
    enc, dec = nets.encoder(d, 32, hidden=(64,)).to(dev), nets.decoder(d, 32, hidden=(64,)).to(dev)
    state = (enc, dec, torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-4))
    gen = torch.Generator().manual_seed(0)
    ae_bare_epoch(state, Xt, bs, gen)
    bare: list[float] = []
    m = AutoEncoder(latent=32, hidden=(64,), epochs=epochs, batch_size=bs, lr=1e-4, device=device)
    m.fit(X, callbacks=[lambda rec: bare.append(ae_bare_epoch(state, Xt, bs, gen))])
    return _summary("autoencoder 121-64-32-64-121", bs, bare, [r["seconds"] for r in m.history_], X.shape[0])


# ---------------------------------------------------------------------- scoring
def scoring_throughput(X: np.ndarray, rows: int, batch_sizes=(2048, 8192, 32768), threads=(1, 2),
                       device: str = "cpu", repeats: int = 3) -> list[dict]:
    """decision_function rows/s (best of ``repeats``) against a bare inference loop of the same net."""
    m = AutoEncoder(latent=32, hidden=(64,), epochs=1, batch_size=1024, device=device).fit(X[:5000])
    big = np.tile(X, (-(-rows // X.shape[0]), 1))[:rows]
    big_t = torch.from_numpy(big).to(device)
    out = []
    old = torch.get_num_threads()
    for th in threads:
        torch.set_num_threads(th)
        for bs in batch_sizes:
            m.set_params(score_batch_size=bs)
            m.decision_function(big[:bs])

            def bare(bs=bs):
                with torch.inference_mode():
                    for i in range(0, rows, bs):
                        xb = big_t[i:i + bs]
                        ((m._forward(xb) - xb) ** 2).mean(dim=1).cpu()

            def plain():
                m._score_fused = False
                try:
                    m.decision_function(big)
                finally:
                    del m._score_fused

            sides = {"bare": bare, "ours": lambda: m.decision_function(big), "plain": plain}
            wall: dict = {k: [] for k in sides}
            cpu: dict = {k: [] for k in sides}
            for _ in range(repeats):  # interleaved
                for k, fn in sides.items():
                    c0, t0 = time.process_time(), time.perf_counter()
                    fn()
                    wall[k].append(time.perf_counter() - t0)
                    cpu[k].append(time.process_time() - c0)
            o, b, p = min(wall["ours"]), min(wall["bare"]), min(wall["plain"])
            out.append({"threads": th, "score_batch_size": bs, "rows": rows, "ours_rows_per_s": round(rows / o),
                        "bare_rows_per_s": round(rows / b), "ratio": round(o / b, 3),
                        "unfused_rows_per_s": round(rows / p), "fused_speedup": round(p / o, 3),
                        "ours_cpu_s_per_M": round(min(cpu["ours"]) * 1e6 / rows, 3),
                        "bare_cpu_s_per_M": round(min(cpu["bare"]) * 1e6 / rows, 3),
                        "unfused_cpu_s_per_M": round(min(cpu["plain"]) * 1e6 / rows, 3), "load": load()})
            print(json.dumps(out[-1]), flush=True)  # partial results survive a killed run
    torch.set_num_threads(old)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20000, help="training rows (KDD width 121)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--score-rows", type=int, default=1_000_000)
    ap.add_argument("--ascent-steps", type=int, default=50)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--only", default="waldo,drocc,ae,score", help="comma-separated sections")
    ap.add_argument("--score-batch-sizes", default="2048,8192,32768")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved repeats per scoring setting (best kept)")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(a.rows, 121)).astype(np.float32)  # KDD width
    Xp = rng.normal(size=(max(256, a.rows // 10), 121)).astype(np.float32)
    only = set(a.only.split(","))
    res: dict = machine(torch=torch.__version__, threads=a.threads, device=a.device, training=[])
    def add(key: str, r) -> None:
        res.setdefault(key, []).extend(r if isinstance(r, list) else [r])
        print(json.dumps(r), flush=True)  # partial results survive a killed run

    for bs in (256, 1024):
        if "waldo" in only:
            add("training", waldo_overhead(X, Xp, bs, a.epochs, a.device))
        if "ae" in only:
            add("training", ae_overhead(X, bs, a.epochs, a.device))
    if "drocc" in only:
        add("training", drocc_overhead(X[:4096], 256, a.epochs, a.ascent_steps, a.device))
    if "score" in only:
        ths = sorted({1, a.threads}) if a.device == "cpu" else [a.threads]
        bss = tuple(int(v) for v in a.score_batch_sizes.split(","))
        add("scoring", scoring_throughput(X, a.score_rows, batch_sizes=bss, threads=ths, device=a.device,
                                          repeats=a.repeats))
    res["load_end"] = load()
    print(json.dumps(res, indent=1))
    save_json(res, a.json)
    return res


if __name__ == "__main__":
    main()
