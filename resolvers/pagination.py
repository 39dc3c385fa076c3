"""Keyset pagination: sort keys, opaque cursors, page queries for lists and nested lists.

A cursor carries the sort-key values of its row (plus the id tie-break), so a page starts
strictly after it whatever was inserted or deleted meanwhile; no OFFSET is ever used. Empty
(NULL) values sort as the largest: last ascending, first descending, on every database.
"""

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from strawberry import relay

from api.errors import BadUserInput
from api.types.common import Connection
from models.sql import Sql, conjunction, connection, disjunction, fetch, is_postgres


@dataclass(frozen=True)
class SortKey:
    column: str
    descending: bool = False
    is_datetime: bool = False

    def reversed(self) -> "SortKey":
        return SortKey(self.column, not self.descending, self.is_datetime)


@dataclass(frozen=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    @property
    def backward(self) -> bool:
        return self.last is not None and self.first is None


@dataclass
class Page:
    rows: list[dict]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


DATETIME_COLUMNS = {"created_at", "updated_at", "occurred_at"}


def sort_keys(order_by: list | None, default: tuple[SortKey, ...] = ()) -> tuple[SortKey, ...]:
    """The requested keys (enum values are column names), then the id tie-break."""
    keys = [
        SortKey(o.field.value, o.direction.value == "DESC", o.field.value in DATETIME_COLUMNS)
        for o in order_by or ()
    ] or list(default)
    if not any(k.column == "id" for k in keys):
        keys.append(SortKey("id"))
    return tuple(keys)


def page_size(args: PageArgs, *, default: int, maximum: int) -> int:
    if args.first is not None and args.last is not None:
        raise BadUserInput("Pass either `first` or `last`, not both.")
    size = args.first if args.first is not None else args.last
    if size is None:
        return default
    if size < 0:
        raise BadUserInput("`first` and `last` must not be negative.")
    if size > maximum:
        raise BadUserInput(f"At most {maximum} items per page; asked for {size}.")
    return size


def _signature(keys: tuple[SortKey, ...]) -> str:
    return ",".join(f"{k.column}:{'d' if k.descending else 'a'}" for k in keys)


def encode_cursor(keys: tuple[SortKey, ...], row: dict) -> str:
    values = []
    for k in keys:
        v = row[k.column]
        if isinstance(v, datetime):
            v = v.isoformat()
        values.append(v)
    raw = orjson.dumps([_signature(keys), values])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(keys: tuple[SortKey, ...], cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        signature, values = orjson.loads(raw)
    except (ValueError, TypeError):
        raise BadUserInput("Invalid cursor.") from None
    if signature != _signature(keys) or len(values) != len(keys):
        raise BadUserInput("This cursor belongs to a different ordering of the list.")
    decoded = []
    for k, v in zip(keys, values, strict=True):
        if k.is_datetime and v is not None:
            try:
                v = datetime.fromisoformat(v)
            except (TypeError, ValueError):
                raise BadUserInput("Invalid cursor.") from None
        elif not _fits(k, v):
            raise BadUserInput("Invalid cursor.")
        decoded.append(v)
    return decoded


INTEGER_COLUMNS = {"id", "score"}
INT32 = 2**31


def _fits(key: SortKey, value: Any) -> bool:
    """A cursor value of the column's type and range (a forged one must not reach the driver)."""
    if value is None:
        return key.column != "id"
    if key.column in INTEGER_COLUMNS:
        return type(value) is int and -INT32 <= value < INT32
    return isinstance(value, str)


def _strictly_after(key: SortKey, expr: str, value: Any, q: Sql) -> str:
    if value is None:  # NULL is the largest value
        return f"{expr} IS NOT NULL" if key.descending else "1 = 0"
    p = q.param(value)
    return f"{expr} < {p}" if key.descending else f"({expr} > {p} OR {expr} IS NULL)"


def _equal(expr: str, value: Any, q: Sql) -> str:
    return f"{expr} IS NULL" if value is None else f"{expr} = {q.param(value)}"


def keyset_condition(keys: tuple[SortKey, ...], values: list[Any], t: str, q: Sql) -> str:
    """Rows strictly after the row with these key values, in the order given by `keys`."""
    branches = []
    for i, key in enumerate(keys):
        equal_prefix = [_equal(f"{t}.{k.column}", values[j], q) for j, k in enumerate(keys[:i])]
        branches.append(
            conjunction([*equal_prefix, _strictly_after(key, f"{t}.{key.column}", values[i], q)])
        )
    return disjunction(branches)


def order_clause(keys: tuple[SortKey, ...], t: str) -> str:
    return ", ".join(
        f"{t}.{k.column} DESC NULLS FIRST" if k.descending else f"{t}.{k.column} ASC NULLS LAST"
        for k in keys
    )


def _cursor_conditions(keys: tuple[SortKey, ...], args: PageArgs, t: str, q: Sql) -> list[str]:
    """Conditions for `after` and `before`; the cursors were made under the requested order."""
    parts = []
    if args.after is not None:
        parts.append(keyset_condition(keys, decode_cursor(keys, args.after), t, q))
    if args.before is not None:
        reversed_keys = tuple(k.reversed() for k in keys)
        parts.append(keyset_condition(reversed_keys, decode_cursor(keys, args.before), t, q))
    return parts


def _finish(rows: list[dict], size: int, keys: tuple[SortKey, ...], args: PageArgs) -> Page:
    has_more = len(rows) > size
    rows = rows[:size]
    if args.backward:
        rows.reverse()
        has_next, has_previous = args.before is not None, has_more
    else:
        has_next, has_previous = has_more, args.after is not None
    return Page(rows, [encode_cursor(keys, r) for r in rows], has_next, has_previous)


async def fetch_page(
    *, table: str, where: str, q: Sql, keys: tuple[SortKey, ...], args: PageArgs, size: int
) -> Page:
    """One page of a top-level list: `where` must already scope the workspace."""
    conditions = [where, *_cursor_conditions(keys, args, "t", q)]
    scan_keys = tuple(k.reversed() for k in keys) if args.backward else keys
    sql = (
        f"SELECT t.* FROM {table} t WHERE {conjunction(conditions)} "
        f"ORDER BY {order_clause(scan_keys, 't')} LIMIT {int(size) + 1}"
    )
    return _finish(await fetch(sql, q), size, keys, args)


async def fetch_child_pages(
    *,
    source: str,
    parent_expr: str,
    where: str,
    q: Sql,
    keys: tuple[SortKey, ...],
    args: PageArgs,
    size: int,
) -> dict[Any, Page]:
    """One page per parent in a single statement (ROW_NUMBER over the parent partition)."""
    conditions = [where, *_cursor_conditions(keys, args, "t", q)]
    scan_keys = tuple(k.reversed() for k in keys) if args.backward else keys
    sql = (
        f"SELECT * FROM (SELECT t.*, {parent_expr} AS lg_parent, ROW_NUMBER() OVER "
        f"(PARTITION BY {parent_expr} ORDER BY {order_clause(scan_keys, 't')}) AS lg_rn "
        f"FROM {source} t WHERE {conjunction(conditions)}) s "
        f"WHERE s.lg_rn <= {int(size) + 1} ORDER BY s.lg_parent, s.lg_rn"
    )
    grouped: dict[Any, list[dict]] = {}
    for row in await fetch(sql, q):
        grouped.setdefault(row["lg_parent"], []).append(row)
    return {parent: _finish(rows, size, keys, args) for parent, rows in grouped.items()}


def empty_page() -> Page:
    return Page([], [], False, False)


async def count(*, table: str, where: str, q: Sql) -> int:
    rows = await fetch(f"SELECT COUNT(*) AS n FROM {table} t WHERE {where}", q)
    return int(rows[0]["n"])


async def count_children(*, source: str, parent_expr: str, where: str, q: Sql) -> dict[Any, int]:
    sql = (
        f"SELECT {parent_expr} AS lg_parent, COUNT(*) AS n FROM {source} t "
        f"WHERE {where} GROUP BY {parent_expr}"
    )
    return {row["lg_parent"]: int(row["n"]) for row in await fetch(sql, q)}


def to_connection(page: Page, to_node: Callable[[dict], Any], count) -> Connection:
    return Connection(
        edges=[
            relay.Edge(cursor=c, node=to_node(r))
            for r, c in zip(page.rows, page.cursors, strict=True)
        ],
        page_info=relay.PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        ),
        count=count,
    )


async def list_connection(
    info: Any,
    *,
    table: str,
    conditions: Callable[[Sql], list[str]],
    order_by: list | None,
    args: PageArgs,
    to_node: Callable[[dict], Any],
) -> Connection:
    """A top-level list: the caller's workspace, then `conditions` (filter, search)."""
    settings = info.context.settings
    size = page_size(args, default=settings.default_page_size, maximum=settings.max_page_size)
    keys = sort_keys(order_by)
    postgres = is_postgres(connection())

    def where(q: Sql) -> str:
        workspace = f"t.workspace_id = {q.param(info.context.workspace_id)}"
        return conjunction([workspace, *conditions(q)])

    q = Sql(postgres)
    page = await fetch_page(table=table, where=where(q), q=q, keys=keys, args=args, size=size)

    async def total() -> int:
        q = Sql(postgres)
        return await count(table=table, where=where(q), q=q)

    return to_connection(page, to_node, total)
