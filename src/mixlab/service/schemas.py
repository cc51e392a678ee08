"""Request bodies, validated by type (strict: ``"1"`` is not a number, ``1`` is not true) and
unknown fields refused; a bad body is a 400 naming the field (``details.parameter``).

Response objects are built in :mod:`mixlab.service.views`; plans travel as plain JSON objects
and are checked by :func:`mixlab.service.plan_io.plan_in` (the engine's parameter schema and
the plan's context), so a plan's refusal names the parameter too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Format = Literal["wav16", "wav24", "flac", "mp3"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SessionCreate(Body):
    name: str = Field(default="Untitled session", min_length=1, max_length=200)
    kind: Literal["stems", "master"] = "stems"


class SessionPatch(Body):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    genre: str | None = Field(default=None, max_length=64)
    targets: list[str] | None = Field(default=None, max_length=16)


class MixRequest(Body):
    plan: dict[str, Any] | None = None


class RenderRequest(Body):
    plan: dict[str, Any] | None = None
    targets: list[str] | None = Field(default=None, max_length=16)
    formats: list[Format] = Field(default_factory=lambda: ["wav24"], min_length=1, max_length=4)
    stems: bool = False


class NotesRequest(Body):
    plan: dict[str, Any]


class ApplyFixRequest(Body):
    plan: dict[str, Any]
    index: int = Field(ge=0, le=10_000)


__all__ = ["ApplyFixRequest", "Format", "MixRequest", "NotesRequest", "RenderRequest", "SessionCreate", "SessionPatch"]
