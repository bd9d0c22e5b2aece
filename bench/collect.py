"""Assemble BENCHMARKS.md from the summary and the per-area result files in bench/results/.

    python -m bench.collect

Each bench/results/<area>.md holds the numbers of one area with the commands that produced
them; this script only concatenates them (image links rewritten to the repository root).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["summary", "waldo", "drocc", "alad_ocnn", "runtime", "speed", "app"]


def assemble() -> tuple[str, int]:
    """The text of BENCHMARKS.md from bench/results/*.md, and how many files it took."""
    res = ROOT / "bench" / "results"
    files = {p.stem: p for p in res.glob("*.md")}
    parts = []
    for name in ORDER + sorted(set(files) - set(ORDER)):
        if name not in files:
            continue
        text = files[name].read_text()
        # links relative to bench/results/ -> relative to the repository root
        text = re.sub(r"\]\((?!https?:|/|bench/)([^)]+\.(?:png|json|md))\)", r"](bench/results/\1)", text)
        if name != "summary":
            text = re.sub(r"^(#+) ", r"#\1 ", text, flags=re.M)  # one level down under the summary
            text = f"<!-- from bench/results/{name}.md -->\n" + text
        parts.append(text.rstrip() + "\n")
    return "\n\n".join(parts), len(parts)


def main() -> None:
    text, n = assemble()
    (ROOT / "BENCHMARKS.md").write_text(text)
    print(f"wrote BENCHMARKS.md from {n} files")


if __name__ == "__main__":
    main()
