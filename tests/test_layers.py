"""Imports run one way: the odcore import graph has no cycle and no module imports a higher layer.

The graph is built from the source with ``ast`` (imports inside functions included, and
``importlib.import_module`` / ``__import__`` calls with a literal name), not by importing anything.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "odcore"

#: Layer ranks, lowest first: a module may import modules of its own rank or lower. A key names a
#: module, or a package and everything in it; the longest matching key decides. See ARCHITECTURE.md.
LAYERS: dict[str, int] = {
    # core helpers: errors, the JSON helpers, metrics, the package itself (its __version__)
    "odcore": 0, "odcore.errors": 0, "odcore.jsonio": 0, "odcore.metrics": 0,
    # a saved network's score evaluated with NumPy (no torch): the scoring path's fast lane
    "odcore.program": 0,
    # deployment settings (environment variables and the settings file); declared settings (Param); user text
    # made literal for the renderers (Markdown, Plotly)
    "odcore.settings": 0, "odcore.params": 0, "odcore.markup": 0,
    # datasets: built-ins, formats, named sources, protocols, the standardiser
    "odcore.data": 1,
    # each series' expectation, deviation rows and series-aware fill (used by the table preparation)
    "odcore.series": 1,
    # the run store persists plain records: nothing above the data layer
    "odcore.runs.store": 2, "odcore.runs.marks": 2, "odcore.runs.tables": 2,
    # detectors, their registry and the shared training loop
    "odcore.models": 3,
    # analysis of scores and latents, figures (pure functions of arrays)
    "odcore.analysis": 4, "odcore.embed": 4, "odcore.plots": 4,
    # runs: spec, execute, rebuild, scoring, grid engines
    "odcore.runs": 5, "odcore.runs.ray_scoring": 5,
    # recipes: several runs for one paper figure
    "odcore.recipes": 6,
    # background jobs
    "odcore.jobs": 7,
    # the command line
    "odcore.cli": 8, "odcore.__main__": 8,
}


def module_files() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the package."""
    out = {}
    for path in sorted((ROOT / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def rank(module: str) -> int | None:
    """The layer rank of ``module`` (the longest key of LAYERS that is it or a package above it)."""
    best = None
    for key, r in LAYERS.items():
        exact_root = key == PACKAGE and module != PACKAGE  # "odcore" ranks only the package itself
        if (module == key or module.startswith(key + ".")) and not exact_root:
            if best is None or len(key) > len(best[0]):
                best = (key, r)
    return None if best is None else best[1]


def _target(name: str, modules: set[str]) -> str | None:
    """The most specific package module that importing ``name`` loads (None outside the package)."""
    parts = name.split(".")
    while parts:
        cand = ".".join(parts)
        if cand in modules:
            return cand
        parts.pop()
    return None


def imports_of(module: str, path: Path, modules: set[str]) -> set[str]:
    """Package modules that ``module`` imports anywhere in its source."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_pkg = path.name == "__init__.py"
    here = module.split(".") if is_pkg else module.split(".")[:-1]
    out: set[str] = set()

    def add(name: str) -> None:
        t = _target(name, modules)
        if t is not None and t != module:
            out.add(t)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                src = ".".join(base + ([node.module] if node.module else []))
            else:
                src = node.module or ""
            for a in node.names:
                full = f"{src}.{a.name}"
                add(full if full in modules else src)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            fn = node.func
            called = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if called in ("import_module", "__import__"):
                add(node.args[0].value)
    return out


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    names = set(files)
    return {m: imports_of(m, p, names) for m, p in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_every_module_has_a_layer():
    unranked = [m for m in module_files() if rank(m) is None]
    assert not unranked, f"add these modules to LAYERS in {Path(__file__).name}: {unranked}"


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_module_imports_a_higher_layer():
    bad = [f"{m} (layer {rank(m)}) imports {n} (layer {rank(n)})"
           for m, targets in sorted(import_graph().items()) for n in sorted(targets)
           if rank(n) is not None and rank(m) is not None and rank(n) > rank(m)]
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_the_store_imports_nothing_above_the_data_layer():
    graph = import_graph()
    above = sorted(n for n in graph["odcore.runs.store"] if rank(n) > LAYERS["odcore.data"])
    assert above == [], above


#: what odcore never imports: the clients (the app, its pages and helpers, the benches, the tests) and Streamlit
CLIENTS = ("streamlit", "app", "app_pages", "ui", "bench", "tests")


def outside_imports(path: Path) -> set[str]:
    """The top-level names of every absolute import in a file (inside functions and import_module included)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            fn = node.func
            called = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
            if called in ("import_module", "__import__"):
                out.add(node.args[0].value.split(".")[0])
    return out


def test_odcore_never_imports_its_clients():
    """The engine is a library: the app, its pages, ui/, the benches, the tests and Streamlit are its clients."""
    bad = sorted(f"{m} imports {name}" for m, path in module_files().items()
                 for name in outside_imports(path) if name in CLIENTS)
    assert not bad, "odcore imports its clients:\n" + "\n".join(bad)
    assert outside_imports(Path(__file__)) >= {"pytest", "ast"}  # the scan sees imports


def test_the_architecture_map_names_every_module():
    """ARCHITECTURE.md's map has a line for every module of odcore (a path, or a file name on a row that names
    its folder)."""
    text = (ROOT / "ARCHITECTURE.md").read_text()
    section = text[text.index("## The map"):text.index("### Following one parameter")]
    rows = section.splitlines()
    missing = []
    for path in module_files().values():
        rel = path.relative_to(ROOT / PACKAGE).as_posix()
        folder, _, base = rel.rpartition("/")
        if f"`{rel}`" in section or (folder and any(f"`{folder}/" in r and f"`{base}`" in r for r in rows)):
            continue
        missing.append(rel)
    assert not missing, f"add these modules to the map in ARCHITECTURE.md: {missing}"


def test_the_checker_sees_function_level_relative_and_dynamic_imports(tmp_path):
    """The graph builder itself: imports inside functions, relative imports and import_module count."""
    pkg = tmp_path / "odcore" / "sub"
    pkg.mkdir(parents=True)
    (tmp_path / "odcore" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from . import a\n")
    (pkg / "a.py").write_text("def f():\n    from ..jobs import x\n    import importlib\n"
                              "    importlib.import_module('odcore.cli')\n")
    names = {"odcore", "odcore.sub", "odcore.sub.a", "odcore.jobs", "odcore.cli"}
    assert imports_of("odcore.sub", pkg / "__init__.py", names) == {"odcore.sub.a"}
    assert imports_of("odcore.sub.a", pkg / "a.py", names) == {"odcore.jobs", "odcore.cli"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module, heavy", [
    ("odcore.runs.store", ("odcore.models", "odcore.runs.execution", "torch")),
    ("odcore.data", ("odcore.models", "odcore.runs", "torch")),
    ("odcore.runs", ("odcore.models", "torch")),
])
def test_importing_a_lower_layer_loads_nothing_above_it(module, heavy):
    """At run time too: importing the store or the data layer does not pull in models or torch."""
    code = (f"import sys, {module}\n"
            f"print([m for m in {list(heavy)!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"importing {module} loaded {out.stdout.strip()}"


def test_no_import_cycle_among_the_app_modules():
    """ui/ has no import cycle either (imports inside functions count): ui.tables imports ui.state, never the other
    way round (the session's table, ``ui.tables.dataset``, is asked of ui.tables)."""
    root = Path(__file__).resolve().parents[1] / "ui"
    files = {f"ui.{p.stem}": p for p in root.glob("*.py") if p.stem != "__init__"}
    graph = {m: imports_of(m, p, set(files)) for m, p in files.items()}
    assert "ui.state" in graph["ui.tables"]  # the graph sees the imports (a check that cannot pass empty)
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
