"""Where the service keeps files: local disk now, an object store later, chosen by configuration.

The layout (docs/API.md, Storage) is ``users/<uid>/sessions/<sid>/{originals, preview, peaks,
versions/<vid>, cache, reference, tmp}/`` under the data folder. The engine reads and writes
local files, so the interface is about *folders a job works in* and *committing finished
files*: an S3 implementation would download a session's originals into a local working folder
and upload what :meth:`Storage.commit` receives. Nothing outside this module builds paths.

Every write is atomic (a temporary file in the same folder, then a rename), so a reader never
sees half a file, and originals are never written twice.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

PARTS = ("originals", "preview", "peaks", "versions", "cache", "reference", "tmp")


class Storage:
    """Files of every session on the local disk under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def session_dir(self, owner: str, sid: str) -> Path:
        return self.root / "users" / _safe(owner) / "sessions" / _safe(sid)

    def folder(self, owner: str, sid: str, part: str) -> Path:
        """One of :data:`PARTS` of a session, created when missing."""
        if part not in PARTS:
            raise ValueError(part)
        path = self.session_dir(owner, sid) / part
        path.mkdir(parents=True, exist_ok=True)
        return path

    def temp_dir(self, owner: str, sid: str, prefix: str) -> Path:
        """A new private folder for one upload or job, under the session's ``tmp``: removed by
        the caller (and by :meth:`sweep_temp` on start, after a crash)."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.folder(owner, sid, "tmp")))

    def commit(self, source: Path, destination: Path) -> None:
        """Move a finished file (or folder) into place in one rename (same file system)."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, destination)

    def write_json(self, path: Path, document: Any) -> None:
        """Write JSON atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(document, fh, allow_nan=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read_json(self, path: Path) -> Any:
        return json.loads(path.read_text())

    def remove(self, path: Path) -> None:
        """Remove a file or folder of a session (missing is fine)."""
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def remove_session(self, owner: str, sid: str) -> None:
        shutil.rmtree(self.session_dir(owner, sid), ignore_errors=True)

    def hide_paths(self, text: str) -> str:
        """``text`` (a message for the user) without this server's paths: a file of a session
        is named from inside its session (``originals/Kick.wav``), anything else under the
        data folder as ``<data>/...``."""
        root = str(self.root)
        if root not in text:
            return text
        text = re.sub(re.escape(root) + r"/users/[^/\s]+/sessions/[^/\s]+/?", "", text)
        return text.replace(root, "<data>")

    def sweep_temp(self) -> None:
        """Remove the temporary folders a crashed process left behind."""
        users = self.root / "users"
        if not users.is_dir():
            return
        for tmp in users.glob("*/sessions/*/tmp"):
            shutil.rmtree(tmp, ignore_errors=True)
        for partial in users.glob("*/sessions/*/versions/.*"):
            shutil.rmtree(partial, ignore_errors=True)


def _safe(part: str) -> str:
    """Ids are made by us (url-safe); refuse anything that could leave the tree anyway."""
    if not part or "/" in part or "\\" in part or part in (".", "..") or "\x00" in part:
        raise ValueError(f"bad id {part!r}")
    return part


__all__ = ["PARTS", "Storage"]
