"""Session tokens the server issues: a link names a session only if the server signed it.

A browser session's owner token (the key of its jobs and runs) is 128 random bits made by the
server. The page address carries it with its signature, ``?session=<token>.<hmac>``: an HMAC-SHA256
of the token under a server secret kept in the runs folder (``_session_secret``, mode 0600, created
once, never a symbolic link). A token the server did not issue (a link someone made up, a victim's
bare token, a changed signature) does not verify and the visitor gets a new session of their own; a
link the server did issue keeps working after a restart, since the secret stays in the runs folder.
No Streamlit here: :func:`ui.state.owner` uses it, the tests call it directly.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
import threading
from pathlib import Path

log = logging.getLogger("outlier_lab")

SECRET_FILE = "_session_secret"
SECRET_BYTES = 32
TOKEN_HEX = 32  # 128 bits
_CACHE: dict[str, bytes] = {}
_LOCK = threading.Lock()


def new_token() -> str:
    """A fresh owner token: 128 random bits as 32 hex characters."""
    return secrets.token_hex(TOKEN_HEX // 2)


def _read_secret(path: Path) -> bytes | None:
    """The secret in ``path`` when it is a regular file of this user that nobody else may read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        mine = not hasattr(os, "geteuid") or st.st_uid == os.geteuid()
        if not stat.S_ISREG(st.st_mode) or not mine or st.st_mode & 0o077:
            log.warning("the session secret %s is not a private file of the server; a new one is made", path)
            return None
        data = os.read(fd, 4 * SECRET_BYTES)
    finally:
        os.close(fd)
    return data if len(data) >= SECRET_BYTES else None


def _write_secret(path: Path) -> bytes | None:
    """A new secret written to ``path`` (mode 0600, created exclusively, then renamed into place)."""
    data = secrets.token_bytes(SECRET_BYTES)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("the session secret cannot be written in %s (%s): session links last until the server "
                    "restarts", path.parent, exc.strerror)
        try:
            tmp.unlink()
        except OSError:
            pass
        return None
    return data


def secret(folder: str | os.PathLike) -> bytes:
    """The server secret kept in ``folder`` (the runs folder): read, else created; in memory only when the
    folder cannot be written (then links last until the server restarts)."""
    path = Path(folder) / SECRET_FILE
    key = str(path)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _read_secret(path) or _write_secret(path) or secrets.token_bytes(SECRET_BYTES)
        return _CACHE[key]


def forget() -> None:
    """Drop the secrets read (a test that changes the runs folder's secret)."""
    with _LOCK:
        _CACHE.clear()


def _mac(token: str, key: bytes) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()[:TOKEN_HEX]


def sign(token: str, folder: str | os.PathLike) -> str:
    """The link value of an owner token: ``<token>.<signature>``."""
    return f"{token}.{_mac(token, secret(folder))}"


def verify(value: str, folder: str | os.PathLike) -> str | None:
    """The owner token of a link value the server issued, else None (made up, changed, or no signature)."""
    token, _, mac = str(value).partition(".")
    if len(token) != TOKEN_HEX or len(mac) != TOKEN_HEX or not all(c in "0123456789abcdef" for c in token + mac):
        return None
    return token if hmac.compare_digest(mac, _mac(token, secret(folder))) else None
