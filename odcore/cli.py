"""``python -m odcore``: everything the app does, headless.

Commands: ``datasets``, ``describe``, ``methods``, ``train`` (``--marks``: with the analyst's marks),
``score``, ``runs`` (``runs show ID``), ``marks`` (list / add / remove / export / import the marks on a
table's rows), ``bench``, ``tune`` and ``reproduce`` (one paper table at its full budget).
Bad input prints one line that names the problem and the valid choices and
exits with code 2 (``--debug`` shows the traceback instead). Ctrl-C during ``train`` cancels
the fit within one batch and keeps the partial run (status ``cancelled``, exit code 130).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

from odcore.errors import FitCancelled, InputError
from odcore.params import parse_pairs

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
BENCH_KEYS = ("dataset", "method", "protocol", "seed", "auroc", "auprc", "precision_at_10", "f1",
              "fit_seconds", "score_seconds")


# ---------------------------------------------------------------------------------- parsing helpers
def parse_data_options(items: list[str] | None, source: str | None = None) -> dict[str, Any]:
    """``--data-option k=v`` pairs, typed and checked by the declarations of ``source``'s options (a built-in's
    or its reader's; every file option when ``source`` is None: the bench's options for every file)."""
    import odcore.data

    raw = parse_pairs(items, "--data-option")
    return odcore.data.parse_options(source, raw) if raw else {}


def parse_protocol_options(protocol: str, items: list[str] | None) -> dict[str, Any]:
    """``--protocol-option k=v`` pairs, typed and checked by the protocol's declared options."""
    from odcore.data.protocols import check_options

    check_protocol(protocol)
    raw = parse_pairs(items, "--protocol-option")
    return check_options(protocol, raw) if raw else {}


def parse_params(methods: list[str], items: list[str] | None) -> dict[str, dict[str, Any]]:
    """Detector parameters parsed by each method's declaration: ``{method: {param: value}}``.

    With several methods a parameter goes to those that have it; one that none has is refused.
    """
    from odcore.models import registry

    raw = parse_pairs(items, "--param")
    names = {m: set(registry.defaults(m)) for m in methods}
    unknown = [k for k in raw if not any(k in names[m] for m in methods)]
    if unknown:
        valid = sorted(set().union(*names.values()))
        raise InputError(f"unknown parameter {unknown[0]!r} for {', '.join(methods)}; valid: {', '.join(valid)}")
    return {m: registry.parse_params(m, {k: v for k, v in raw.items() if k in names[m]}) for m in methods}


def check_method(name: str) -> str:
    from odcore.models import registry

    if name not in registry.available():
        raise InputError(f"unknown method {name!r}; choose one of: {', '.join(registry.available())}")
    return name


def check_protocol(name: str) -> str:
    import odcore.data

    if name not in odcore.data.PROTOCOLS:
        raise InputError(f"unknown protocol {name!r}; choose one of: {', '.join(odcore.data.PROTOCOLS)}")
    return name


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _print_json(obj: Any) -> None:
    from odcore.jsonio import dumps

    print(dumps(obj, indent=1))


# ---------------------------------------------------------------------------------- commands
def cmd_datasets(args: argparse.Namespace) -> int:
    import odcore.data

    names = odcore.data.builtin_names()
    notes = odcore.data.builtin_info() if hasattr(odcore.data, "builtin_info") else {}
    if args.json:
        _print_json([{"name": n, "notes": notes.get(n, "")} for n in names])
    else:
        for n in names:
            print(f"{n:18s} {notes.get(n, '')}".rstrip())
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    import odcore.data

    if args.options:
        return _describe_options(args)
    if not args.source:
        raise InputError("describe needs a dataset (a built-in name or a file path), or --options to list the options")
    ds = odcore.data.load(args.source, **parse_data_options(args.data_option, args.source))
    info = odcore.data.describe(ds)
    if args.json:
        _print_json(info)
    else:
        for k, v in info.items():
            if isinstance(v, (list, dict)) and len(v) > 12:
                v = f"{type(v).__name__} of {len(v)} entries (use --json for all)"
            print(f"{k}: {v}")
    return 0


def _describe_options(args: argparse.Namespace) -> int:
    """``describe --options``: the declared data, table and protocol options (of SOURCE's reader when given)."""
    import odcore.data

    if args.markdown:
        print(odcore.data.options_markdown())
        return 0
    sections = odcore.data.option_catalogue()
    if args.source:
        sections = [("data", f"options of {args.source}", odcore.data.options_for(args.source))]
    if args.json:
        _print_json([{"section": s, "title": t, "options": d.rows()} for s, t, d in sections])
        return 0
    for _, title, decl in sections:
        print(f"{title}:" + ("" if len(decl) else " no options of its own"))
        for p in decl:
            print(f"  {p.name} = {p.default!r}  ({p.constraint()})  {p.help}")
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    from odcore.models import registry

    rows = []
    for name in registry.available():
        m = registry.info(name)
        rows.append({"name": name, "family": m.family, "setting": m.setting, "title": m.title, "paper": m.paper,
                     "recommended_for": list(m.recommended_for), "caution": m.caution,
                     "capabilities": sorted(registry.capabilities(name).names()), "params": registry.param_table(name)})
    if args.json:
        _print_json(rows)
        return 0
    for r in rows:
        caps = ", ".join(r["capabilities"]) or "-"
        rec = f"  [default for: {', '.join(r['recommended_for'])}]" if r["recommended_for"] else ""
        print(f"{r['name']:12s} {r['family']:9s} {r['setting']:17s} {r['title']}  [capabilities: {caps}]{rec}")
        if r["caution"]:
            print(f"    caution: {r['caution']}")
        if args.verbose:
            for p in r["params"]:
                print(f"    {p['name']} = {p['default']!r}  {p['help']}")
    return 0


def _spec_from_args(args):
    from odcore.runs.spec import RunSpec, table_defaults

    method, protocol, data_options = table_defaults(args.data, args.method, args.protocol,
                                                    parse_data_options(args.data_option, args.data))
    method = check_method(method)
    return RunSpec(data=args.data, method=method, protocol=check_protocol(protocol),
                   data_options=data_options,
                   protocol_options=parse_protocol_options(protocol, args.protocol_option),
                   params=parse_params([method], args.param)[method], seed=args.seed,
                   monitor=not args.no_monitor)


def cmd_train(args: argparse.Namespace) -> int:
    from odcore.runs.execution import execute
    from odcore.runs.spec import resolve
    from odcore.runs.store import RunStore

    store = RunStore(args.runs_dir)
    store.check_writable()  # a read-only or full runs folder: one message before anything is trained
    spec = _spec_from_args(args)
    if args.marks is not None:
        spec = _spec_with_marks(spec, args, store)
    run = resolve(spec, store=store)  # bad data / protocol / parameter -> exit 2, no run
    bar = None
    if run.epochs and not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=run.epochs, unit="epoch", file=sys.stderr, desc=run.method, dynamic_ncols=True)

    def on_epoch(rec: dict) -> None:
        if bar is not None:
            bar.update(1)
            shown = {k: f"{v:.4g}" for k, v in rec.items()
                     if isinstance(v, float) and k not in ("epoch", "epochs", "lr", "seconds")}
            bar.set_postfix(dict(list(shown.items())[:4]), refresh=False)

    cancel = threading.Event()
    finished = threading.Event()  # not Thread.join: a join interrupted by Ctrl-C can return early
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = execute(run, store=store, callbacks=(on_epoch,), cancel=cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            outcome["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=work, name="odcore-train", daemon=True).start()
    try:
        while not finished.wait(0.2):
            pass
    except KeyboardInterrupt:
        cancel.set()
        print("\ninterrupted: cancelling (the partial run is kept) ...", file=sys.stderr)
        while not finished.wait(0.2):
            pass
    finally:
        if bar is not None:
            bar.close()
    exc = outcome.get("error")
    if isinstance(exc, FitCancelled):
        run_id = getattr(exc, "run_id", None)
        if args.json:
            _print_json({"run_id": run_id, "status": "cancelled"})
        else:
            print(f"run {run_id} cancelled; its history so far is kept in {store.root / str(run_id)}")
        return EXIT_INTERRUPTED
    if exc is not None:
        raise exc
    res = outcome["result"]
    if args.json:
        _print_json({**res, "status": "done"})
    else:
        print(f"run {res['run_id']} done in {res['fit_seconds']:.2f} s (+{res['score_seconds']:.2f} s scoring)")
        for k, v in res["metrics"].items():
            print(f"  {k:16s} {_fmt(v)}")
        for line in (res.get("report") or {}).get("lines", []):  # ensemble / auto: what was chosen and why
            print(f"  {line}")
    return 0


def _spec_with_marks(spec: Any, args: argparse.Namespace, store: Any) -> Any:
    """``train --marks [FILE]``: the spec with the table's stored marks (or a marks file's) in its protocol
    options, on the protocol that uses them (``all``, or ``pu`` for WALDO); an explicit other protocol is refused."""
    from odcore.runs import feedback
    from odcore.runs.execution import load_data
    from odcore.runs.marks import read_document

    if args.protocol not in (None, "unsupervised", *feedback.MARK_PROTOCOLS):
        raise InputError(f"--marks retrains on every row (protocol 'all', or 'pu' for WALDO), not on protocol "
                         f"{args.protocol!r}; leave out --protocol")
    marks = None if args.marks == "stored" else read_document(args.marks)
    new, info = feedback.with_marks_spec(spec, load_data(spec, store), store=store, marks=marks)
    if not args.quiet:
        print(f"training with {info['marks']} marks ({info['expected']} expected, {info['confirmed']} confirmed) on "
              f"protocol {info['protocol']}", file=sys.stderr)
        for label in info["not_in_table"]:
            print(f"  not used (no such row in this table): {label}", file=sys.stderr)
        if info["problem"]:
            print(f"  warning: {info['problem']}", file=sys.stderr)
    return new


def _marks_data(args: argparse.Namespace, store: Any) -> Any:
    """The dataset ``odcore marks`` works on: a stored run's (``--run``), or a file / built-in (``--data``;
    CSV and Parquet files are read as tables with proposed roles unless --data-option says otherwise)."""
    import odcore.data
    from odcore.data import table

    if bool(args.run) == bool(args.data):
        raise InputError("name the table with --data PATH (and --data-option as for train) or with --run ID")
    if args.run:
        from odcore.runs.execution import load_data
        from odcore.runs.rebuild import run_spec

        return load_data(run_spec(store.get(args.run)), store)
    options = parse_data_options(args.data_option)
    if Path(args.data).suffix.lower() in (".csv", ".tsv", ".txt", ".parquet", ".gz") and not table.wants_table(options):
        options["roles"] = "auto"
    return odcore.data.load(args.data, **options)


def cmd_marks(args: argparse.Namespace) -> int:
    from odcore.data import marks as M
    from odcore.runs.marks import MarkStore, cli_author
    from odcore.runs.store import RunStore

    writes = args.action in ("add", "remove", "import")
    store = RunStore(args.runs_dir, read_only=not writes)
    ms = MarkStore(store)
    ds = _marks_data(args, store)
    author = args.author
    if args.action == "list":
        got = ms.list(ds, author=author)
        if got.problem:
            print(f"warning: {got.problem}", file=sys.stderr)
        frame = got.frame()
        if args.json:
            _print_json({"table": got.table, "problem": got.problem, "marks": frame.to_dict("records")})
        elif not len(frame):
            print(f"no marks on {ds.name} (table {got.table['identity']}, rows keyed by "
                  f"{', '.join(got.table['keys'])})")
        else:
            print(f"{len(frame)} marks on {ds.name} (table {got.table['identity']}):")
            print(frame.to_string(index=False))
        return 0
    if args.action == "add":
        if not args.kind:
            raise InputError("marks add needs --kind expected or --kind confirmed")
        key = parse_pairs(args.key, "--key")
        if not key:
            raise InputError(f"marks add needs the row's keys: --key COLUMN=VALUE for each of "
                             f"{', '.join(M.key_columns(ds))}")
        m = ms.add(ds, key, args.kind, reason=args.reason, note=args.note, author=author or cli_author())
        print(f"marked {m.label} (id {m.id})")
        return 0
    if args.action == "remove":
        if not args.items:
            raise InputError("marks remove needs the ids of the marks to remove (see `odcore marks list`)")
        n = ms.remove(ds, args.items, author=author)
        print(f"removed {n} mark(s)")
        return 0
    if args.action == "import":
        if len(args.items) != 1:
            raise InputError("marks import needs one marks file (written by `odcore marks export --output F.json`)")
        from odcore.runs.marks import read_document

        marks = read_document(args.items[0])
        doc = M.document({"identity": M.identity(ds), "keys": list(marks[0].key) if marks else M.key_columns(ds),
                          "name": ds.name}, marks)
        added = ms.import_document(ds, doc, author=author or cli_author())
        print(f"imported {len(added)} mark(s) into {ds.name}")
        return 0
    # export
    if not args.output:
        raise InputError("marks export needs --output FILE (.json: the marks; .csv or .parquet: a run's ranking "
                         "with the marks beside it, with --run)")
    out = Path(args.output)
    if out.suffix.lower() == ".json":
        _write_text(out, json.dumps(ms.export(ds, author=author), indent=1))
        print(f"wrote the marks of {ds.name} to {out}")
        return 0
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise InputError(f"--output {out.name}: write .json (the marks), .csv or .parquet (a ranking with its marks)")
    if not args.run:
        raise InputError("a ranking export needs the run that ranked the rows: --run ID")
    from odcore.analysis import analyst
    from odcore.runs import feedback

    frame = feedback.ranking(store.get(args.run), store=store, author=author)
    out.parent.mkdir(parents=True, exist_ok=True)
    from odcore.jsonio import atomic_write_bytes

    atomic_write_bytes(out, analyst.export_bytes(frame, out.suffix.lower().lstrip(".")))
    print(f"wrote the ranking of run {args.run} ({len(frame)} rows, {int((frame['mark'] != '').sum())} marked) to "
          f"{out}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from odcore.runs.scoring import score_file
    from odcore.runs.store import RunStore

    store = RunStore(args.runs_dir, read_only=True)  # reading a run writes nothing in the store
    run = store.get(args.run)
    if args.engine == "ray":
        import logging

        from odcore.runs.ray_scoring import score_dataset

        logging.getLogger("ray.data").setLevel(logging.WARNING)  # one summary line below, not Ray's progress log

        stats = score_dataset(run, args.input, args.output, address=args.address, workers=args.workers,
                              gpus_per_worker=args.gpus, batch_size=args.chunk_size)
        rows = "?" if stats["rows"] is None else stats["rows"]
        print(f"scored {rows} rows with run {run.id} on Ray ({stats['workers']} workers) -> {args.output} "
              f"({stats['parts']} parts, {stats['flagged']} flagged at threshold {stats['threshold']:.6g})")
        return 0
    if args.address is not None or args.workers != 1 or args.gpus:
        raise InputError("--address, --workers and --gpus belong to --engine ray; add --engine ray or drop them")
    args.quick_exit = True  # score_file closes its files and threads: no teardown needed (see main)
    stats = score_file(run, args.input, args.output, chunk_size=args.chunk_size)
    print(f"scored {stats['rows']} rows with run {run.id} -> {args.output} "
          f"({stats['flagged']} flagged at threshold {stats['threshold']:.6g})")
    for note in stats.get("notes", []):  # what the run's table preparation did to the input
        print(f"  {note}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from odcore.runs.store import RunStore

    store = RunStore(args.runs_dir, read_only=True)  # listing and showing write nothing (a read-only folder works)
    if args.action == "show":
        if not args.run_id:
            raise InputError("runs show needs a run id; list them with: python -m odcore runs")
        run = store.get(args.run_id)
        info = {"id": run.id, "status": run.status, "config": run.config, "metrics": run.metrics,
                "history": run.history, "error": run.error, "traceback": run.traceback}
        if args.json:
            _print_json(info)
            return 0
        cfg = run.config
        ds = cfg.get("dataset", {})
        print(f"run {run.id}: {cfg.get('method')} on {cfg.get('spec', {}).get('data')} "
              f"({cfg.get('spec', {}).get('protocol')}, seed {cfg.get('spec', {}).get('seed')}) - {run.status}")
        print(f"  created {cfg.get('created')}  finished {cfg.get('finished')}  device {cfg.get('device')}")
        if ds:
            print(f"  data {ds.get('name')} {ds.get('rows')} x {ds.get('features')} (hash {ds.get('hash')})")
        print(f"  params {json.dumps(cfg.get('params', cfg.get('spec', {}).get('params')))}")
        for k, v in run.metrics.items():
            print(f"  {k:16s} {_fmt(v)}")
        hist = run.history
        if hist:
            print(f"  history: {len(hist)} epochs; last: "
                  + ", ".join(f"{k}={_fmt(v)}" for k, v in hist[-1].items() if k not in ("epochs",)))
        if run.error:
            print(f"  error: {run.error}")
        return 0
    if args.action is not None:
        raise InputError(f"unknown runs action {args.action!r}; use: runs, runs show ID")
    rows = store.list_runs(method=args.method, status=args.status, data=args.data, protocol=args.protocol,
                           limit=args.limit)
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print(f"no runs in {store.root}")
        return 0
    print(f"{'id':40s} {'method':11s} {'data':18s} {'protocol':12s} {'status':9s} {'auroc':>7s} {'auprc':>7s}")
    for r in rows:
        m = r.get("metrics") or {}
        data = str(r.get("data_name") or r.get("data"))[:18]
        print(f"{r['id']:40s} {str(r['method']):11s} {data:18s} {str(r['protocol']):12s} {r['status']:9s} "
              f"{_fmt(m.get('auroc'), 3):>7s} {_fmt(m.get('auprc'), 3):>7s}")
        if r.get("status") == "damaged":  # the reason, so that one broken run is explained, not hidden
            print(f"{'':40s} damaged: {r.get('error')}")
    return 0


def _suite_cells(args: argparse.Namespace) -> tuple[list[dict], Any]:
    """The cells of ``--suite NAME`` (its files, protocols, methods and seeds unless given)."""
    from odcore.recipes.suites import get
    from odcore.runs.suite import suite_cells

    suite = get(args.suite)
    if args.data:
        raise InputError("--suite runs the suite's own files; leave out --data (or drop --suite for a grid)")
    methods = [check_method(m.strip()) for m in (args.methods or ",".join(suite.methods)).split(",") if m.strip()]
    protocols = [check_protocol(args.protocol)] if args.protocol else list(suite.protocols)
    extra = parse_params(methods, args.param)  # --param k=v: for the whole suite (one setting per method)
    return suite_cells(suite, seeds=args.seeds or suite.seeds, methods=methods, protocols=protocols,
                       params=extra), suite


def _bench_header(started: float, load0: float, n: int) -> str:
    import platform
    import time

    return (f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; started "
            f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(started))}, {n} runs in "
            f"{time.time() - started:.0f} s; load average {load0:.2f} at the start, {os.getloadavg()[0]:.2f} at the "
            "end.\n\n")


def cmd_bench(args: argparse.Namespace) -> int:
    import time

    from odcore.runs.grid import grid_cells, run_grid, validate_grid

    suite = None
    if args.seeds is not None and args.seeds < 1:
        raise InputError(f"--seeds must be at least 1, got {args.seeds}")
    if args.suite:
        cells, suite = _suite_cells(args)
    else:
        datasets = [d.strip() for d in (args.data or "").split(",") if d.strip()]
        methods = [check_method(m.strip()) for m in (args.methods or "").split(",") if m.strip()]
        if not datasets or not methods:
            raise InputError("bench needs at least one dataset (--data A,B) and one method (--methods M1,M2), "
                             "or a suite (--suite adbench-dev)")
        protocol = check_protocol(args.protocol or "unsupervised")
        data_options = parse_data_options(args.data_option)
        popts = parse_protocol_options(protocol, args.protocol_option)
        params = parse_params(methods, args.param)
        validate_grid(datasets, protocol, popts, data_options)  # bad file / unsupported protocol -> exit 2 now
        cells = grid_cells(datasets, methods, protocol, seeds=range(args.seeds or 3), protocol_options=popts,
                           params=params, data_options=data_options)
    if not (args.no_eta or args.quiet):
        from odcore.runs.eta import duration, estimate_cells

        print(f"estimating the time of {len(cells)} runs ...", file=sys.stderr)
        seconds, probe = estimate_cells(cells)
        print(f"ETA: about {duration(seconds)} for {len(cells)} runs (timed steps or subsample fits on the first "
              f"seed of up to 12 data x method x protocol groups, the others scaled by their size; {probe:.0f} s to "
              "measure)", file=sys.stderr)
    started, load0 = time.time(), os.getloadavg()[0]
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=len(cells), unit="run", file=sys.stderr, desc="bench", dynamic_ncols=True)
    done: list[dict] = []

    def on_record(rec: dict) -> None:
        done.append(rec)
        if bar is not None:
            bar.update(1)

    interrupted = False
    try:
        records = run_grid(cells, engine=args.engine, address=args.address, progress=on_record)
    except KeyboardInterrupt:  # keep what finished: the files get the completed cells
        interrupted, records = True, list(done)
        print(f"\ninterrupted: writing the {len(records)} finished of {len(cells)} cells", file=sys.stderr)
    finally:
        if bar is not None:
            bar.close()
    if args.json:
        _write_text(Path(args.json), json.dumps(records, indent=1))
    if suite is not None:
        from odcore.runs.suite import markdown_report

        table = _bench_header(started, load0, len(records)) + markdown_report(records, versus=suite.versus)
    else:
        table = markdown_table(records)
    if args.markdown:
        _write_text(Path(args.markdown), table)
    if interrupted:
        return EXIT_INTERRUPTED
    if not args.json and not args.markdown or args.verbose:
        print(table)
    else:
        print(f"{len(records)} runs" + (f"; records in {args.json}" if args.json else "")
              + (f"; table in {args.markdown}" if args.markdown else ""))
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from odcore.runs import tune
    from odcore.runs.spec import resolve
    from odcore.runs.store import RunStore

    run = resolve(_spec_from_args(args), store=RunStore(args.runs_dir), split=False)  # checked once, up front
    space = tune.parse_space(run.method, args.space or [])
    print(f"searching {', '.join(d.describe() for d in space.values())} for {run.method} on {run.data} "
          f"within {args.budget:g} s (objective: {args.objective}; ASHA stops weak trials early)", file=sys.stderr)
    res = tune.search(run, space, budget=args.budget, samples=args.samples, objective=args.objective,
                      runs_dir=args.runs_dir, address=args.address, max_concurrent=args.max_concurrent,
                      seed=args.seed)
    if args.json:
        _write_text(Path(args.json), json.dumps(res, indent=1, default=str))
    ran = [t for t in res["trials"] if t["run_id"]]
    late = len(res["trials"]) - len(ran)
    print(f"{res['tune_id']}: {len(ran)} trials, stored as runs (python -m odcore runs; the Compare page)"
          + (f"; {late} more did not start before the budget ran out" if late else ""))
    for t in sorted(ran, key=lambda t: (t["objective"] is None, t["objective"] or 0.0),
                    reverse=args.objective != "validation"):
        vals = ", ".join(f"{k}={_fmt(v)}" for k, v in t["values"].items())
        print(f"  {vals:50s} {t.get('key') or args.objective} {_fmt(t['objective'])}  epochs {t['epochs']}  "
              f"run {t['run_id']}")
    if res["best"]:
        print(f"best: {', '.join(f'{k}={_fmt(v)}' for k, v in res['best']['values'].items())} "
              f"(run {res['best']['run_id']})")
    return 0


def _checkout_root() -> Path | None:
    """The source checkout that holds ``bench/`` beside the ``odcore`` package (None for an installed copy)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "bench" / "__init__.py").is_file() else None


def cmd_reproduce(args: argparse.Namespace) -> int:
    import os
    import subprocess

    from odcore.recipes import tables

    if not args.name:
        print("paper tables (odcore reproduce NAME; --dry-run prints the commands):")
        for t in tables.TABLES.values():
            print(f"  {t.name:20s} ~{_hours(t.hours_2_cores):>6s} on 2 cores  {t.paper}")
        return 0
    table = tables.get(args.name)
    print(f"{table.paper}: {table.what}.\nExpected: about {_hours(table.hours_2_cores)} on 2 CPU cores; results: "
          f"{table.results} (then python -m bench.collect regenerates BENCHMARKS.md)." + (f"\nNote: {table.note}"
                                                                                         if table.note else ""))
    for line in table.commands():
        print(f"  {line}")
    if args.dry_run:
        return 0
    root = _checkout_root()
    if root is None:
        raise InputError("the paper tables run the benchmark scripts of the source checkout (bench/), which an "
                         "installed odcore does not have; clone the project and run `odcore reproduce` there")
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
           "PYTHONPATH": os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)}
    for step in table.steps:
        print(f"$ python -m {' '.join(step)}", flush=True)
        rc = subprocess.call([sys.executable, "-m", *step], cwd=root, env=env)
        if rc:
            print(f"error: the step exited with code {rc}; the results of the earlier steps are kept", file=sys.stderr)
            return rc
    return 0


def _hours(h: float) -> str:
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.0f} h" if h >= 10 else f"{h:.1f} h"


def _write_text(path: Path, text: str) -> None:
    from odcore.jsonio import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, text.encode())


def markdown_table(records: list[dict[str, Any]]) -> str:
    """Mean ± std (sample std over seeds) per (dataset, method), in first-seen order."""
    import numpy as np

    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["dataset"], r["method"]), []).append(r)
    cols = ("auroc", "auprc", "precision_at_10", "f1", "fit_seconds")
    lines = ["| dataset | method | protocol | seeds | AUROC | AUPRC | P@10 | F1 | fit s |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (ds, m), rs in groups.items():
        cells = []
        for c in cols:
            vals = np.array([r[c] for r in rs if r[c] is not None], dtype=float)
            if vals.size == 0:
                cells.append("-")
            elif vals.size == 1:
                cells.append(f"{vals[0]:.3f}" if c != "fit_seconds" else f"{vals[0]:.2f}")
            else:
                d = 2 if c == "fit_seconds" else 3
                cells.append(f"{vals.mean():.{d}f} ± {vals.std(ddof=1):.{d}f}")
        lines.append(f"| {ds} | {m} | {rs[0]['protocol']} | {len(rs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------- argparse
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m odcore", description="Outlier Lab engine, headless.")
    p.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(s: argparse.ArgumentParser, runs_dir: bool = True) -> None:
        s.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if runs_dir:
            s.add_argument("--runs-dir", default=None, metavar="D",
                           help="run store folder (default: $ODCORE_RUNS_DIR or ./runs)")


    s = sub.add_parser("datasets", help="list the built-in datasets")
    s.add_argument("--json", action="store_true")
    common(s, runs_dir=False)
    s.set_defaults(fn=cmd_datasets)

    s = sub.add_parser("describe", help="shape, column kinds, label share and problems of a dataset; --options: "
                       "the data, table and protocol options")
    s.add_argument("source", metavar="PATH_OR_NAME", nargs="?")
    s.add_argument("--data-option", action="append", metavar="K=V", help="loader option (label_column=...)")
    s.add_argument("--options", action="store_true", help="list the declared data, table and protocol options "
                   "(of PATH_OR_NAME's reader when given)")
    s.add_argument("--markdown", action="store_true", help="with --options: as Markdown (docs/OPTIONS.md)")
    s.add_argument("--json", action="store_true")
    common(s, runs_dir=False)
    s.set_defaults(fn=cmd_describe)

    s = sub.add_parser("methods", help="list detectors with family, setting, capabilities and parameters")
    s.add_argument("--json", action="store_true")
    s.add_argument("-v", "--verbose", action="store_true", help="also list every parameter with its help")
    common(s, runs_dir=False)
    s.set_defaults(fn=cmd_methods)

    def spec_options(s: argparse.ArgumentParser, param_help: str | None = None) -> None:
        """The options of one run spec (read by ``_spec_from_args``): train and tune."""
        s.add_argument("--data", required=True, metavar="NAME_OR_PATH")
        s.add_argument("--data-option", action="append", metavar="K=V")
        s.add_argument("--protocol", default=None, help="default: unsupervised; on a CSV / Parquet table without "
                       "--method: all (fit and score every row)")
        s.add_argument("--protocol-option", action="append", metavar="K=V")
        s.add_argument("--method", default=None, help="a registered detector (odcore methods); default on a CSV / "
                       "Parquet table: the one declared for tables")
        s.add_argument("--param", action="append", metavar="K=V", help=param_help)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--no-monitor", action="store_true", help="skip test-set metrics after each epoch")

    s = sub.add_parser("train", help="train one detector and store the run")
    spec_options(s)
    s.add_argument("--marks", nargs="?", const="stored", default=None, metavar="FILE",
                   help="train with the analyst's marks on the table's rows: the marks stored with the table (no "
                        "FILE) or a marks file (odcore marks export); expected rows become labelled inliers, "
                        "confirmed rows labelled anomalies, and the scores are re-ranked near both")
    s.add_argument("--json", action="store_true")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    common(s)
    s.set_defaults(fn=cmd_train)

    from odcore.runs.scoring import CHUNK_ROWS, OUTPUT_COLUMNS

    s = sub.add_parser("score", help="score Parquet (a file, folder or glob), CSV or .npz data with a stored run "
                       "(streaming)", formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="output columns:\n" + "\n".join(textwrap.fill(
                           v, 110, initial_indent=f"  {k:14s} ", subsequent_indent=" " * 17)
                           for k, v in OUTPUT_COLUMNS.items()))
    s.add_argument("--run", required=True, metavar="ID")
    s.add_argument("--input", required=True, metavar="PATH",
                   help="a .parquet, .csv or .npz file, or a folder or glob of .parquet files (hive key=value "
                        "folders become columns)")
    s.add_argument("--output", required=True, metavar="PATH",
                   help="a .parquet or .csv file, or a new folder for Parquet parts (one per input file; "
                        "--engine ray: always a folder)")
    s.add_argument("--chunk-size", type=int, default=CHUNK_ROWS, metavar="ROWS", help="rows per batch")
    s.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: this process (CSV, Parquet, .npz); ray: Ray Data over a Parquet file, folder or glob")
    s.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray instance)")
    s.add_argument("--workers", type=int, default=1, metavar="N", help="Ray actors, each loads the run once")
    s.add_argument("--gpus", type=float, default=0.0, metavar="G", help="GPUs per Ray actor (default 0: CPU)")
    common(s)
    s.set_defaults(fn=cmd_score)

    s = sub.add_parser("runs", help="list stored runs; 'runs show ID' for one run")
    s.add_argument("action", nargs="?", choices=["show"], help="show one run")
    s.add_argument("run_id", nargs="?", metavar="ID")
    s.add_argument("--method", default=None)
    s.add_argument("--status", default=None, help="running, done, failed or cancelled")
    s.add_argument("--data", default=None, help="dataset name or path as given to train")
    s.add_argument("--protocol", default=None)
    s.add_argument("--limit", type=int, default=None)
    s.add_argument("--json", action="store_true")
    common(s)
    s.set_defaults(fn=cmd_runs)

    s = sub.add_parser("marks", help="the analyst's marks on a table's rows: list, add, remove, export, import",
                       description="Marks say what an analyst decided about a row: expected (a false alarm, with a "
                       "reason) or confirmed (a real anomaly). They are kept with the table in the run store, keyed "
                       "by the rows' ids / groups / dates, and used by `train --marks`.")
    s.add_argument("action", choices=["list", "add", "remove", "export", "import"])
    s.add_argument("items", nargs="*", metavar="ID_OR_FILE", help="remove: mark ids; import: a marks file")
    s.add_argument("--data", default=None, metavar="PATH_OR_NAME", help="the table (as given to train)")
    s.add_argument("--data-option", action="append", metavar="K=V")
    s.add_argument("--run", default=None, metavar="ID", help="the table of this stored run (export: its ranking)")
    s.add_argument("--key", action="append", metavar="COLUMN=VALUE", help="add: the row's key values")
    s.add_argument("--kind", choices=["expected", "confirmed"], default=None)
    s.add_argument("--reason", default=None, help="add: why the row is expected (promotion, holiday ...)")
    s.add_argument("--note", default=None, help="add: a note (what the anomaly was)")
    s.add_argument("--author", default=None, help="only this author's marks (and authorless ones); add: the author "
                   "(default cli:<user>)")
    s.add_argument("--output", default=None, metavar="FILE", help="export: .json (the marks) or .csv / .parquet "
                   "(the run's ranking with its marks)")
    s.add_argument("--json", action="store_true")
    common(s)
    s.set_defaults(fn=cmd_marks)

    s = sub.add_parser("bench", help="grid of datasets x methods x seeds, or a benchmark suite (--suite)")
    s.add_argument("--data", default=None, metavar="A,B,...", help="built-in names and/or file paths")
    s.add_argument("--suite", default=None, metavar="NAME", help="a declared suite (adbench-dev): its files, "
                   "protocols, methods and seeds; --methods / --protocol / --seeds narrow it")
    s.add_argument("--data-option", action="append", metavar="K=V", help="loader option for every file")
    s.add_argument("--methods", default=None, metavar="M1,M2,...")
    s.add_argument("--protocol", default=None, help="default: unsupervised (a suite: its protocols)")
    s.add_argument("--protocol-option", action="append", metavar="K=V")
    s.add_argument("--param", action="append", metavar="K=V", help="given to every method that has it")
    s.add_argument("--seeds", type=int, default=None, metavar="N", help="seeds 0..N-1 (default 3; a suite: its own)")
    s.add_argument("--no-eta", action="store_true", help="start without estimating the time first")
    s.add_argument("--engine", choices=["local", "ray"], default="local")
    s.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray instance)")
    s.add_argument("--json", default=None, metavar="PATH", help="write one record per (dataset, method, seed)")
    s.add_argument("--markdown", default=None, metavar="PATH", help="write the mean ± std table")
    s.add_argument("-q", "--quiet", action="store_true")
    s.add_argument("-v", "--verbose", action="store_true", help="print the table even when writing files")
    s.set_defaults(fn=cmd_bench)

    s = sub.add_parser("tune", help="parameter search with Ray Tune (ASHA early stopping); trials are stored runs")
    spec_options(s, param_help="a fixed parameter of every trial")
    s.add_argument("--space", action="append", metavar="K=LOW:HIGH[:log]|K=A|B",
                   help="a searched parameter: a range (log-uniform with :log) or choices a|b|c")
    s.add_argument("--budget", type=float, required=True, metavar="SECONDS", help="the whole search's time limit")
    s.add_argument("--samples", type=int, default=None, help="at most this many trials (default: as the budget allows)")
    s.add_argument("--objective", choices=["validation", "auprc", "auroc"], default="validation",
                   help="validation: label-free (held-out or training loss, minimised); auprc/auroc: test labels")
    s.add_argument("--max-concurrent", type=int, default=None, metavar="N")
    s.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray instance)")
    s.add_argument("--json", default=None, metavar="PATH", help="write the trials and the best one")
    common(s)
    s.set_defaults(fn=cmd_tune)

    s = sub.add_parser("reproduce", help="run one paper table at its full budget (no NAME: list them with run times)")
    s.add_argument("name", nargs="?", default=None, metavar="NAME", help="a paper table (odcore reproduce lists them)")
    s.add_argument("--dry-run", action="store_true", help="print the commands and the expected time only")
    s.set_defaults(fn=cmd_reproduce)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code (0 ok, 2 bad input, 130 interrupted, 1 other errors).

    Run as a program (``argv`` None), a command that closed everything it wrote (``score`` on the
    local engine sets ``args.quick_exit``) ends the process without the interpreter's teardown, which
    would spend a good half second collecting torch's objects one by one."""
    parser = build_parser()
    args = parser.parse_args(argv)
    code = _run(args)
    if argv is None and getattr(args, "quick_exit", False):
        import logging

        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    return code


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command: its exit code, one line on stderr for an error."""
    try:
        return int(args.fn(args) or 0)
    except InputError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keeps the interpreter's final flush quiet
        except OSError:
            pass
        return 0
    except Exception as exc:  # noqa: BLE001 - one line unless --debug
        if args.debug:
            raise
        print(f"error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1
