"""Deleting a session, serialised with everything that writes into it.

A request that may write into a session (an upload, a plan, a job to queue, the notes, which
fill the analysis cache) holds :meth:`SessionGuard.use` while it works; deleting a session
first marks it (:meth:`SessionGuard.deleting`), so new work on it is refused with 404, then
waits for the work in flight to end, and only then removes its rows and its folder. So no
upload gets a 500 from a session that vanished under it, no job is queued into a deleted
session, and no folder is made again after the delete. An upload still receiving stops
when it sees the mark (:meth:`SessionGuard.is_deleting`).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from mixlab.service.errors import ApiError, not_found

#: How long a delete waits for the work in flight on the session (uploads being checked,
#: a preparation) before it answers 409.
DELETE_WAIT_S = 30.0


class SessionGuard:
    """Per session: how many requests are working on it, and whether it is being deleted."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy: Counter[tuple[str, str]] = Counter()
        self._deleting: set[tuple[str, str]] = set()

    @contextmanager
    def use(self, owner: str, sid: str) -> Iterator[None]:
        """Work on the session; 404 if it is being deleted. The caller checks, inside, that the
        session still exists (a delete that finished before is not marked any more)."""
        key = (owner, sid)
        with self._cond:
            if key in self._deleting:
                raise not_found("This session", session_id=sid)
            self._busy[key] += 1
        try:
            yield
        finally:
            with self._cond:
                self._busy[key] -= 1
                if self._busy[key] <= 0:
                    del self._busy[key]
                self._cond.notify_all()

    def is_deleting(self, owner: str, sid: str) -> bool:
        return (owner, sid) in self._deleting

    @contextmanager
    def deleting(self, owner: str, sid: str, *, timeout_s: float = DELETE_WAIT_S) -> Iterator[None]:
        """Mark the session, wait for the work on it to end, and delete inside the block;
        409 ``session.busy`` when the work does not end within ``timeout_s``."""
        key = (owner, sid)
        with self._cond:
            if key in self._deleting:
                raise ApiError(409, "session.busy", "This session is already being deleted.")
            self._deleting.add(key)
            if not self._cond.wait_for(lambda: not self._busy.get(key), timeout=timeout_s):
                self._deleting.discard(key)
                raise ApiError(409, "session.busy", "An upload or change is still being processed on this "
                               "session; try deleting it again in a moment.")
        try:
            yield
        finally:
            with self._cond:
                self._deleting.discard(key)


__all__ = ["DELETE_WAIT_S", "SessionGuard"]
