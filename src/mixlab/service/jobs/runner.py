"""The in-process job worker: a thread pool running job functions, state kept in the database.

A job function is a plain function ``fn(job_id, store, storage) -> result dict``: it reads what
it needs from the database by id and reports progress into the job's row, so the same
functions can later run on a distributed queue (Dramatiq) by configuration. Nothing here is
shared with the request handlers except the database: the HTTP side reads job rows (and
streams them as server-sent events by polling the row), which works the same whether the
worker is a thread of this process or another machine.

One job at a time per session: jobs of a session run one after the other (a per-session
lock), and a mix or render is refused with 409 ``session.busy`` while another mix or render of
the session is queued or running. Uploads queue a ``prepare`` job, and a prepare that has not
started yet is shared by every upload that arrives before it starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mixlab.errors import MixlabError
from mixlab.service.db import Store, new_id, now_iso
from mixlab.service.errors import ApiError
from mixlab.service.storage import Storage

log = logging.getLogger(__name__)

JobFunction = Callable[[str, Store, Storage], "dict[str, Any] | None"]
EXCLUSIVE_KINDS = ("mix", "render")
PROGRESS_INTERVAL_S = 0.1


class JobProgress:
    """The engine's ``progress(stage, fraction)`` callbacks written into a job's row.

    Each engine stage is mapped to a span of the job's overall fraction (``spans``: stage name
    prefix -> ``(start, end, message)``), the overall fraction never goes back, and the row is
    written at most every :data:`PROGRESS_INTERVAL_S` (the engine calls back from several
    threads, sometimes thousands of times per second).
    """

    def __init__(self, store: Store, job_id: str, *, interval_s: float = PROGRESS_INTERVAL_S) -> None:
        self.store = store
        self.job_id = job_id
        self.interval_s = interval_s
        self._lock = threading.Lock()
        self._fraction = 0.0
        self._last_write = 0.0
        self._written: tuple[str, float, str] | None = None

    def set(self, stage: str, fraction: float, message: str, *, force: bool = False) -> None:
        with self._lock:
            fraction = max(self._fraction, min(max(float(fraction), 0.0), 1.0))
            self._fraction = fraction
            now = time.monotonic()
            state = (stage, round(fraction, 3), message)
            if state == self._written or (not force and now - self._last_write < self.interval_s):
                return
            self._last_write = now
            self._written = state
            self.store.update_job(self.job_id, {"stage": stage, "fraction": fraction, "message": message})

    def stages(self, spans: Mapping[str, tuple[float, float, str]],
               default: tuple[float, float, str] | None = None) -> Callable[[str, float], None]:
        """An engine progress callback; a stage is matched by prefix (``"render"``), or by the
        text after ``": "`` (``"spotify: loudness"`` matches ``"loudness"``)."""

        def callback(stage: str, fraction: float) -> None:
            span = spans.get(stage) or spans.get(stage.split(":", 1)[-1].strip().split(" ", 1)[0]) or default
            if span is None:
                return
            start, end, message = span
            self.set(stage, start + (end - start) * min(max(fraction, 0.0), 1.0), message)

        return callback


class JobRunner:
    """Runs queued jobs on ``workers`` threads; see the module docstring."""

    def __init__(self, store: Store, storage: Storage, functions: Mapping[str, JobFunction], *, workers: int = 1) -> None:
        self.store = store
        self.storage = storage
        self.functions = dict(functions)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mixlab-job")
        self._lock = threading.Lock()
        self._session_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._on_done: list[Callable[[dict[str, Any]], None]] = []

    def on_done(self, hook: Callable[[dict[str, Any]], None]) -> None:
        """Call ``hook(job row)`` in the worker after each successful job (in-process only:
        used to warm caches, never needed for correctness)."""
        self._on_done.append(hook)

    def recover(self) -> list[dict[str, Any]]:
        """After a restart: a job that was running is failed (its temporary files are swept by
        the storage), a job still queued runs again. Returns the jobs that were interrupted
        (a prepare among them is resumed by :func:`~mixlab.service.jobs.tasks.resume_preparation`)."""
        interrupted = self.store.query("SELECT * FROM jobs WHERE state = 'running'")
        for job in interrupted:
            self.store.update_job(job["id"], {
                "state": "failed", "finished_at": now_iso(), "stage": "failed",
                "message": "interrupted by a server restart",
                "error": {"code": "job.interrupted",
                          "message": "The server was restarted while this job ran. Start it again."},
            })
        for job in self.store.query("SELECT * FROM jobs WHERE state = 'queued' ORDER BY created_at"):
            self._pool.submit(self._run, job["id"])
        return interrupted

    def submit(self, owner: str, sid: str, kind: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Queue a job (or return the queued prepare it joins); 409 if the session is busy."""
        if kind not in self.functions:
            raise ValueError(kind)
        with self._lock:
            active = self.store.active_jobs(owner, sid)
            if kind == "prepare":
                waiting = [j for j in active if j["kind"] == "prepare" and j["state"] == "queued"]
                if waiting:
                    return waiting[0]
            elif any(j["kind"] in EXCLUSIVE_KINDS for j in active):
                busy = next(j for j in active if j["kind"] in EXCLUSIVE_KINDS)
                raise ApiError(409, "session.busy",
                               f"This session is already busy with a {busy['kind']} job; wait for it to finish "
                               "and try again.", job_id=busy["id"])
            jid = new_id("j")
            with self.store.transaction() as db:
                self.store.insert("jobs", {"id": jid, "session_id": sid, "owner": owner, "kind": kind,
                                           "state": "queued", "stage": "queued", "message": "waiting to start",
                                           "params": params or {}, "created_at": now_iso()}, db=db)
                db.execute("UPDATE sessions SET last_job = ? WHERE id = ? AND owner = ?", (jid, sid, owner))
        self._pool.submit(self._run, jid)
        return self.store.job_by_id(jid)  # type: ignore[return-value]

    def clear_for_delete(self, owner: str, sid: str, *, timeout_s: float) -> None:
        """Make way for deleting a session: 409 ``session.busy`` while a mix or render of it is
        queued or running (the user's work is never dropped silently); a queued ``prepare`` is
        cancelled, and a running one is waited for (409 if it does not end in ``timeout_s``).
        The caller has stopped new jobs for the session (:class:`~mixlab.service.guard.SessionGuard`)."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:  # no queued job of the session starts while this looks at them
                active = self.store.active_jobs(owner, sid)
                work = next((j for j in active if j["kind"] in EXCLUSIVE_KINDS), None)
                if work is not None:
                    raise ApiError(409, "session.busy", f"A {work['kind']} job is running on this session; wait for "
                                   "it to finish, then delete the session.", job_id=work["id"])
                for job in active:
                    if job["state"] == "queued":
                        self.store.update_job(job["id"], {"state": "cancelled", "finished_at": now_iso(),
                                                          "stage": "cancelled", "message": "the session was deleted"})
                if not any(j["state"] == "running" for j in active):
                    return
            if time.monotonic() > deadline:
                raise ApiError(409, "session.busy", "This session's tracks are still being prepared; try deleting it "
                               "again in a moment.")
            time.sleep(0.05)

    def _start(self, jid: str) -> dict[str, Any] | None:
        with self._lock:  # a queued prepare stops accepting new uploads from here on
            job = self.store.job_by_id(jid)
            if job is None or job["state"] != "queued":
                return None
            self.store.update_job(jid, {"state": "running", "stage": "start", "message": "starting"})
            return job

    def _run(self, jid: str) -> None:
        job = self.store.job_by_id(jid)
        if job is None:
            return
        with self._session_locks[job["session_id"]]:
            job = self._start(jid)
            if job is None:
                return
            try:
                result = self.functions[job["kind"]](jid, self.store, self.storage)
            except MixlabError as exc:
                log.info("job %s (%s) failed: %s", jid, job["kind"], exc.message)
                self._finish(jid, "failed", error={"code": exc.code, "message": exc.message})
                return
            except Exception:
                log.exception("job %s (%s) failed", jid, job["kind"])
                self._finish(jid, "failed", error={
                    "code": "processing.failed",
                    "message": f"Something went wrong on our side in job {jid}. Try again; if it keeps happening, "
                               "report it with this job number."})
                return
            except BaseException:
                self._finish(jid, "failed", error={"code": "job.interrupted", "message": "The job was stopped."})
                raise
            self._finish(jid, "done", result=result or {})
        done = self.store.job_by_id(jid)
        for hook in self._on_done:
            try:
                hook(done)  # type: ignore[arg-type]
            except Exception:
                log.warning("after job %s: hook failed", jid, exc_info=True)

    def _finish(self, jid: str, state: str, *, result: dict[str, Any] | None = None,
                error: dict[str, Any] | None = None) -> None:
        if error is not None:  # a message shown to the user never holds a server path
            error = dict(error, message=self.storage.hide_paths(error["message"]))
        values: dict[str, Any] = {"state": state, "finished_at": now_iso(), "error": error, "result": result}
        if state == "done":
            values.update(fraction=1.0, stage="done", message="done")
        else:
            values.update(stage="failed", message=error["message"] if error else "failed")
        self.store.update_job(jid, values)

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """True once no job is queued or running (tests and shutdown)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.store.query("SELECT id FROM jobs WHERE state IN ('queued', 'running')"):
                return True
            time.sleep(0.02)
        return False

    def shutdown(self, *, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)


__all__ = ["EXCLUSIVE_KINDS", "JobFunction", "JobProgress", "JobRunner"]
