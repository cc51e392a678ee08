"""A session's Mix Notes measurements on disk, so that any process can evaluate notes at once.

The mix job has the :class:`~mixlab.engine.notes.NotesSession` in hand when it finishes (the
engine built it to write the mix's notes); it is pickled into the session's ``cache`` folder
with the key it is valid for (tracks, rate, genre, target). The web process loads it on the
first notes request instead of analysing again. A missing, stale or unreadable file (e.g.
written by another mixlab version) is only a cache miss: the caller rebuilds.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from typing import Any

from mixlab.engine.notes import NotesSession
from mixlab.service.db import Store
from mixlab.service.storage import Storage

log = logging.getLogger(__name__)

FILE_NAME = "notes-session.pickle"
Key = tuple[Any, ...]


def notes_key(store: Store, owner: str, sid: str, *, sample_rate: int | None, genre: str | None, target: str) -> Key:
    """What a NotesSession depends on: the usable tracks (id and size), rate, genre, target."""
    tracks = tuple((t["id"], t["size_bytes"]) for t in store.tracks(owner, sid) if not t["problem"])
    return (owner, sid, tracks, sample_rate, genre, target)


def save(storage: Storage, key: Key, notes: NotesSession) -> None:
    owner, sid = key[0], key[1]
    folder = storage.folder(owner, sid, "cache")
    fd, tmp = tempfile.mkstemp(prefix=f".{FILE_NAME}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((key, notes), fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, folder / FILE_NAME)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        log.warning("could not store the notes measurements of session %s", sid, exc_info=True)
        try:
            os.unlink(tmp)
        except OSError:
            pass


def load(storage: Storage, key: Key) -> NotesSession | None:
    """The stored NotesSession if it was made for ``key``; files are only ever written by
    :func:`save` in the service's own data folder (pickle is not for untrusted input)."""
    path = storage.folder(key[0], key[1], "cache") / FILE_NAME
    try:
        with open(path, "rb") as fh:
            stored_key, notes = pickle.load(fh)
    except FileNotFoundError:
        return None
    except Exception:  # another version's classes, a cut file: rebuild
        log.info("notes measurements of session %s are stale; rebuilding", key[1], exc_info=True)
        return None
    if stored_key != key or not isinstance(notes, NotesSession):
        return None
    return notes


__all__ = ["FILE_NAME", "Key", "load", "notes_key", "save"]
