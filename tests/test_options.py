"""Data, table and protocol options are declared once (odcore.params.Param) and parsed by those declarations
everywhere: the CLI's --data-option / --protocol-option, the app's forms, the library."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import odcore.data
from odcore import cli
from odcore.data import formats, loaders, protocols, sources, table
from odcore.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
READER_FUNCTIONS = {"csv": formats.load_csv, "parquet": formats.load_parquet, "kdd99": sources.load_kdd99,
                    "mnist": sources.load_mnist, "mat": formats.load_mat, "npz": formats.load_npz,
                    "npy": formats.load_npy, "pharma": sources.load_pharma, "abalone": sources.load_abalone}


def _keywords(fn) -> dict:
    return {p.name: p.default for p in inspect.signature(fn).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY}


def test_every_reader_keyword_is_declared_with_its_default():
    assert set(READER_FUNCTIONS) == set(loaders.FORMATS)
    for fmt, fn in READER_FUNCTIONS.items():
        assert loaders.FORMATS[fmt].reader is fn
        decl = loaders.reader_options(fmt, table=False)
        kw = _keywords(fn)
        assert set(kw) == set(loaders.FORMATS[fmt].options), fmt
        for name, default in kw.items():
            want = tuple(default) if isinstance(default, (list, tuple)) else default
            assert decl[name].default == want, f"{fmt}.{name}: declared {decl[name].default!r}, reader {default!r}"


def test_every_table_option_is_a_keyword_of_the_preparation_with_its_default():
    kw = _keywords(table.from_options)
    for p in table.OPTIONS:
        assert p.name in kw, p.name
        assert p.default == kw[p.name], p.name


def test_protocol_defaults_and_help_come_from_the_declarations():
    for name in odcore.data.PROTOCOLS:
        decl = protocols.declaration(name)
        assert odcore.data.protocol_defaults(name) == decl.defaults()
        assert all(odcore.data.protocol_help(name).values())


def test_the_cli_parses_options_by_their_declarations():
    assert cli.parse_protocol_options("pu", ["nu=0.1", "inlier_classes=0,1", "standardize=no"]) == {
        "nu": 0.1, "inlier_classes": ("0", "1"), "standardize": False}
    with pytest.raises(InputError, match=r"nu must be a number in \(0, 1\), or None, got '2'"):
        cli.parse_protocol_options("pu", ["nu=2"])
    with pytest.raises(InputError, match="has no option"):
        cli.parse_protocol_options("novelty", ["nu=0.1"])
    opts = cli.parse_data_options(["roles=Store:group,Date:time", "window=week", "window_weeks=2",
                                   "meta_columns=a,b", "scaling=series"], "sales.csv")
    assert opts == {"roles": {"Store": "group", "Date": "time"}, "window": "week", "window_weeks": 2,
                    "meta_columns": ("a", "b"), "scaling": "series"}
    with pytest.raises(InputError, match="window must be one of 'rows', 'week', 'weeks', got 'month'"):
        cli.parse_data_options(["window=month"], None)
    with pytest.raises(InputError, match="role.*'boss'.*not allowed"):
        cli.parse_data_options(["roles=Store:boss"], None)
    with pytest.raises(InputError, match="unknown option"):
        cli.parse_data_options(["bogus=1"], "digits")
    assert cli.parse_data_options(["inlier_classes=3"], "digits") == {"inlier_classes": 3}


def test_a_form_field_and_a_typed_value_give_the_same_option():
    p = protocols.declaration("pu")["nu"]
    assert p.parse("0.25") == p.parse(0.25) == 0.25
    assert p.parse("None") is None
    assert table.OPTIONS.parse({"missing": "median"}, "t") == {"missing": "median"}
    assert table.OPTIONS.parse({"missing": "a:drop"}, "t") == {"missing": {"a": "drop"}}
    ds = odcore.data.load("digits")
    sp_text = odcore.data.split(ds, "one-vs-rest", seed=0, inlier_classes="0", test_normal_share="0.3")
    sp_typed = odcore.data.split(ds, "one-vs-rest", seed=0, inlier_classes=[0], test_normal_share=0.3)
    assert (sp_text.test_index == sp_typed.test_index).all()


def test_the_docs_list_every_option_from_the_declarations():
    text = (ROOT / "docs" / "OPTIONS.md").read_text()
    assert text.strip() == odcore.data.options_markdown().strip(), (
        "docs/OPTIONS.md is stale: python -m odcore describe --options --markdown > docs/OPTIONS.md")
    for _, _, decl in odcore.data.option_catalogue():
        for p in decl:
            assert f"`{p.name}`" in text


def test_describe_options_lists_them(capsys):
    assert cli.main(["describe", "--options"]) == 0
    out = capsys.readouterr().out
    assert "protocol pu:" in out and "nu = None" in out and "window = 'rows'" in out
    assert cli.main(["describe", "digits", "--options"]) == 0
    assert "inlier_classes" in capsys.readouterr().out
