"""Request bodies, validated by type (strict: ``"1"`` is not a number, ``1`` is not true) and
unknown fields refused; a bad body is a 400 naming the field (``details.parameter``).

Response objects are built in :mod:`mixlab.service.views`; plans travel as plain JSON objects
and are checked by :func:`mixlab.service.plan_io.plan_in` (the engine's parameter schema and
the plan's context), so a plan's refusal names the parameter too.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mixlab.engine.profiles import get_genre
from mixlab.engine.targets import get_platform
from mixlab.errors import InvalidParameterError

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


def target_names(names: list[str], where: str = "targets") -> list[str]:
    """Platform names, each checked (400 naming ``targets[k]`` for an unknown one), duplicates dropped."""
    out: list[str] = []
    for k, name in enumerate(names):
        try:
            platform = get_platform(name).name
        except InvalidParameterError as exc:
            raise _named(exc, f"{where}[{k}]", f"unknown platform {name!r}") from None
        if platform not in out:
            out.append(platform)
    return out


def genre_name(name: str) -> str:
    """A genre's name, checked (400 naming ``genre`` for an unknown one)."""
    try:
        return get_genre(name).name
    except InvalidParameterError as exc:
        raise _named(exc, "genre", f"unknown genre {name!r}") from None


def _named(exc: InvalidParameterError, where: str, what: str) -> InvalidParameterError:
    """The engine's refusal of a name, worded for the API and naming the field."""
    choices = ", ".join(map(str, exc.details.get("choices", [])))
    return InvalidParameterError(f"{where}: {what}; choose one of {choices}.", code=exc.code,
                                 **{**exc.details, "parameter": where})


__all__ = ["ApplyFixRequest", "Format", "MixRequest", "NotesRequest", "RenderRequest", "SessionCreate", "SessionPatch",
           "genre_name", "target_names"]
