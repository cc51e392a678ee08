"""The errors a user of mixlab can see.

One root, :class:`MixlabError`, with subclasses grouped by what the user can do about them.
Each error carries a stable ``code`` (``"audio.empty"``), a message written for a musician
(what happened and what to try) and structured ``details``. The CLI prints the message; the
service will map the class to an HTTP status and serve ``code`` and ``details`` as data.
"""

from __future__ import annotations

from typing import Any


class MixlabError(Exception):
    """Root of every error mixlab raises on purpose."""

    code: str = "mixlab.error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidAudioError(MixlabError, ValueError):
    """The audio cannot be used: unreadable, empty, silent, non-finite, too long, too many channels."""

    code = "audio.invalid"


class UnsupportedFormatError(MixlabError, ValueError):
    """The file is in a format mixlab does not read or write."""

    code = "audio.unsupported_format"


class InvalidParameterError(MixlabError, ValueError):
    """A parameter is out of range or of the wrong kind."""

    code = "parameter.invalid"


class ProcessingError(MixlabError, RuntimeError):
    """Something went wrong on our side; the input was fine."""

    code = "processing.failed"
