"""One command per paper table: ``odcore reproduce NAME`` (declarations that name methods and settings).

Each :class:`PaperTable` lists the ``bench/`` commands that reproduce one table of a paper at its full
budget, with the paper's protocol, and the results file they write (the same table BENCHMARKS.md shows,
after ``python -m bench.collect``). The settings live in the bench scripts and in the figure recipes
(:mod:`odcore.recipes`): this module only names the commands, so the benchmarks, the app and this command
cannot drift apart. Expected run times are measured on the project's 2-core machine, one torch thread per
process (BENCHMARKS.md has each measurement).

The paper figures at their full budget are ``odcore reproduce figures`` (every recipe, ``bench.figures``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PaperTable", "TABLES", "get", "names"]


@dataclass(frozen=True)
class PaperTable:
    """A paper table: the commands (``python -m MODULE ARGS``, run in order from the source checkout)."""

    name: str
    paper: str
    what: str
    steps: tuple[tuple[str, ...], ...]
    hours_2_cores: float
    results: str
    note: str = ""

    def commands(self) -> list[str]:
        """The steps as shell lines (``OMP_NUM_THREADS=1 python -m ...``)."""
        import shlex

        return ["OMP_NUM_THREADS=1 python -m " + shlex.join(step) for step in self.steps]


def _per(values, make):
    return tuple(make(v) for v in values)


#: DROCC-LF's MNIST table: method, file name, extra options (plain DROCC without the one-class warm-up)
_LF_METHODS = (("DROCC-LF", "lf", ()), ("DROCC + outlier exposure", "oe", ()), ("binary classifier", "binary", ()),
               ("DROCC", "drocc", ("--only-ce-epochs", "0")))
#: the DROCC authors' MNIST recipe (EdgeML main_drocclf_mnist.py and drocclf_trainer.py): their LeNet with batch norm,
#: z-scored pixels, 100 epochs of which 50 cross-entropy only, 50 ascent steps of 0.001, r 0.2, gamma 2, per-point
#: metric weights, lr x0.1 after 40 % and x0.01 after 80 % of the adversarial epochs (epochs 71 and 91)
_LF_AUTHORS = ("--net", "lenet", "--zscore", "--epochs", "100", "--only-ce-epochs", "50", "--ascent-steps", "50",
               "--ascent-step-size", "0.001", "--radius", "0.2", "--gamma", "2", "--mu", "1", "--metric-weights",
               "point", "--lr-milestones", "71", "91", "--bn-train-scoring", "--label", "authors' recipe")
_T2 = ("thyroid", "arrhythmia", "abalone")
_NUS = ("0.05", "0.1", "0.2", "0.5")
_KDD_AUTHORS = ("--data", "kdd", "--protocol", "authors", "--seeds", "4", "--seed0", "11", "--epochs", "401",
                "--batch", "3000", "--lr", "1e-4", "--checkpoint-every", "20")

TABLES: dict[str, PaperTable] = {t.name: t for t in (
    PaperTable(
        "waldo-table1-kdd", "WALDO (Table 1, KDD Cup 99)",
        "AUROC / AUPRC of WALDO, CoRa + advantage, WAE-GAN, Isolation Forest and Deep SVDD at every nu, the "
        "authors' protocol (5,000 labelled inliers, 5,000 unlabelled rows), 4 seeds",
        _per(_NUS, lambda nu: ("bench.waldo_table1", *_KDD_AUTHORS, "--nus", nu, "--methods", "WALDO", "--latent",
                               "--json", f"bench/results/waldo_authors_waldo_lr1e-4_nu{nu}.json"))
        + _per(_NUS, lambda nu: ("bench.waldo_table1", *_KDD_AUTHORS, "--nus", nu, "--methods",
                                 "CoRa+adv,WAE-GAN,IForest (X_pos),Deep SVDD (X_pos)",
                                 "--json", f"bench/results/waldo_authors_baselines_nu{nu}.json")),
        3.0, "bench/results/waldo.md"),
    PaperTable(
        "waldo-table1-mnist", "WALDO (Table 1, MNIST)",
        "AUROC / AUPRC of WALDO with the authors' convolutional WAE networks, 1,031 labelled zeros of the 60k "
        "training set, the t10k mixture, every nu, 3 seeds",
        (("bench.waldo_mnist_paper", "--nus", ",".join(_NUS), "--seeds", "3",
          "--json", "bench/results/waldo_mnist_paper.json"),),
        84.0, "bench/results/waldo.md",
        note="401 epochs of the authors' networks take about 7 h per fit on 2 CPU cores (63 s per epoch measured): "
             "run it on a GPU (the script uses one when torch sees it)."),
    PaperTable(
        "drocc-table2", "DROCC (Table 2: Thyroid, Arrhythmia, Abalone)",
        "F1 of DROCC, Deep SVDD, OC-SVM, Isolation Forest and LOF on the ODDS files, 5 seeds",
        tuple(("bench.drocc_table2", "--seeds", "5", "--datasets", d, "--json", f"bench/results/drocc_t2_{d}.json")
              for d in _T2) + (("bench.drocc_table2", "--seeds", "5", "--from-json",
                                *(f"bench/results/drocc_t2_{d}.json" for d in _T2)),),
        0.6, "bench/results/drocc.md"),
    PaperTable(
        "drocc-lf-mnist", "DROCC-LF (MNIST 0 vs 1, limited negatives)",
        "recall at 3% / 5% FPR of DROCC-LF, DROCC, DROCC + outlier exposure and a binary classifier: the 60k "
        "training set's zeros and ones, t10k zeros against t10k ones and masked zeros, 3 seeds",
        tuple(("bench.drocc_lf_mnist", "--train-set", "60k", "--seeds", "3", "--methods", m, *extra,
               "--json", f"bench/results/drocc_lf_mnist60k_{slug}.json") for m, slug, extra in _LF_METHODS)
        + (("bench.drocc_lf_mnist", "--from-json",
            *(f"bench/results/drocc_lf_mnist60k_{slug}.json" for _, slug, _ in _LF_METHODS)),),
        3.5, "bench/results/drocc.md",
        note="plain DROCC without the cross-entropy warm-up (the warm-up collapses it on one class, BENCHMARKS.md)"),
    PaperTable(
        "drocc-lf-mnist-authors", "DROCC-LF (MNIST 0 vs 1) with the authors' exact recipe",
        "recall at 3% / 5% FPR of DROCC-LF with the authors' LeNet (batch norm), z-scored pixels, 100 epochs, 50 "
        "ascent steps of 0.001, r 0.2, on the 60k protocol, one process per seed; also scored as the authors' test() "
        "does (batch norm in training mode) and after recomputing the batch-norm statistics on the training rows",
        tuple(("bench.drocc_lf_mnist", "--train-set", "60k", "--seeds", "1", "--seed0", s, "--methods", "DROCC-LF",
               *_LF_AUTHORS, "--diag", "--json", f"bench/results/drocc_lf_mnist60k_authors_s{s}.json")
              for s in ("0", "1", "2"))
        + (("bench.drocc_lf_mnist", "--from-json",
            *(f"bench/results/drocc_lf_mnist60k_authors_s{s}.json" for s in ("0", "1", "2"))),),
        4.5, "bench/results/drocc.md",
        note="about 90 CPU s per adversarial epoch (50 ascent steps through the LeNet): 1.4 CPU hours per seed"),
    PaperTable(
        "alad-kdd", "ALAD (Table 2, KDD Cup 99 row)",
        "precision / recall / F1 at the top 20% of ALAD's four scores, z-scored features, lr 1e-3, 40 epochs, "
        "3 seeds",
        tuple(("bench.alad_kdd", "--train-rows", "20000", "--epochs", "40", "--patience", "40", "--seed", s,
               "--json", f"bench/results/alad_z_lr1e-3_40ep_seed{s}.json") for s in ("0", "1", "2")),
        0.4, "bench/results/alad_ocnn.md"),
    PaperTable(
        "ocnn", "OC-NN (synthetic Gaussians, Fig. 3; MNIST 4 against the rest, Fig. 4)",
        "AUROC and mean scores of OC-NN with the paper's activations and the radial extension",
        (("bench.ocnn_bench", "--budget", "full", "--out", "bench/results"),),
        0.2, "bench/results/alad_ocnn.md"),
    PaperTable(
        "figures", "every paper figure (WALDO, DROCC, OC-NN, ALAD, latent maps)",
        "each figure recipe at its full budget, with the check of the idea the figure must show",
        (("bench.figures", "--budget", "full", "--write"),),
        1.0, "bench/results/figures.md"),
)}


def names() -> list[str]:
    """The table names, in the order of :data:`TABLES`."""
    return list(TABLES)


def get(name: str) -> PaperTable:
    """The table called ``name`` (an :class:`~odcore.errors.InputError` lists the names otherwise)."""
    from odcore.errors import InputError

    if name not in TABLES:
        raise InputError(f"unknown paper table {name!r}; choose one of: {', '.join(TABLES)} "
                         "(`odcore reproduce` lists them with their run times)")
    return TABLES[name]
