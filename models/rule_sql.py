"""SQL for the rule kinds beyond counting: metadata containment, decay, rounding.

Each function renders the same arithmetic as `models.scoring` for PostgreSQL and SQLite."""

from datetime import UTC, datetime
from typing import Any

import orjson

from models.sql import Sql, conjunction


def _sqlite_scalar(type_expr: str, value_expr: str, value: Any, q: Sql) -> str:
    """`value_expr` (with JSON type `type_expr`) equals the scalar `value` as jsonb would."""
    if isinstance(value, bool):
        return f"{type_expr} = '{'true' if value else 'false'}'"
    if value is None:
        return f"{type_expr} = 'null'"
    if isinstance(value, str):
        return f"({type_expr} = 'text' AND {value_expr} = {q.param(value)})"
    return f"({type_expr} IN ('integer', 'real') AND {value_expr} = {q.param(value)})"


def _sqlite_contains(base: str, path: str, pattern: Any, q: Sql) -> str:
    """JSON text `base` at JSON path `path` contains `pattern` (jsonb `@>` semantics)."""
    p = q.param(path)
    if isinstance(pattern, dict):
        parts = [f"json_type({base}, {p}) = 'object'"]
        for key, value in pattern.items():
            parts.append(_sqlite_contains(base, f'{path}."{key}"', value, q))
        return conjunction(parts)
    if isinstance(pattern, list):
        parts = [f"json_type({base}, {p}) = 'array'"]
        for wanted in pattern:
            e = q.alias("je")
            if isinstance(wanted, dict | list):
                kind = "object" if isinstance(wanted, dict) else "array"
                inner = f"{e}.type = '{kind}' AND {_sqlite_contains(f'{e}.value', '$', wanted, q)}"
            else:
                inner = _sqlite_scalar(f"{e}.type", f"{e}.value", wanted, q)
            parts.append(f"EXISTS (SELECT 1 FROM json_each({base}, {p}) {e} WHERE {inner})")
        return conjunction(parts)
    return _sqlite_scalar(f"json_type({base}, {p})", f"json_extract({base}, {p})", pattern, q)


def metadata_contains(expr: str, pattern: dict[str, Any], q: Sql) -> str:
    """The interaction metadata `expr` contains the JSON object `pattern`."""
    if q.postgres:
        return f"({expr})::jsonb @> ({q.param(orjson.dumps(pattern).decode())}::text)::jsonb"
    return _sqlite_contains(expr, "$", pattern, q)


def age_in_days(occurred_at: str, now: datetime, q: Sql) -> str:
    """Days from `occurred_at` to `now`, never negative."""
    if q.postgres:
        return (
            f"GREATEST(EXTRACT(EPOCH FROM ({q.typed(now, 'timestamptz')} - {occurred_at}))"
            "::float8, 0) / 86400.0"
        )
    # julianday keeps milliseconds; rounding the difference to them makes whole ages exact.
    stamp = q.param(now.astimezone(UTC).isoformat(sep=" "))
    millis = f"ROUND((julianday({stamp}) - julianday({occurred_at})) * 86400000.0)"
    return f"MAX({millis}, 0.0) / 86400000.0"


def decay_factor(occurred_at: str, half_life_days: int, now: datetime, q: Sql) -> str:
    return f"POWER(0.5, ({age_in_days(occurred_at, now, q)}) / {float(int(half_life_days))})"


def clamp(expr: str, cap: int) -> str:
    return f"(CASE WHEN {expr} > {cap} THEN {cap} WHEN {expr} < {-cap} THEN {-cap} ELSE {expr} END)"


def round_half_away(expr: str) -> str:
    """An integer: 2.5 -> 3, -2.5 -> -3 (PostgreSQL's round() on floats goes half to even)."""
    return (
        f"CAST(CASE WHEN {expr} >= 0 THEN FLOOR({expr} + 0.5) "
        f"ELSE -FLOOR(0.5 - {expr}) END AS INTEGER)"
    )
