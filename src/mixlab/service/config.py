"""Service settings, from the environment (``MIXLAB_*``) or given directly (tests).

A frozen dataclass rather than pydantic-settings: three values, no secrets yet, and one less
dependency. When accounts land, secrets belong here and must be required (no defaults).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mixlab.errors import InvalidParameterError

DEFAULT_MAX_UPLOAD_BYTES = 2 * 2**30
LOCAL_USER = "local"


@dataclass(frozen=True)
class Settings:
    """What the service needs to run on one machine.

    Attributes
    ----------
    data_dir : Path
        Holds ``mixlab.db`` and ``users/<uid>/sessions/<sid>/...`` (docs/API.md, Storage).
    max_upload_bytes : int
        Largest accepted upload (one file or ZIP), bytes; enforced while receiving.
    job_workers : int
        Jobs run side by side (each job also uses the engine's own threads), >= 1.
    max_stems : int
        Most tracks in one session.
    notes_cache_sessions : int
        Sessions whose Mix Notes measurements stay in memory (least recently used dropped).
    max_event_streams : int
        Live-update streams (server-sent events) one user may hold open at once
        (``MIXLAB_MAX_EVENT_STREAMS``); one more is 429. The page holds one or two per tab.
    max_unpacked_bytes : int or None
        Most bytes one ZIP upload may unpack to (``MIXLAB_MAX_UNPACKED_BYTES``); None is twice
        ``max_upload_bytes`` (a ZIP of WAV stems unpacks to about 1.1 times its size). Each
        archive is also held to :data:`mixlab.audio.stems.MAX_ARCHIVE_RATIO` times its size.
    """

    data_dir: Path = Path("mixlab-data")
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    job_workers: int = 1
    max_stems: int = 256
    notes_cache_sessions: int = 4
    max_unpacked_bytes: int | None = None
    max_event_streams: int = 32

    @property
    def unpacked_limit(self) -> int:
        """:attr:`max_unpacked_bytes`, or its default."""
        return self.max_unpacked_bytes if self.max_unpacked_bytes is not None else 2 * self.max_upload_bytes

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1:
            raise InvalidParameterError("MIXLAB_MAX_UPLOAD_BYTES must be >= 1", code="config.bad_value")
        if self.max_unpacked_bytes is not None and self.max_unpacked_bytes < 1:
            raise InvalidParameterError("MIXLAB_MAX_UNPACKED_BYTES must be >= 1", code="config.bad_value")
        if self.max_event_streams < 1:
            raise InvalidParameterError("MIXLAB_MAX_EVENT_STREAMS must be >= 1", code="config.bad_value")
        if self.job_workers < 1:
            raise InvalidParameterError("MIXLAB_JOB_WORKERS must be >= 1", code="config.bad_value")

    @classmethod
    def from_env(cls, *, data_dir: str | os.PathLike[str] | None = None) -> Settings:
        """Settings from ``MIXLAB_DATA``, ``MIXLAB_MAX_UPLOAD_BYTES``, ``MIXLAB_MAX_UNPACKED_BYTES`` and
        ``MIXLAB_JOB_WORKERS``;
        ``data_dir`` (the ``--data`` option) wins over ``MIXLAB_DATA``."""
        folder = data_dir if data_dir is not None else os.environ.get("MIXLAB_DATA", "mixlab-data")
        return cls(
            data_dir=Path(folder),
            max_upload_bytes=_int_env("MIXLAB_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES),
            job_workers=_int_env("MIXLAB_JOB_WORKERS", 1),
            max_unpacked_bytes=_int_env("MIXLAB_MAX_UNPACKED_BYTES", 0) or None,
            max_event_streams=_int_env("MIXLAB_MAX_EVENT_STREAMS", 32),
        )


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidParameterError(f"{name} must be a whole number, got {raw!r}", code="config.bad_value") from None
