"""A file's data loaded and prepared once per (file content, preparation), reused by every later step.

An analyst's table is read, its roles proposed, its blanks filled, its windows built and its series scaled
(:mod:`odcore.data.table`): the longest part of loading it. :func:`load` does that once per file content
(SHA-256 of its bytes) and options, and keeps the result in the run store's bounded cache
(``RunStore.cache_dataset``, under ``_data/prepared/``): the estimate before a run, the run itself, the
rebuild of its split afterwards (the Scores, Latent and Flagged pages) and the app's Data page all read it
from there. A file changed on disk has another content hash, so it is prepared again (and a run's rebuild
then refuses it by the dataset hash, as before). Built-ins are generated, never cached here.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from odcore.data.record import Dataset

#: prefix of a request's data for datasets kept in the run store (uploads, in-memory data)
STORED_PREFIX = "stored:"

_HASHES: dict[tuple[str, int, int], str] = {}
_HASHES_LOCK = threading.Lock()


def file_hash(source: Any) -> str:
    """SHA-256 (first 24 hex digits) of a file's bytes (a path, opened through the data policy in force, or an
    opened :class:`odcore.data.files.DataFile`), remembered per (path, size, modification time). A file above
    the content limit (``limits.max_bytes``) is refused before it is read."""
    from odcore.data import limits
    from odcore.data.files import opened

    with opened(source if not isinstance(source, (str, Path)) else Path(source).expanduser()) as f:
        key = (f.path, f.size, f.stamp)
        with _HASHES_LOCK:
            if key in _HASHES:
                return _HASHES[key]
        limits.active().check_bytes(f.name, f.size)
        h = hashlib.sha256()
        with f.stream() as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    digest = h.hexdigest()[:24]
    with _HASHES_LOCK:
        if len(_HASHES) > 256:
            _HASHES.clear()
        _HASHES[key] = digest
    return digest


def cache_key(source_hash: str, options: Mapping[str, Any]) -> str:
    """The cache entry of a file's content prepared with ``options`` (and this version of odcore)."""
    import odcore

    text = json.dumps([source_hash, dict(options), odcore.__version__], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def is_file(data: Any) -> bool:
    """Whether ``data`` names a file (not a built-in, a stored dataset or an object)."""
    import odcore.data

    if not isinstance(data, str) or data in odcore.data.builtin_names() or data.startswith(STORED_PREFIX):
        return False
    return Path(data).expanduser().is_file()


def load(data: str, options: Mapping[str, Any] | None = None, store: Any = None) -> tuple[Dataset, str | None]:
    """``(Dataset, source hash)`` of a built-in name or a file path with loader ``options``; a file is read and
    prepared once per (content, options) and then read from ``store``'s cache (``source hash`` is None for
    built-ins)."""
    import odcore.data

    opts = dict(options or {})
    if not is_file(data):
        return odcore.data.load(data, **opts), None
    from odcore.data.files import opened
    from odcore.data.loaders import load_file

    with opened(Path(data).expanduser()) as f:  # opened once: the bytes hashed are the bytes read
        source = file_hash(f)
        key = cache_key(source, opts)
        if store is not None:
            ds = store.cached_dataset(key)
            if ds is not None:
                return ds, source
        ds = load_file(f, **opts)
    if store is not None:
        store.cache_dataset(key, ds)
    return ds, source


def spec_data(spec: Any, store: Any = None) -> Dataset:
    """The Dataset a :class:`~odcore.runs.spec.RunSpec` names: the object itself, a dataset stored in ``store``
    (``stored:<hash>``), or a built-in / file (:func:`load`: a file's table from the store's cache)."""
    from odcore.errors import InputError

    data = spec.data
    if isinstance(data, Dataset):
        return data
    if not isinstance(data, str) or not data:
        raise InputError("data must be a built-in name, a file path or a Dataset")
    if data.startswith(STORED_PREFIX):
        from odcore.runs.store import RunStore

        return (store if store is not None else RunStore()).load_dataset(data[len(STORED_PREFIX):])
    return load(data, spec.data_options, store)[0]
