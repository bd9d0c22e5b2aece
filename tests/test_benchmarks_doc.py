"""BENCHMARKS.md is generated: it must be exactly what ``python -m bench.collect`` assembles from
bench/results/*.md (a section written into BENCHMARKS.md by hand would be lost at the next collect)."""

from pathlib import Path

from bench import collect

ROOT = Path(__file__).resolve().parents[1]


def test_benchmarks_md_is_what_bench_collect_writes():
    text, n = collect.assemble()
    assert n >= 8
    assert (ROOT / "BENCHMARKS.md").read_text() == text, (
        "BENCHMARKS.md differs from bench/results/*.md: put the section in bench/results/<area>.md and run "
        "python -m bench.collect")
