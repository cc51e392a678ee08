"""The Mix Notes measurements of the few sessions in use, kept in memory.

``NotesSession.evaluate(plan)`` takes milliseconds, but building the :class:`NotesSession`
(reading the cached analysis of every stem and aligning twin tracks) takes a second or more.
So the service keeps the last few sessions' ``NotesSession`` objects (least recently used
dropped). A missing one is loaded from what the mix job stored (:mod:`notes_store`), or
else built from the analysis cache on disk (after the tracks, genre or target changed).
The notes on one audio file (the mix of a mastering session, a rendered mix or master) come
from a one-pass analysis of that file, kept the same way.
Loading and building run in a worker thread, never on the event loop; concurrent requests
for the same session wait for one build.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mixlab.analysis.track import AnalysisCache
from mixlab.engine.mixing import analyze_stems
from mixlab.engine.notes import NotesSession
from mixlab.service import notes_store
from mixlab.service.db import Store
from mixlab.service.jobs.tasks import conformed_stems
from mixlab.service.notes_store import Key
from mixlab.service.storage import Storage


class NotesCache:
    """LRU of ``NotesSession`` by session, tracks, rate, genre and target; another of single
    audio files (a mix to master, a rendered mix or master)."""

    def __init__(self, store: Store, storage: Storage, *, size: int = 4) -> None:
        self.store = store
        self.storage = storage
        self.size = max(1, size)
        self._items: OrderedDict[Key, NotesSession] = OrderedDict()
        self._files: OrderedDict[tuple[Any, ...], NotesSession] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple[Any, ...], threading.Lock] = {}

    def get(self, owner: str, session: dict[str, Any], *, sample_rate: int | None, genre: str | None,
            target: str = "spotify") -> NotesSession:
        """The session's ``NotesSession``, built if needed (blocking: call from a thread)."""
        key = notes_store.notes_key(self.store, owner, session["id"], sample_rate=sample_rate, genre=genre,
                                    target=target)

        def build() -> NotesSession:
            built = notes_store.load(self.storage, key)
            if built is None:
                built = self._build(owner, session["id"], sample_rate=sample_rate, genre=genre, target=target)
                notes_store.save(self.storage, key, built)
            return built

        # One entry per session: a newer build replaces the older ones.
        return self._cached(self._items, key, build, replaces=lambda k: k[:2] == key[:2])

    def _build(self, owner: str, sid: str, *, sample_rate: int | None, genre: str | None, target: str) -> NotesSession:
        stems, _rows = conformed_stems(self.storage, self.store, owner, sid, sample_rate=sample_rate)
        with stems:
            cache = AnalysisCache(self.storage.folder(owner, sid, "cache"))
            tracks, defects = analyze_stems(stems, cache=cache, with_defects=True)
            return NotesSession.from_session(stems, tracks, defects, genre=genre, target=target)

    def for_file(self, path: Path, *, genre: str | None, target: str) -> NotesSession:
        """The ``NotesSession`` of one stored audio file (an uploaded mix, a rendered mix or
        master): analysed once per file, genre and target (blocking: call from a thread)."""
        stat = path.stat()
        key = ("file", str(path), stat.st_size, stat.st_mtime_ns, genre, target)
        return self._cached(self._files, key, lambda: NotesSession.from_mix(path, genre=genre, target=target))

    def _cached(self, items: OrderedDict, key: tuple[Any, ...], build: Callable[[], NotesSession], *,
                replaces: Callable[[tuple[Any, ...]], bool] | None = None) -> NotesSession:
        """``items[key]``, else built once however many threads ask (least recently used dropped)."""
        with self._lock:
            found = items.get(key)
            if found is not None:
                items.move_to_end(key)
                return found
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                found = items.get(key)
                if found is not None:
                    return found
            try:
                built = build()
            finally:
                with self._lock:
                    self._building.pop(key, None)
            with self._lock:
                for old in [k for k in items if replaces is not None and replaces(k)]:
                    del items[old]
                items[key] = built
                while len(items) > self.size:
                    items.popitem(last=False)
            return built

    def forget(self, sid: str) -> None:
        with self._lock:
            for old in [k for k in self._items if k[1] == sid]:
                del self._items[old]


__all__ = ["NotesCache"]
