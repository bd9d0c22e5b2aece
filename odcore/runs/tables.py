"""Uploaded tables kept in the run store, and each session's current table, so that nothing an analyst did is lost.

- ``<root>/_data/uploads/<sha>.<ext>``: an uploaded file's bytes, once per content (``sha``: the first 16
  hex digits of the bytes' SHA-256), beside ``<sha>.json`` (its name, size, suffix, when it was kept).
  Within the content limit (``limits.max_bytes``): a larger upload is not kept (the loaders refuse it anyway).
- ``<root>/_data/sessions/<tag>.json``: a session's current table (an upload's ``sha`` or a source name /
  path, with the loader options the analyst chose: roles, window, scaling ...) and every upload it kept,
  so the Data page, the Flagged rows page and a reload after a server restart find the same table again.
  ``tag`` is :func:`odcore.runs.marks.author_tag` of the session's token (the token is never written).

Folders are created with mode 0700 (the uploads are the analyst's data). A damaged session record is
reported in the log and treated as absent. Like the run store this module persists records and imports
nothing above the data layer.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from odcore.errors import InputError
from odcore.jsonio import atomic_write_bytes, atomic_write_json
from odcore.runs.store import DATA_DIR, RunStore, StoreError, _why

UPLOADS_DIR, SESSIONS_DIR = "uploads", "sessions"
_SHA = re.compile(r"[0-9a-f]{16}")
_TAG = re.compile(r"[A-Za-z0-9:._-]{1,80}")
MAX_TABLES = 200  # tables remembered per session (the oldest are forgotten, their files stay)

log = logging.getLogger(__name__)


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


class TableStore:
    """Uploaded tables and the sessions' current tables in the run store ``store``."""

    def __init__(self, store: RunStore):
        self.store = store
        self.uploads = store.root / DATA_DIR / UPLOADS_DIR
        self.sessions = store.root / DATA_DIR / SESSIONS_DIR

    def _mkdir(self, folder: Path) -> None:
        self.store.check_writable()
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StoreError(f"{folder} cannot be created: {_why(exc)}") from exc

    # ------------------------------------------------------------------ uploads
    def save(self, filename: str, data: bytes) -> dict[str, Any]:
        """Keep an upload's bytes once (content-addressed); returns its record (``sha``, ``name``, ``size``,
        ``suffix``, ``saved``). Refuses an empty file and one above the content limit."""
        from odcore.data import limits

        if not data:
            raise InputError(f"{filename}: the uploaded file is empty")
        cap = limits.active().max_bytes
        if cap is not None and len(data) > cap:
            raise InputError(f"{filename}: {len(data):,} bytes is more than the {cap:,} bytes a table may hold "
                             "(limits.max_bytes)")
        sha = hashlib.sha256(data).hexdigest()[:16]
        name = Path(str(filename)).name[:200] or "upload"
        suffix = "".join(Path(name).suffixes[-2:]).lower()
        suffix = suffix if re.fullmatch(r"(\.[a-z0-9]{1,8}){1,2}", suffix) else ""
        rec = {"sha": sha, "name": name, "size": len(data), "suffix": suffix, "saved": _now()}
        self._mkdir(self.uploads)
        target = self.uploads / f"{sha}{suffix}"
        try:
            if not target.exists():
                atomic_write_bytes(target, data)
                target.chmod(0o600)
            meta = self.uploads / f"{sha}.json"
            if not meta.exists():
                atomic_write_json(meta, rec)
        except OSError as exc:
            raise StoreError(f"{name} cannot be kept in the run store: {_why(exc)}") from exc
        return rec

    def record(self, sha: str) -> dict[str, Any]:
        """The record of a kept upload (raises :class:`InputError` when there is none)."""
        if not _SHA.fullmatch(str(sha)):
            raise InputError(f"{sha!r} is not a kept table's id (16 hex digits)")
        try:
            rec = json.loads((self.uploads / f"{sha}.json").read_text())
            if not isinstance(rec, dict) or rec.get("sha") != sha:
                raise ValueError("not this table's record")
        except (OSError, ValueError) as exc:
            raise InputError(f"the kept table {sha} is not in {self.uploads} ({type(exc).__name__}); upload it "
                             "again") from None
        return rec

    def read(self, sha: str) -> tuple[dict[str, Any], bytes]:
        """A kept upload's record and bytes (checked against its hash)."""
        rec = self.record(sha)
        suffix = str(rec.get("suffix") or "")
        try:
            data = (self.uploads / f"{sha}{suffix}").read_bytes()
        except OSError as exc:
            raise InputError(f"the kept table {rec.get('name')} cannot be read ({_why(exc)}); upload it again"
                             ) from None
        if hashlib.sha256(data).hexdigest()[:16] != sha:
            raise InputError(f"the kept copy of {rec.get('name')} is damaged (its content changed); upload it again")
        return rec, data

    # ------------------------------------------------------------------ sessions
    def _session_path(self, tag: str) -> Path:
        if not _TAG.fullmatch(str(tag)):
            raise InputError(f"{tag!r} is not a session tag")
        return self.sessions / (str(tag).replace(":", "_") + ".json")

    def session(self, tag: str) -> dict[str, Any]:
        """A session's record: ``current`` (its current table, or None) and ``tables`` (the uploads it kept,
        newest first); empty for a session without one, or whose record is damaged (logged)."""
        p = self._session_path(tag)
        try:
            rec = json.loads(p.read_text())
        except FileNotFoundError:
            return {"current": None, "tables": []}
        except (OSError, ValueError, RecursionError) as exc:
            log.warning("the session record %s is damaged (%s); it is ignored", p, type(exc).__name__)
            return {"current": None, "tables": []}
        cur = rec.get("current") if isinstance(rec, dict) else None
        tables = rec.get("tables") if isinstance(rec, dict) else None
        ok = isinstance(cur, dict) and cur.get("kind") in ("upload", "source") and isinstance(cur.get("options", {}),
                                                                                            dict)
        return {"current": cur if ok else None,
                "tables": [t for t in (tables or []) if isinstance(t, str) and _SHA.fullmatch(t)]}

    def set_current(self, tag: str, *, options: dict[str, Any] | None = None, sha: str | None = None,
                    source: str | None = None) -> None:
        """Make a kept upload (``sha``) or a source (a built-in name or a file path) the session's current
        table, with the loader ``options`` it was read with."""
        if (sha is None) == (source is None):
            raise InputError("a current table is a kept upload (sha) or a source, not both")
        rec = self.session(tag)
        if sha is not None:
            name = self.record(sha).get("name")
            cur = {"kind": "upload", "sha": sha, "name": name}
            rec["tables"] = [sha] + [t for t in rec["tables"] if t != sha][: MAX_TABLES - 1]
        else:
            cur = {"kind": "source", "source": str(source), "name": Path(str(source)).name}
        cur.update(options=dict(options or {}), time=_now())
        rec["current"] = cur
        self._mkdir(self.sessions)
        try:
            atomic_write_json(self._session_path(tag), rec)
        except OSError as exc:
            raise StoreError(f"the session's current table cannot be kept: {_why(exc)}") from exc

    def tables(self, tag: str) -> list[dict[str, Any]]:
        """The records of the uploads a session kept, newest first (those whose files are gone are left out)."""
        out = []
        for sha in self.session(tag)["tables"]:
            try:
                out.append(self.record(sha))
            except InputError:
                continue
        return out
