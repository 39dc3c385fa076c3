"""A small dialect-aware SQL builder for the read path and set-based re-scoring.

List and nested-list reads are compiled straight to SQL (filters, keyset conditions, window
functions for per-parent pages) and their rows become strawberry objects without building ORM
instances: tortoise's querysets cannot express `ROW_NUMBER() OVER (PARTITION BY ...)`, and
skipping model instantiation is most of the speed of a nested read.
"""

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient


def connection() -> BaseDBAsyncClient:
    return connections.get("default")


def is_postgres(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


class Sql:
    """Collects parameters and renders the right placeholder for the connection's dialect."""

    def __init__(self, postgres: bool) -> None:
        self.postgres = postgres
        self.params: list[Any] = []
        self._aliases = 0
        # The placeholder of the caller's workspace when the whole statement is scoped to one
        # (the read compiler sets it); filters on a to-one relation use it (resolvers/filtering).
        self.workspace: str | None = None

    def param(self, value: Any) -> str:
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
        self.params.append(value)
        return f"${len(self.params)}" if self.postgres else f"?{len(self.params)}"

    def typed(self, value: Any, pg_type: str) -> str:
        """A parameter PostgreSQL cannot infer a type for (e.g. in a SELECT list)."""
        placeholder = self.param(value)
        return f"{placeholder}::{pg_type}" if self.postgres else placeholder

    def alias(self, prefix: str) -> str:
        self._aliases += 1
        return f"{prefix}{self._aliases}"

    def in_list(self, expr: str, values: Sequence[Any]) -> str:
        """`expr IN values` as one parameter, so the statement text is the same for any size."""
        if not values:
            return "1 = 0"
        if self.postgres:
            kinds = {type(v) for v in values}
            cast = "bigint[]" if kinds == {int} else "text[]"
            return f"{expr} = ANY({self.param(list(values))}::{cast})"
        as_json = orjson.dumps(list(values)).decode()
        return f"{expr} IN (SELECT value FROM json_each({self.param(as_json)}))"

    def like(self, expr: str, needle: str, *, prefix_only: bool = False) -> str:
        """Case-insensitive `contains` / `startsWith`, with LIKE wildcards in the needle escaped."""
        escaped = needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"{escaped}%" if prefix_only else f"%{escaped}%"
        return f"LOWER({expr}) LIKE {self.param(pattern)} ESCAPE '\\'"


def conjunction(parts: Iterable[str]) -> str:
    parts = [p for p in parts if p]
    if not parts:
        return "1 = 1"
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def disjunction(parts: Iterable[str]) -> str:
    parts = [p for p in parts if p]
    if not parts:
        return "1 = 0"
    return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def parse_datetime(value: Any) -> Any:
    """SQLite hands back timestamps as text; PostgreSQL as aware datetimes, or as text in the
    session's time zone inside JSON: aware ones are given in UTC, as asyncpg gives them."""
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed
    return value


def parse_json(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        return orjson.loads(value)
    return value


async def fetch(sql: str, q: Sql, conn: BaseDBAsyncClient | None = None) -> list[dict]:
    conn = conn or connection()
    return await conn.execute_query_dict(sql, q.params)
