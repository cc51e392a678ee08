"""Request bodies (validated by FastAPI; a bad body is a 422 in the error shape).

Response objects are built in :mod:`mixlab.service.views`; plans travel as plain JSON objects
and are checked by the engine (:meth:`mixlab.engine.plan.Plan.from_dict` and the renderer's
range checks), which owns their schema.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Format = Literal["wav16", "wav24", "flac", "mp3"]


class SessionCreate(BaseModel):
    name: str = Field(default="Untitled session", min_length=1, max_length=200)
    kind: Literal["stems", "master"] = "stems"


class SessionPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    genre: str | None = None
    targets: list[str] | None = Field(default=None, max_length=16)


class MixRequest(BaseModel):
    plan: dict[str, Any] | None = None


class RenderRequest(BaseModel):
    plan: dict[str, Any] | None = None
    targets: list[str] | None = Field(default=None, max_length=16)
    formats: list[Format] = Field(default_factory=lambda: ["wav24"], min_length=1, max_length=4)
    stems: bool = False


class NotesRequest(BaseModel):
    plan: dict[str, Any]


class ApplyFixRequest(BaseModel):
    plan: dict[str, Any]
    index: int = Field(ge=0)


__all__ = ["ApplyFixRequest", "Format", "MixRequest", "NotesRequest", "RenderRequest", "SessionCreate", "SessionPatch"]
