"""The service database: SQLite in WAL mode, one connection per thread, schema made on start.

Every row belongs to a user (``owner``), and every query that reads or changes a user's
objects takes the owner and filters by it, so a session of another user is simply not found.
Rows are returned as plain dicts (JSON columns decoded); the API shapes them in ``views``.

The repository is deliberately small and written in portable SQL, so that a PostgreSQL
implementation can replace it by configuration when the service scales out.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mixlab.service.config import LOCAL_USER

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL,
    genre TEXT,
    targets TEXT NOT NULL DEFAULT '["spotify"]',
    sample_rate INTEGER,
    num_frames INTEGER,
    loudness TEXT,
    reference TEXT,
    has_plan INTEGER NOT NULL DEFAULT 0,
    last_job TEXT,
    version_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sessions_owner ON sessions(owner, created_at);
CREATE TABLE IF NOT EXISTS tracks (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    file TEXT NOT NULL,
    channels INTEGER,
    sample_rate INTEGER,
    duration_s REAL,
    size_bytes INTEGER NOT NULL,
    ready INTEGER NOT NULL DEFAULT 0,
    preview_shape TEXT,
    role TEXT,
    role_source TEXT,
    role_reason TEXT,
    silent INTEGER NOT NULL DEFAULT 0,
    problem TEXT,
    created_at TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tracks_session ON tracks(session_id, seq);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT '',
    fraction REAL NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    error TEXT,
    result TEXT,
    params TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    finished_at TEXT,
    rev INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_session ON jobs(session_id, created_at);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs(created_at);
CREATE TABLE IF NOT EXISTS versions (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    n INTEGER NOT NULL,
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL,
    files TEXT NOT NULL,
    job_id TEXT
);
CREATE INDEX IF NOT EXISTS versions_session ON versions(session_id, n);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    track_id TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS files_session ON files(session_id);
"""

_JSON_COLUMNS = {"targets", "loudness", "reference", "error", "result", "params", "files", "preview_shape"}
ACTIVE_STATES = ("queued", "running")


def now_iso() -> str:
    """The current time as ISO 8601 UTC with a ``Z`` (docs/API.md, Times)."""
    return iso_time(datetime.now(timezone.utc).timestamp())


def iso_time(seconds: float) -> str:
    """A Unix time as :func:`now_iso` writes it (strings that sort as the times do)."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id(prefix: str) -> str:
    """A short url-safe id, e.g. ``s_3fZk9QxA``: 48 random bits."""
    return f"{prefix}_{secrets.token_urlsafe(6)}"


def _row(cursor: sqlite3.Cursor, raw: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for (name, *_), value in zip(cursor.description, raw):
        if name in _JSON_COLUMNS and value is not None:
            value = json.loads(value)
        out[name] = value
    return out


def _encode(value: Any, column: str) -> Any:
    if column in _JSON_COLUMNS and value is not None:
        return json.dumps(value, allow_nan=False)
    if isinstance(value, bool):
        return int(value)
    return value


class Store:
    """The repository: one SQLite file, a connection per thread (sqlite3 objects are not
    shared across threads), WAL so readers never wait for the worker's writes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._conn().executescript(SCHEMA)  # executescript commits by itself
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO users (id, name, created_at) VALUES (?, ?, ?)",
                       (LOCAL_USER, "Local user", now_iso()))

    # -- connections --------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.row_factory = _row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: the write lock is taken at once, so two
        threads never deadlock upgrading a read lock)."""
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        return self._conn().execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> dict[str, Any] | None:
        return self._conn().execute(sql, params).fetchone()

    def insert(self, table: str, values: dict[str, Any], *, db: sqlite3.Connection | None = None) -> None:
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        args = tuple(_encode(v, k) for k, v in values.items())
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks})"
        if db is not None:
            db.execute(sql, args)
        else:
            with self.transaction() as conn:
                conn.execute(sql, args)

    def update(self, table: str, row_id: str, values: dict[str, Any], *, owner: str | None = None,
               db: sqlite3.Connection | None = None) -> None:
        if not values:
            return
        sets = ", ".join(f"{k} = ?" for k in values)
        args = [_encode(v, k) for k, v in values.items()]
        sql = f"UPDATE {table} SET {sets} WHERE id = ?"
        args.append(row_id)
        if owner is not None:
            sql += " AND owner = ?"
            args.append(owner)
        if db is not None:
            db.execute(sql, tuple(args))
        else:
            with self.transaction() as conn:
                conn.execute(sql, tuple(args))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- sessions -------------------------------------------------------------------------------

    def create_session(self, owner: str, name: str, kind: str) -> dict[str, Any]:
        sid = new_id("s")
        self.insert("sessions", {"id": sid, "owner": owner, "name": name, "kind": kind, "created_at": now_iso(),
                                 "targets": ["spotify"]})
        return self.session(owner, sid)  # type: ignore[return-value]

    def session(self, owner: str, sid: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM sessions WHERE id = ? AND owner = ?", (sid, owner))

    def sessions(self, owner: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM sessions WHERE owner = ? ORDER BY created_at DESC, rowid DESC", (owner,))

    def delete_session(self, owner: str, sid: str) -> None:
        with self.transaction() as db:
            for table in ("files", "versions", "jobs", "tracks"):
                db.execute(f"DELETE FROM {table} WHERE session_id = ? AND owner = ?", (sid, owner))
            db.execute("DELETE FROM sessions WHERE id = ? AND owner = ?", (sid, owner))

    # -- tracks ---------------------------------------------------------------------------------

    def tracks(self, owner: str, sid: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM tracks WHERE session_id = ? AND owner = ? ORDER BY seq", (sid, owner))

    def track(self, owner: str, sid: str, tid: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM tracks WHERE id = ? AND session_id = ? AND owner = ?", (tid, sid, owner))

    def next_track_seq(self, db: sqlite3.Connection, sid: str) -> int:
        row = db.execute("SELECT COALESCE(MAX(seq), 0) AS m FROM tracks WHERE session_id = ?", (sid,)).fetchone()
        return int(row["m"]) + 1

    # -- jobs -----------------------------------------------------------------------------------

    def job(self, owner: str, jid: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM jobs WHERE id = ? AND owner = ?", (jid, owner))

    def job_by_id(self, jid: str) -> dict[str, Any] | None:
        """For the worker, which acts for whoever queued the job."""
        return self.one("SELECT * FROM jobs WHERE id = ?", (jid,))

    def active_jobs(self, owner: str, sid: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM jobs WHERE session_id = ? AND owner = ? AND state IN ('queued', 'running') "
                          "ORDER BY created_at", (sid, owner))

    def session_jobs_since(self, owner: str, sid: str, after_rowid: int) -> list[dict[str, Any]]:
        return self.query("SELECT rowid AS _rowid, * FROM jobs WHERE session_id = ? AND owner = ? AND rowid > ? "
                          "ORDER BY rowid", (sid, owner, after_rowid))

    def update_job(self, jid: str, values: dict[str, Any]) -> None:
        sets = ", ".join(f"{k} = ?" for k in values)
        args = [_encode(v, k) for k, v in values.items()]
        with self.transaction() as db:
            db.execute(f"UPDATE jobs SET {sets}, rev = rev + 1 WHERE id = ?", (*args, jid))

    # -- versions -------------------------------------------------------------------------------

    def versions(self, owner: str, sid: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM versions WHERE session_id = ? AND owner = ? ORDER BY n DESC", (sid, owner))

    def version(self, owner: str, sid: str, vid: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM versions WHERE id = ? AND session_id = ? AND owner = ?", (vid, sid, owner))


__all__ = ["ACTIVE_STATES", "SCHEMA", "Store", "iso_time", "new_id", "now_iso"]
