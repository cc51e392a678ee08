"""Plans as plain data: every decision is a named parameter with a source, a reason and a lock.

A plan is JSON-serialisable and versioned. The CLI, the service and the tests all render the
same plan with the same function, and a user may edit any value; values the user set
(``source == "user"``) or locked are kept when the AI decides again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mixlab.errors import InvalidParameterError

AI = "ai"
USER = "user"


@dataclass(frozen=True)
class Param:
    """One decision: its value, who set it, why, and whether the AI may change it."""

    value: Any
    reason: str = ""
    source: str = AI
    locked: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source, "reason": self.reason, "locked": self.locked}

    @classmethod
    def from_dict(cls, raw: Any) -> "Param":
        if not isinstance(raw, dict) or "value" not in raw:
            return cls(value=raw, reason="set in the plan file", source=USER)
        source = raw.get("source", USER)
        if source not in (AI, USER):
            raise InvalidParameterError(f"parameter source must be 'ai' or 'user', got {source!r}", code="plan.bad_source")
        locked, reason = raw.get("locked", False), raw.get("reason", "")
        if not isinstance(locked, bool):
            raise InvalidParameterError(f"a parameter's lock must be true or false, got {locked!r}",
                                        code="plan.bad_parameter")
        if not isinstance(reason, str):
            raise InvalidParameterError(f"a parameter's reason must be text, got {reason!r}", code="plan.bad_parameter")
        return cls(value=raw["value"], reason=reason, source=source, locked=locked)

    @property
    def is_kept(self) -> bool:
        """True when the AI must not change this value."""
        return self.locked or self.source == USER


Section = dict[str, Param]


@dataclass
class Plan:
    """A versioned, sectioned set of parameters plus free-form context (analysis, results)."""

    schema: str
    sections: dict[str, Section] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)

    def get(self, section: str, name: str) -> Any:
        try:
            return self.sections[section][name].value
        except KeyError:
            raise InvalidParameterError(
                f"the plan has no parameter {section}.{name}", code="plan.missing_parameter", parameter=f"{section}.{name}"
            ) from None

    def param(self, section: str, name: str) -> Param | None:
        return self.sections.get(section, {}).get(name)

    def decide(self, section: str, name: str, value: Any, reason: str) -> Any:
        """Set an AI decision unless the user's value must be kept; return the value in force."""
        current = self.param(section, name)
        if current is not None and current.is_kept:
            return current.value
        self.sections.setdefault(section, {})[name] = Param(value=value, reason=reason, source=AI)
        return value

    def set_user(self, section: str, name: str, value: Any, reason: str = "set by the user", *, locked: bool = True) -> None:
        self.sections.setdefault(section, {})[name] = Param(value=value, reason=reason, source=USER, locked=locked)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            **self.context,
            "sections": {s: {n: p.to_dict() for n, p in params.items()} for s, params in self.sections.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, expected_schema: str) -> "Plan":
        schema = raw.get("schema")
        if schema != expected_schema:
            raise InvalidParameterError(
                f"this plan is '{schema}', expected '{expected_schema}'", code="plan.bad_schema", schema=schema
            )
        raw_sections = raw.get("sections", {})
        if not isinstance(raw_sections, dict) or not all(isinstance(p, dict) for p in raw_sections.values()):
            raise InvalidParameterError("a plan's sections must be an object of objects: {section: {name: parameter}}",
                                        code="plan.bad_parameter", parameter="sections")
        sections: dict[str, Section] = {}
        for s, params in raw_sections.items():
            sections[s] = {}
            for n, p in params.items():
                try:
                    sections[s][n] = Param.from_dict(p)
                except InvalidParameterError as exc:
                    raise InvalidParameterError(f"{s}.{n}: {exc.message}", code=exc.code, parameter=f"{s}.{n}") from None
        context = {k: v for k, v in raw.items() if k not in ("schema", "sections")}
        return cls(schema=schema, sections=sections, context=context)

    def copy(self) -> "Plan":
        return Plan(
            schema=self.schema,
            sections={s: dict(params) for s, params in self.sections.items()},
            context=json.loads(json.dumps(self.context)),
        )


def load_plan(path: str | Path, *, expected_schema: str) -> Plan:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidParameterError(f"{path}: plan file not found", code="plan.not_found", file=str(path)) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidParameterError(
            f"{path}: is not a valid plan (JSON error: {exc}). Re-export it or fix the JSON.", code="plan.bad_json", file=str(path)
        ) from None
    if not isinstance(raw, dict):
        raise InvalidParameterError(f"{path}: is not a plan object", code="plan.bad_json", file=str(path))
    return Plan.from_dict(raw, expected_schema=expected_schema)


__all__ = ["AI", "USER", "Param", "Plan", "load_plan"]
