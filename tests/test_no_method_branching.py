"""No file outside odcore/models/ branches on a method's name: pages, ui/, plots, analysis, runs, jobs and
the CLI ask a detector's declared capabilities (and its setting, uses_labels, needs_positives) instead.

Method names may appear only where runs are *declared*: the recipes and presets (odcore/recipes/) and the
papers' numbers keyed by method. Any other string literal equal to a registered method name fails.
"""

import ast
from pathlib import Path

from odcore.models import registry

ROOT = Path(__file__).resolve().parents[1]
#: declarations of runs and of the papers' numbers: naming methods is their purpose (the app's presets too)
DECLARATIONS = ("odcore/recipes/", "ui/presets.py")
#: "pca" here is the embedding method (PCA / t-SNE / UMAP), and "drocc" in the data layer is the DROCC
#: split protocol, not the detectors of the same names; "auto" everywhere is also the "choose for me" value
#: of many options (device, file format, bins ...), besides the ``auto`` detector; "waldo" in ui/pages.py is the
#: stem of the WALDO decoders page's script
OTHER_MEANINGS = {"": {"auto"}, "odcore/embed.py": {"pca"}, "odcore/data/": {"drocc"}, "app_pages/latent.py": {"pca"},
                  "ui/": {"pca"}, "odcore/plots.py": {"pca"}, "odcore/runs/": {"drocc"}, "ui/pages.py": {"waldo"}}


def files():
    for p in [ROOT / "app.py", *sorted((ROOT / "app_pages").glob("*.py")), *sorted((ROOT / "ui").glob("*.py")),
              *sorted((ROOT / "odcore").rglob("*.py"))]:
        rel = p.relative_to(ROOT).as_posix()
        if rel.startswith("odcore/models/") or rel.startswith(DECLARATIONS):
            continue
        yield rel, p


def allowed(rel: str) -> set[str]:
    out: set[str] = set()
    for prefix, names in OTHER_MEANINGS.items():
        if rel == prefix or rel.startswith(prefix):
            out |= names
    return out


def test_no_method_name_outside_models_and_declarations():
    names = set(registry.available())
    hits = []
    for rel, path in files():
        ok = allowed(rel)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names - ok:
                hits.append(f"{rel}:{node.lineno}: {node.value!r}")
    assert hits == [], "method names outside odcore/models (ask the capabilities instead):\n" + "\n".join(hits)


def test_the_check_sees_a_branch_on_a_name(tmp_path):
    """The scan finds the pattern it forbids (so the test above can fail)."""
    src = 'if method == "waldo":\n    pass\n'
    found = [n.value for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Constant) and n.value == "waldo"]
    assert found == ["waldo"]
