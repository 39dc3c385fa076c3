"""The SQL that differs between PostgreSQL and SQLite when a statement builds JSON.

Both dialects render the same values strawberry would: ISO datetimes as Python's isoformat(),
base64 global IDs, base64url cursors, JSON booleans. SQLite has no base64: it gets two small
deterministic functions registered on its connection (`register_sqlite_functions`).
"""

import base64
import weakref
from typing import Any


class Postgres:
    name = "postgres"

    def json_object(self, pairs: list[tuple[str, str]]) -> str:
        if not pairs:
            return "json_build_object()"
        # json_build_object takes at most 100 arguments: nest wide objects' halves and merge.
        if len(pairs) > 50:
            return (
                f"(({self.json_object(pairs[:50])})::jsonb || "
                f"({self.json_object(pairs[50:])})::jsonb)::json"
            )
        return "json_build_object(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"

    def json_array(self, items: list[str]) -> str:
        return "json_build_array(" + ", ".join(items) + ")"

    def text_of(self, expr: str) -> str:
        """The statement's one JSON value as text (what the driver hands back)."""
        return f"({expr})::text"

    def embed(self, expr: str) -> str:
        """A JSON value computed by a subquery, to place inside another JSON value."""
        return expr

    def nullable(self, expr: str) -> str:
        """A value that may be SQL NULL, as JSON (null)."""
        return expr

    def scalar(self, expr: str) -> str:
        """A text or number column as a JSON value."""
        return expr

    def agg(self, expr: str, order: str | None, where: str | None = None) -> str:
        """A JSON array of `expr` over the rows, ordered by `order` (None: in the order the rows
        come, which a derived table's ORDER BY or an index walk gives); `[]` over none."""
        filt = f" FILTER (WHERE {where})" if where else ""
        ordered = f" ORDER BY {order}" if order else ""
        return f"COALESCE(json_agg({expr}{ordered}){filt}, '[]'::json)"

    def rows_in_order(self, order: str, presorted: bool = True) -> str:
        """The ORDER BY a derived table needs so that its aggregate reads rows in `order`:
        none when they come so already (PostgreSQL's aggregate reads a subquery's rows in its
        order) or when `agg` is given the order (and sorts them itself)."""
        return "" if presorted else f" ORDER BY {order}"

    def text(self, value: str) -> str:
        return "'" + value.replace("'", "''") + "'"

    def datetime(self, expr: str) -> str:
        """Python's isoformat() of a UTC timestamp: microseconds only when there are some."""
        # One to_char with the microseconds, dropped again when they are all zeros.
        return (
            f"replace(to_char(({expr} AT TIME ZONE 'UTC'), "
            f"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), '.000000+', '+')"
        )

    def boolean(self, expr: str) -> str:
        return expr

    def float(self, expr: str) -> str:
        """A float8 as Python writes it: an integral value keeps its `.0`."""
        return (
            f"(CASE WHEN {expr}::text ~ '^-?[0-9]+$' THEN {expr}::text || '.0' "
            f"ELSE {expr}::text END)::json"
        )

    def constant(self, value: bool) -> str:
        return "TRUE" if value else "FALSE"

    def json_column(self, expr: str) -> str:
        return f"{expr}::json"

    def global_id(self, type_name: str, expr: str) -> str:
        return f"encode(convert_to('{type_name}:' || {expr}, 'UTF8'), 'base64')"

    def cursor(self, signature: str, values: list[tuple[str, str]]) -> str:
        """encode_cursor() in SQL: base64url, unpadded, of ["signature", [values...]].
        `values` are (expression, kind) with kind datetime, int or text."""
        parts = []
        for expr, kind in values:
            if kind == "datetime":
                value = f"('\"' || {self.datetime(expr)} || '\"')"
            elif kind == "int":
                value = f"{expr}::text"
            elif kind == "float":
                value = f"({self.float(expr)})::text"
            else:
                value = f"to_json({expr})::text"
            parts.append(f"COALESCE({value}, 'null')")
        json_text = f"'[\"{signature}\",[' || " + " || ',' || ".join(parts) + " || ']]'"
        return (
            f"rtrim(translate(encode(convert_to({json_text}, 'UTF8'), 'base64'), "
            f"E'+/\\n', '-_'), '=')"
        )

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})"

    def json_elements(self, expr: str, alias: str) -> str:
        """Rows (alias.value, alias.i) of a JSON array column, i counting from 1. As jsonb:
        each `->>` on a json value would parse its text again."""
        return f"jsonb_array_elements({expr}::jsonb) WITH ORDINALITY {alias}(value, i)"

    def json_length(self, expr: str) -> str:
        return f"jsonb_array_length({expr}::jsonb)"

    def json_at(self, expr: str, index: str) -> str:
        """Element `index` (0-based) of a JSON array column, as a number."""
        return f"(({expr}::jsonb ->> ({index})::int))::bigint"

    def json_text(self, expr: str, path: tuple[str, ...]) -> str:
        """The text at `path` inside a JSON column (NULL when absent)."""
        return f"({expr} #>> '{{{','.join(path)}}}')"

    def json_field(self, expr: str, key: str, kind: str = "text") -> str:
        text = f"({expr} ->> '{key}')"
        return {"int": f"{text}::bigint", "text": text}[kind]

    def json_value(self, expr: str, key: str) -> str:
        """The JSON value under `key` of a JSON object, as JSON (null when absent)."""
        return f"COALESCE(({expr})::jsonb -> '{key}', 'null'::jsonb)"

    def array_length(self, expr: str) -> str:
        """The length of a JSON column holding an array; NULL when it holds anything else."""
        return (
            f"(CASE WHEN jsonb_typeof({expr}::jsonb) = 'array' "
            f"THEN jsonb_array_length({expr}::jsonb) END)"
        )

    def member(self, column: str, ids: str) -> str:
        """`column` is one of the ids the subquery `ids` selects. As an array, PostgreSQL
        walks the column's index once per id instead of guessing the subquery's size."""
        return f"{column} = ANY(ARRAY({ids}))"

    def fence(self) -> str:
        """Keeps a derived table from being merged into its query: its scalar subqueries then
        run once per row, not once per aggregate that reads them."""
        return " OFFSET 0"

    def days_ago(self, days: int) -> str:
        """The moment `days` days before the statement's start, comparable to timestamps."""
        return f"(now() - make_interval(days => {int(days)}))"


class Sqlite(Postgres):
    """SQLite builds the JSON as text with `||`: nested json_object() calls would hit its
    parser's depth limit (about 18 nested parentheses) after three nested connections."""

    name = "sqlite"

    def json_object(self, pairs: list[tuple[str, str]]) -> str:
        if not pairs:
            return "'{}'"
        # `||` binds tighter than every other binary operator: no parentheses needed, and
        # none spent on the parser's depth budget.
        parts = [f"'{{\"{pairs[0][0]}\":' || {pairs[0][1]}"]
        parts += [f"',\"{k}\":' || {v}" for k, v in pairs[1:]]
        return " || ".join(parts) + " || '}'"

    def json_array(self, items: list[str]) -> str:
        if not items:
            return "'[]'"
        return "'[' || " + " || ',' || ".join(self.embed(i) for i in items) + " || ']'"

    def text_of(self, expr: str) -> str:
        return expr

    def embed(self, expr: str) -> str:
        return f"IFNULL({expr}, 'null')"

    def nullable(self, expr: str) -> str:
        return f"IFNULL({expr}, 'null')"

    def scalar(self, expr: str) -> str:
        return f"json_quote({expr})"

    def agg(self, expr: str, order: str | None, where: str | None = None) -> str:
        # SQLite 3.40 has no ORDER BY inside aggregates: the rows come ordered.
        filt = f" FILTER (WHERE {where})" if where else ""
        return f"'[' || IFNULL(group_concat({expr}, ','){filt}, '') || ']'"

    def rows_in_order(self, order: str, presorted: bool = True) -> str:
        return f" ORDER BY {order}"

    def text(self, value: str) -> str:
        return "'" + ('"' + value + '"').replace("'", "''") + "'"

    def datetime(self, expr: str) -> str:
        # Stored as isoformat(" ") text; strawberry answers isoformat().
        return f"(substr({expr}, 1, 10) || 'T' || substr({expr}, 12))"

    def boolean(self, expr: str) -> str:
        return f"(CASE WHEN {expr} IS NULL THEN 'null' WHEN {expr} THEN 'true' ELSE 'false' END)"

    def constant(self, value: bool) -> str:
        return "'true'" if value else "'false'"

    def float(self, expr: str) -> str:
        # json_quote() writes 15 significant digits; 17 (and the `.0` `!` keeps) round-trip.
        return f"(CASE WHEN {expr} IS NULL THEN 'null' ELSE printf('%!.17g', {expr}) END)"

    def json_column(self, expr: str) -> str:
        return f"IFNULL(json({expr}), 'null')"

    def global_id(self, type_name: str, expr: str) -> str:
        return f"'\"' || lg_base64('{type_name}:' || {expr}) || '\"'"

    def cursor(self, signature: str, values: list[tuple[str, str]]) -> str:
        # Cursors carry the stored text of a timestamp, as the row-based path makes them.
        parts = [e for e, _ in values]
        return (
            f"'\"' || lg_base64url(json_array('{signature}', json_array({', '.join(parts)}))) "
            "|| '\"'"
        )

    def greatest(self, a: str, b: str) -> str:
        return f"MAX({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"MIN({a}, {b})"

    def json_elements(self, expr: str, alias: str) -> str:
        return f"(SELECT value, key + 1 AS i FROM json_each({expr})) {alias}"

    def json_length(self, expr: str) -> str:
        return f"json_array_length({expr})"

    def json_at(self, expr: str, index: str) -> str:
        return f"json_extract({expr}, '$[' || ({index}) || ']')"

    def json_field(self, expr: str, key: str, kind: str = "text") -> str:
        return f"json_extract({expr}, '$.{key}')"

    def json_text(self, expr: str, path: tuple[str, ...]) -> str:
        return f"json_extract({expr}, '$.{'.'.join(path)}')"

    def json_value(self, expr: str, key: str) -> str:
        return f"IFNULL({expr} -> '$.{key}', 'null')"

    def array_length(self, expr: str) -> str:
        return f"(CASE WHEN json_type({expr}) = 'array' THEN json_array_length({expr}) END)"

    def member(self, column: str, ids: str) -> str:
        return f"{column} IN ({ids})"

    def fence(self) -> str:
        return ""

    def days_ago(self, days: int) -> str:
        # The stored text of a timestamp (isoformat(" ")), to milliseconds.
        return f"strftime('%Y-%m-%d %H:%M:%f', 'now', '-{int(days)} days')"


POSTGRES = Postgres()
SQLITE = Sqlite()


def _base64(value: Any) -> str | None:
    return None if value is None else base64.b64encode(str(value).encode()).decode()


def _base64url(value: Any) -> str | None:
    if value is None:
        return None
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


_registered: "weakref.WeakSet[Any]" = weakref.WeakSet()


async def register_sqlite_functions(client: Any) -> None:
    """lg_base64/lg_base64url (and the reports' functions) on tortoise's aiosqlite connection,
    once per connection."""
    raw = getattr(client, "_connection", None)
    if raw is None or raw in _registered:
        return
    await raw.create_function("lg_base64", 1, _base64, deterministic=True)
    await raw.create_function("lg_base64url", 1, _base64url, deterministic=True)
    from resolvers.compiler.reports import sqlite_functions

    for name, arity, function in sqlite_functions():
        await raw.create_function(name, arity, function, deterministic=True)
    _registered.add(raw)
