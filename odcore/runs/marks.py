"""The analyst's marks, kept with the tables in the run store: ``<root>/_data/marks/<table identity>.json``.

One plain JSON document per table (:func:`odcore.data.marks.identity`: the table's columns and key
columns, so a re-upload of the same table or of a longer one finds its marks again), in the form
:func:`odcore.data.marks.check_document` validates. :class:`MarkStore` lists, adds, removes, imports and
exports marks; every change is a read-modify-write under a file lock, written atomically.

A damaged document (not JSON, the wrong format, a field of the wrong type or size) is reported
(:attr:`MarkSet.problem`, the log) and ignored: the table then has no marks, nothing fails. The next
change moves the damaged file aside (``<identity>.damaged-<time>.json``, kept for whoever wants to
repair it) before it writes a new document, so nothing the analyst wrote is overwritten.

Marks name who made them (``author``): the app's sessions write a tag derived from their token (never
the token), the command line ``cli:<user>``. :meth:`MarkStore.list` with ``author=`` shows that author's
marks and the shared ones (no author, or the command line's: :func:`visible`), as the app shows a session
its own runs and the shared ones.

Like the run store, this module persists records and imports nothing above the data layer.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from odcore.data import marks as M
from odcore.data.record import Dataset
from odcore.jsonio import atomic_write_json
from odcore.runs.store import DATA_DIR, MAX_RECORD_DEPTH, RunStore, StoreError, _too_deep, _why

MARKS_DIR = "marks"
#: a marks document larger than this is damaged (a document of MAX_MARKS marks stays well below it)
MAX_FILE_BYTES = 64 * 1024 * 1024

log = logging.getLogger(__name__)


def author_tag(token: str) -> str:
    """The author of a session's marks: ``session:`` and 12 hex digits of the token's SHA-256 (the token
    itself, a secret, is never written)."""
    return "session:" + hashlib.sha256(str(token).encode()).hexdigest()[:12]


def cli_author() -> str:
    """The author of marks made with the command line: ``cli:<user>``."""
    import getpass

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (a container without passwd entry)
        user = "unknown"
    return "cli:" + re.sub(r"[^A-Za-z0-9._-]", "_", user)[:40]


def visible(mark: M.Mark, author: str | None) -> bool:
    """Whether ``author`` sees (and may remove) ``mark``: its own marks and the shared ones (no author, or made with
    the command line); everyone's when ``author`` is None."""
    return author is None or mark.author in (author, None) or str(mark.author).startswith("cli:")


@dataclass
class MarkSet:
    """A table's marks as read: the ``table`` record, the ``marks`` (filtered by author when asked),
    ``problem`` (why the document was ignored, or None), the document's ``path``; with a dataset,
    ``matched`` (:class:`odcore.data.marks.Matched`: the rows they name, the marks no row has)."""

    table: dict[str, Any]
    marks: list[M.Mark] = field(default_factory=list)
    problem: str | None = None
    path: Path | None = None
    matched: M.Matched | None = None

    def __len__(self) -> int:
        return len(self.marks)

    def by_id(self) -> dict[str, M.Mark]:
        return {m.id: m for m in self.marks}

    def in_table(self) -> list[M.Mark]:
        """The marks that name a row of the dataset they were listed for (all of them without one)."""
        if self.matched is None:
            return list(self.marks)
        return [m for m in self.marks if m.id in self.matched.rows]

    def frame(self) -> Any:
        """One row per mark: its key columns, kind, reason, note, author, time, run, id, and ``in table``
        (whether a row of the listed dataset has its key)."""
        import pandas as pd

        keys = list(self.table.get("keys") or [])
        rows = []
        for m in self.marks:
            rec = {c: m.key.get(c, "") for c in keys}
            rec.update(kind=m.kind, reason=m.reason or "", note=m.note or "", author=m.author or "", time=m.time,
                       run=m.run or "", id=m.id)
            if self.matched is not None:
                rec["in table"] = m.id in self.matched.rows
            rows.append(rec)
        cols = [*keys, "kind", "reason", "note", "author", "time", "run", "id"] + (
            ["in table"] if self.matched is not None else [])
        return pd.DataFrame(rows, columns=cols)


class MarkStore:
    """The marks of every table, in the run store ``store`` (its root, its read-only state)."""

    def __init__(self, store: RunStore):
        self.store = store
        self.folder = store.root / DATA_DIR / MARKS_DIR

    def path(self, identity: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{16}", str(identity)):
            raise M.MarksError(f"{identity!r} is not a table identity (16 hex digits)")
        return self.folder / f"{identity}.json"

    # ------------------------------------------------------------------ reading
    def read(self, identity: str, table: Mapping[str, Any] | None = None) -> MarkSet:
        """The document of table ``identity``: its marks, or none with ``problem`` when it is damaged."""
        p = self.path(identity)
        base = dict(table or {"identity": identity, "keys": [], "name": ""})
        try:
            size = p.stat().st_size
        except FileNotFoundError:
            return MarkSet(base, path=p)
        except OSError as exc:
            return self._damaged(base, p, f"it cannot be read ({_why(exc)})")
        if size > MAX_FILE_BYTES:
            return self._damaged(base, p, f"it is {size:,} bytes, more than a marks file may hold")
        try:
            doc = json.loads(p.read_bytes())
            if _too_deep(doc, MAX_RECORD_DEPTH):  # as the run store checks its records
                raise M.MarksError(f"it is nested more than {MAX_RECORD_DEPTH} levels deep")
            got_table, marks = M.check_document(doc)
        except (OSError, ValueError, RecursionError) as exc:
            return self._damaged(base, p, f"it is not valid JSON ({type(exc).__name__})")
        except M.MarksError as exc:
            return self._damaged(base, p, str(exc))
        if got_table["identity"] != identity:
            return self._damaged(base, p, f"it names table {got_table['identity']}, not {identity}")
        if table is not None and list(table.get("keys") or []) != got_table["keys"]:
            return self._damaged(base, p, f"its rows are keyed by {', '.join(got_table['keys'])}, the table's by "
                                          f"{', '.join(table.get('keys') or [])}")
        return MarkSet({**got_table, **{k: v for k, v in base.items() if k == "name" and v}}, marks, path=p)

    @staticmethod
    def _damaged(table: dict[str, Any], p: Path, why: str) -> MarkSet:
        msg = (f"the marks file {p.name} is damaged: {why}; it is ignored (no marks are used for this table) and "
               "will be kept aside as a .damaged file when marks are next added")
        log.warning("%s (%s)", msg, p)
        return MarkSet(table, problem=msg, path=p)

    def list(self, ds: Dataset, *, author: str | None = None) -> MarkSet:
        """The marks of ``ds``'s table (``author``'s and the shared ones when ``author`` is given: :func:`visible`),
        with the rows they name in ``ds`` (``matched``)."""
        table = M.table_record(ds)
        got = self.read(table["identity"], table)
        if author is not None:
            got.marks = [m for m in got.marks if visible(m, author)]
        if got.marks:
            got.matched = M.match(ds, got.marks, keys=table["keys"])
        else:
            got.matched = M.Matched(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), {}, [])
        return got

    def tables(self) -> list[dict[str, Any]]:
        """Every table that has a marks document: identity, name, key columns, number of marks, problem."""
        out = []
        if not self.folder.is_dir():
            return out
        for p in sorted(self.folder.glob("*.json")):
            if not re.fullmatch(r"[0-9a-f]{16}\.json", p.name):
                continue
            got = self.read(p.stem)
            out.append({**got.table, "marks": len(got.marks), "problem": got.problem})
        return out

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def _locked(self, identity: str) -> Iterator[Path]:
        """Hold the table's lock file (one writer at a time, across processes) while a change is made."""
        self.store.check_writable()
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            fh = open(self.folder / f".{identity}.lock", "a+")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise StoreError(f"marks cannot be written in {self.folder}: {_why(exc)}") from exc
        try:
            try:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            except ImportError:  # not POSIX: one process at a time is the deployment anyway
                pass
            yield self.path(identity)
        finally:
            fh.close()

    def _write(self, table: Mapping[str, Any], marks: Sequence[M.Mark], problem: str | None) -> None:
        p = self.path(table["identity"])
        try:
            if problem is not None and p.exists():  # keep the damaged file for whoever wants to repair it
                stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S")
                os.replace(p, p.with_name(f"{p.stem}.damaged-{stamp}.json"))
            atomic_write_json(p, M.document(table, marks))
        except OSError as exc:
            raise StoreError(f"the marks of {table.get('name') or table['identity']} cannot be written: "
                             f"{_why(exc)}") from exc

    def _change(self, ds: Dataset, fn) -> Any:
        table = M.table_record(ds)
        with self._locked(table["identity"]):
            cur = self.read(table["identity"], table)
            marks = list(cur.marks)
            out = fn(marks)
            self._write(table, marks, cur.problem)
        return out

    def add(self, ds: Dataset, key: Mapping[str, Any], kind: str, *, reason: str | None = None,
            note: str | None = None, author: str | None = None, run: str | None = None) -> M.Mark:
        """Mark the row of ``ds`` with ``key`` (its key columns -> values) as ``kind``; a mark of the same
        author on the same row is replaced. Refuses a key no row of ``ds`` has."""
        return self.add_many(ds, [{"key": key, "kind": kind, "reason": reason, "note": note}], author=author,
                             run=run)[0]

    def add_many(self, ds: Dataset, items: Iterable[Mapping[str, Any]], *, author: str | None = None,
                 run: str | None = None) -> list[M.Mark]:
        """Several marks at once (``items``: dicts with ``key``, ``kind`` and optional ``reason`` / ``note``),
        all or none: one key that no row of ``ds`` has refuses them all, naming it."""
        new = [M.Mark(key=M.normalise_key(ds, it["key"]), kind=it.get("kind"), reason=it.get("reason"),
                      note=it.get("note"), author=author, run=run) for it in items]
        if not new:
            return []
        got = M.match(ds, new)
        M.refuse_unmatched(ds, got.unmatched, len(new))

        def change(marks: list[M.Mark]) -> list[M.Mark]:
            keys = {tuple(m.key.values()) for m in new}
            marks[:] = [m for m in marks if not (m.author == author and tuple(m.key.values()) in keys)] + new
            return new

        return self._change(ds, change)

    def add_rows(self, ds: Dataset, rows: Sequence[int], kind: str, *, reason: str | None = None,
                 note: str | None = None, author: str | None = None, run: str | None = None) -> list[M.Mark]:
        """Mark rows ``rows`` of ``ds`` (positions in ``ds``, turned into their keys here) as ``kind``."""
        cols = M.key_columns(ds)
        meta = ds.meta.reset_index(drop=True)
        items = [{"key": {c: meta[c].iloc[int(r)] for c in cols}, "kind": kind, "reason": reason, "note": note}
                 for r in rows]
        return self.add_many(ds, items, author=author, run=run)

    def remove(self, ds: Dataset, ids: Iterable[str], *, author: str | None = None) -> int:
        """Remove the marks with ids ``ids`` (only those ``author`` sees when ``author`` is given: :func:`visible`);
        returns how many were removed. Refuses an id the table's marks do not have."""
        ids = [str(i) for i in ids]

        def change(marks: list[M.Mark]) -> int:
            mine = {m.id for m in marks if visible(m, author)}
            unknown = [i for i in ids if i not in mine]
            if unknown:
                raise M.MarksError(f"no mark {', '.join(unknown[:5])} on {ds.name}; list them with `odcore marks "
                                   "list` (the id column)")
            before = len(marks)
            marks[:] = [m for m in marks if m.id not in set(ids)]
            return before - len(marks)

        return self._change(ds, change)

    def export(self, ds: Dataset, *, author: str | None = None) -> dict[str, Any]:
        """The marks of ``ds``'s table as a document (the form ``import_document`` and ``--marks FILE`` read)."""
        got = self.list(ds, author=author)
        return M.document(got.table, got.marks)

    def import_document(self, ds: Dataset, doc: Any, *, author: str | None = None) -> list[M.Mark]:
        """Add the marks of a document (an export) to ``ds``'s table; refused when they are keyed by other
        columns or name rows ``ds`` does not have (another table's marks)."""
        _, marks = M.check_document(doc)
        items = [{"key": m.key, "kind": m.kind, "reason": m.reason, "note": m.note} for m in marks]
        return self.add_many(ds, items, author=author or (marks[0].author if marks else None))


def read_document(path: str | os.PathLike) -> list[M.Mark]:
    """The marks of a marks file (an export), validated (:class:`odcore.data.marks.MarksError` when damaged)."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE_BYTES:
            raise M.MarksError(f"{p}: {p.stat().st_size:,} bytes is more than a marks file may hold")
        doc = json.loads(p.read_bytes())
    except FileNotFoundError:
        raise M.MarksError(f"{p}: no such marks file") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise M.MarksError(f"{p} is not a marks file ({type(exc).__name__}); export one with `odcore marks export`"
                           ) from None
    return M.check_document(doc)[1]
