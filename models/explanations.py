"""Pure: the human `reason` of a score contribution ("contact.jobTitle contains 'Director'")."""

from typing import Any

import orjson

from models.scoring import Frequency, Rule

OPERATORS = {
    "eq": "=",
    "neq": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "in": "in",
    "contains": "contains",
    "startsWith": "starts with",
}
COMBINATORS = {"and", "or", "not", "some", "none"}


def _value(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return orjson.dumps(value).decode()


def _leaf(path: str, conditions: dict[str, Any]) -> list[str]:
    parts = []
    for op, value in conditions.items():
        if op == "isNull":
            parts.append(f"{path} is {'empty' if value else 'set'}")
        elif op in OPERATORS:
            parts.append(f"{path} {OPERATORS[op]} {_value(value)}")
    return parts


def describe_filter(data: dict[str, Any] | None, path: str = "") -> str:
    """A stored filter (GraphQL field names) as one readable line, e.g.
    "account.numberOfEmployees > 500 and contact.jobTitle contains 'Director'"."""
    if not data:
        return "every lead"
    parts: list[str] = []
    prefix = f"{path}." if path else ""
    for key, value in data.items():
        if key == "and":
            parts += [f"({describe_filter(sub, path)})" for sub in value]
        elif key == "or":
            parts.append("(" + " or ".join(describe_filter(sub, path) for sub in value) + ")")
        elif key == "not":
            parts.append(f"not ({describe_filter(value, path)})")
        elif isinstance(value, dict) and ("some" in value or "none" in value):
            for quantifier in ("some", "none"):
                if quantifier in value:
                    inner = describe_filter(value[quantifier])
                    parts.append(f"{quantifier} {prefix}{key} ({inner})")
        elif isinstance(value, dict) and value and set(value) <= set(OPERATORS) | {"isNull"}:
            parts += _leaf(prefix + key, value)
        elif isinstance(value, dict):
            parts.append(describe_filter(value, prefix + key))
        else:
            parts.append(f"{prefix}{key} = {_value(value)}")
    return " and ".join(parts) if parts else "every lead"


def reason(rule: Rule, n: int) -> str:
    """Why the rule contributed: "3 × EMAIL_CLICKED (decayed)", "contact.jobTitle contains 'X'"."""
    if rule.is_attribute:
        return describe_filter(rule.lead_matches)
    what = str(rule.interaction_type)
    if rule.metadata_contains is not None:
        what += f" with {orjson.dumps(rule.metadata_contains).decode()}"
    if rule.within_days is not None:
        what += f" in the last {rule.within_days} days"
    if rule.frequency is Frequency.NONE:
        return f"no {what}"
    if rule.frequency is Frequency.AT_LEAST:
        return f"{n} × {what} (at least {rule.min_count})"
    text = f"{n} × {what}"
    if rule.decays:
        text += f" (decayed, half-life {rule.half_life_days} days)"
    if (
        rule.max_points is not None
        and not rule.decays
        and abs(rule.points * n) > abs(rule.max_points)
    ):
        text += f" (capped at {abs(rule.max_points)})"
    return text
