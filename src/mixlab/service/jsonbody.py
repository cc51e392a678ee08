"""JSON request bodies read strictly: bounded in size and depth, numbers finite.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``1e999`` (infinite), which JSON does not
have; such a value got into a plan or a job's parameters and failed later (a 500 when stored,
a failed job when rendered). Every router uses :class:`StrictJSONRoute`: a JSON body is read
(at most :data:`MAX_JSON_BYTES`), parsed, and refused with a 400 naming where the bad value
is, before FastAPI validates it against the route's schema. Uploads (multipart, streamed) are
not touched.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from mixlab.service.errors import ApiError, field_path

#: Largest JSON body (a plan of 256 tracks is about 2 MB).
MAX_JSON_BYTES = 16 * 2**20
#: Deepest nesting of objects and lists (a plan needs 6).
MAX_JSON_DEPTH = 32


def _path(parts: list[str | int]) -> str:
    return field_path(parts) or "the body"


def check_json(value: Any) -> None:
    """Refuse non-finite numbers and nesting deeper than :data:`MAX_JSON_DEPTH` (400,
    ``details.parameter`` is where: ``plan.sections.track:Kick.gain_db.value``)."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, where = stack.pop()
        if len(where) > MAX_JSON_DEPTH:
            raise ApiError(400, "request.too_deep", f"{_path(where)}: the request nests objects or lists deeper "
                           f"than {MAX_JSON_DEPTH} levels; send the plan as the API gave it.", parameter=_path(where))
        if isinstance(item, float) and not math.isfinite(item):
            raise ApiError(400, "request.not_finite", f"{_path(where)} must be a finite number, got {item}. JSON "
                           "has no NaN or infinity.", parameter=_path(where))
        if isinstance(item, dict):
            stack.extend((v, [*where, str(k)]) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, [*where, i]) for i, v in enumerate(item))


def parse_json(body: bytes) -> Any:
    """The body as JSON, checked by :func:`check_json`; a 400 when it is not JSON."""
    try:
        value = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "request.bad_json", f"The request body is not valid JSON ({exc}).",
                       parameter="the body") from None
    except RecursionError:
        raise ApiError(400, "request.too_deep", f"The request nests objects or lists deeper than {MAX_JSON_DEPTH} "
                       "levels.", parameter="the body") from None
    check_json(value)
    return value


class StrictRequest(Request):
    """A request whose body is read under :data:`MAX_JSON_BYTES` and parsed by :func:`parse_json`."""

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            chunks: list[bytes] = []
            size = 0
            async for chunk in self.stream():
                size += len(chunk)
                if size > MAX_JSON_BYTES:
                    raise ApiError(413, "request.too_large", f"The request body is larger than "
                                   f"{MAX_JSON_BYTES // 2**20} MB.", max_bytes=MAX_JSON_BYTES)
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_json(await self.body())
        return self._json


def _is_json(request: Request) -> bool:
    if request.method not in ("POST", "PUT", "PATCH"):
        return False
    kind = request.headers.get("content-type")
    if kind is None:
        return True  # FastAPI reads a body without a content type as JSON
    kind = kind.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


class StrictJSONRoute(APIRoute):
    """A route whose JSON body is checked by :func:`parse_json` before anything else."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            request = StrictRequest(request.scope, request.receive)
            if _is_json(request) and await request.body():
                await request.json()
            return await handler(request)

        return strict


__all__ = ["MAX_JSON_BYTES", "MAX_JSON_DEPTH", "StrictJSONRoute", "StrictRequest", "check_json", "parse_json"]
