"""Server-sent events of jobs: one poll of the jobs table for every open stream.

Each stream used to poll its own rows every 100 ms in the thread pool that also runs the
request handlers: 100 idle streams were 1000 thread hand-offs a second, and the API's latency
rose from 9 ms to 2.3 s. Now one :class:`JobWatch` per application polls the rows that can
have changed (new jobs, jobs queued or running, jobs that just ended) once per
:data:`POLL_S`, in one thread hand-off whatever the number of streams, and wakes the streams
it concerns; an idle stream is an ``asyncio`` wait holding no thread, and sends a comment
line every :data:`KEEPALIVE_S` so proxies keep it open. Reading the rows (not in-process
signals) keeps the streams right when the worker runs on another machine.

Each user may hold :attr:`~mixlab.service.config.Settings.max_event_streams` streams at once;
one more is 429 ``events.too_many`` (:class:`StreamCounter`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from mixlab.service import views
from mixlab.service.db import Store, iso_time
from mixlab.service.errors import ApiError

log = logging.getLogger(__name__)

POLL_S = 0.1
#: Jobs created this recently are read at every poll (a job can start and end between polls).
RECENT_S = 5.0
KEEPALIVE_S = 15.0
FINAL_STATES = ("done", "failed", "cancelled")
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class Subscription:
    """What one stream waits for: the job rows ``match`` accepts, newest revision kept."""

    def __init__(self, match: Callable[[dict[str, Any]], bool]) -> None:
        self.match = match
        self.pending: dict[str, dict[str, Any]] = {}
        self.ready = asyncio.Event()

    def push(self, row: dict[str, Any]) -> None:
        self.pending[row["id"]] = row
        self.ready.set()

    def take(self) -> list[dict[str, Any]]:
        rows = sorted(self.pending.values(), key=lambda r: (r["created_at"], r["_rowid"]))
        self.pending.clear()
        self.ready.clear()
        return rows


class JobWatch:
    """Polls the job rows for every subscription at once (see the module docstring).

    A poll reads the jobs queued or running, those that were at the last poll (to see them
    end), and those created in the last :data:`RECENT_S` (a job may start and end between two
    polls). Row ids are not used to find new jobs: SQLite gives a deleted session's ids again.
    """

    def __init__(self, store: Store, *, poll_s: float = POLL_S) -> None:
        self.store = store
        self.poll_s = poll_s
        self._subs: set[Subscription] = set()
        self._task: asyncio.Task[None] | None = None
        self._revs: dict[str, int] = {}  # jobs active at the last poll, or recent: the revision reported

    def subscribe(self, match: Callable[[dict[str, Any]], bool]) -> Subscription:
        """Follow the rows ``match`` accepts (call from the event loop)."""
        sub = Subscription(match)
        self._subs.add(sub)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="mixlab-job-watch")
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    async def _loop(self) -> None:
        try:
            while self._subs:
                try:
                    rows = await run_in_threadpool(self._changes)
                except Exception:  # the database busy or gone for a moment: the streams wait
                    log.warning("reading the jobs for the event streams failed", exc_info=True)
                    rows = []
                for row in rows:
                    for sub in list(self._subs):
                        if sub.match(row):
                            sub.push(row)
                await asyncio.sleep(self.poll_s)
        finally:
            self._revs = {}  # the next loop reports everything again

    def _changes(self) -> list[dict[str, Any]]:
        """Rows new or changed since the last call (in a worker thread, one call at a time)."""
        since = iso_time(time.time() - RECENT_S)
        known = list(self._revs)
        marks = ", ".join("?" for _ in known)
        rows = self.store.query(
            "SELECT rowid AS _rowid, * FROM jobs WHERE state IN ('queued', 'running') OR created_at >= ?"
            + (f" OR id IN ({marks})" if known else ""), (since, *known))
        # The first poll reports every row it reads: a stream that subscribed before it may have
        # missed a change after reading its start (streams skip revisions they have sent).
        changed = [r for r in rows if self._revs.get(r["id"]) != r["rev"]]
        self._revs = {r["id"]: r["rev"] for r in rows if r["state"] not in FINAL_STATES or r["created_at"] >= since}
        return changed


class StreamCounter:
    """Open streams per user, at most ``limit`` each."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def acquire(self, user: str) -> None:
        if self._open[user] >= self.limit:
            raise ApiError(429, "events.too_many", f"Too many live updates are open ({self.limit}): close other "
                           "mixlab tabs or windows, then reload this page.", max_streams=self.limit)
        self._open[user] += 1

    def release(self, user: str) -> None:
        self._open[user] -= 1
        if self._open[user] <= 0:
            del self._open[user]

    def count(self, user: str) -> int:
        return self._open[user]


class EventStream(StreamingResponse):
    """A ``text/event-stream`` response that gives its place back to the counter when it ends."""

    def __init__(self, body: AsyncIterator[str], counter: StreamCounter, user: str) -> None:
        super().__init__(body, media_type="text/event-stream", headers=_SSE_HEADERS)
        self._counter = counter
        self._user = user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._counter.release(self._user)


def event(job: dict[str, Any]) -> str:
    return f"data: {json.dumps(views.job_json(job), allow_nan=False)}\n\n"


def job_stream(watch: JobWatch, first: Callable[[], list[dict[str, Any]]], match: Callable[[dict[str, Any]], bool],
               *, until_final: str | None = None, alive: Callable[[], bool] | None = None) -> AsyncIterator[str]:
    """The events of the rows ``match`` accepts: first the rows ``first()`` gives (read in a
    worker thread after subscribing, so no change is missed), then each new revision, with a
    keep-alive comment when quiet. With ``until_final`` (a job id) it ends after that job's
    final state. ``alive()`` (in a worker thread, when quiet) false ends it: what it follows
    was deleted."""

    async def stream() -> AsyncIterator[str]:
        sub = watch.subscribe(match)
        sent: dict[str, int] = {}
        try:
            rows = await run_in_threadpool(first)
            while True:
                for row in rows:
                    if sent.get(row["id"], -1) >= row["rev"]:
                        continue
                    sent[row["id"]] = row["rev"]
                    yield event(row)
                    if row["id"] == until_final and row["state"] in FINAL_STATES:
                        return
                deadline = time.monotonic() + KEEPALIVE_S
                while True:
                    try:
                        await asyncio.wait_for(sub.ready.wait(), timeout=max(0.0, deadline - time.monotonic()))
                        break
                    except TimeoutError:
                        if alive is not None and not await run_in_threadpool(alive):
                            return
                        yield ": keep-alive\n\n"
                        deadline = time.monotonic() + KEEPALIVE_S
                        if (missed := await run_in_threadpool(first)) and any(
                                sent.get(r["id"], -1) < r["rev"] for r in missed):
                            sub.pending.update({r["id"]: r for r in missed})  # belt and braces: read again
                            break
                rows = sub.take()
        finally:
            watch.unsubscribe(sub)

    return stream()


__all__ = ["EventStream", "FINAL_STATES", "JobWatch", "KEEPALIVE_S", "POLL_S", "StreamCounter", "Subscription",
           "event", "job_stream"]
