"""Connections compiled to SQL: one keyset page per parent, walked with `LIMIT` per parent.

A page is `ORDER BY <keys> LIMIT size + 1` over the rows of one parent (a correlated subquery,
which PostgreSQL runs as an index walk per parent like a LATERAL join); the extra row answers
`hasNextPage` (or `hasPreviousPage` for `last`). The lead's interactions are two such walks
(its own, its contact's contact-level ones) merged and limited again.
"""

import re
from dataclasses import dataclass

from models.sql import conjunction, disjunction
from resolvers.pagination import (
    PageArgs,
    SortKey,
    _signature,
    decode_cursor,
    keyset_condition,
    order_clause,
)

INT_KEYS = frozenset({"id", "score", "number_of_employees"})
FLOAT_KEYS = frozenset({"annual_revenue"})


@dataclass
class Source:
    """Rows of `table` matching every `where` template and one of `branches` ({t} = alias)."""

    table: str
    where: list[str]
    branches: list[str]


def cursor_kinds(keys: tuple[SortKey, ...], t: str) -> list[tuple[str, str]]:
    return [
        (
            f"{t}.{k.column}",
            "datetime"
            if k.is_datetime
            else "int"
            if k.column in INT_KEYS
            else "float"
            if k.column in FLOAT_KEYS
            else "text",
        )
        for k in keys
    ]


def limited_rows(
    c, source: Source, keys: tuple[SortKey, ...], args: PageArgs, limit: int, columns: str
) -> str:
    """The page's first `limit` rows (only `columns` of them), in scan order: a derived table."""
    scan = tuple(k.reversed() for k in keys) if args.backward else keys
    after = decode_cursor(keys, args.after) if args.after is not None else None
    before = decode_cursor(keys, args.before) if args.before is not None else None
    reversed_keys = tuple(k.reversed() for k in keys)

    def one(branch: str | None) -> str:
        t = c.alias()
        conditions = [w.format(t=t) for w in source.where]
        if branch is not None:
            conditions.append(branch.format(t=t))
        if after is not None:
            conditions.append(keyset_condition(keys, after, t, c.q))
        if before is not None:
            conditions.append(keyset_condition(reversed_keys, before, t, c.q))
        return (
            f"SELECT {columns.format(t=t)} FROM {source.table} {t} WHERE "
            f"{conjunction(conditions)} ORDER BY {order_clause(scan, t)} LIMIT {int(limit)}"
        )

    if len(source.branches) <= 1:
        return f"({one(source.branches[0] if source.branches else None)})"
    u = c.alias()
    union = " UNION ALL ".join(f"SELECT * FROM ({one(b)}) {c.alias()}" for b in source.branches)
    return f"(SELECT * FROM ({union}) {u} ORDER BY {order_clause(scan, u)} LIMIT {int(limit)})"


def columns_read(body: str, p: str, keys: tuple[SortKey, ...]) -> str:
    """The columns of the rows aliased `p` that `body` reads, plus the sort keys, as a select
    list template ({t} = alias); every column when `body` uses the row in another way."""
    names = {k.column for k in keys}
    for match in re.finditer(rf"\b{p}\b(\.(\"?)([a-z_][a-z0-9_]*)\2)?", body):
        if match.group(1) is None:
            return "{t}.*"
        names.add(match.group(3))
    names -= {"lg_rn", "lg_n"}
    return ", ".join(f'{{t}}."{name}"' for name in sorted(names))


def count_rows(c, source: Source) -> str:
    t = c.alias()
    conditions = [w.format(t=t) for w in source.where]
    if source.branches:
        conditions.append(disjunction([b.format(t=t) for b in source.branches]))
    return f"(SELECT COUNT(*) FROM {source.table} {t} WHERE {conjunction(conditions)})"


def connection(
    c,
    connection_type: str,
    node_type: str,
    field_details: list,
    source: Source,
    keys: tuple[SortKey, ...],
    args: PageArgs,
    size: int,
) -> str:
    """The JSON of a connection: edges, pageInfo and totalCount as selected.

    Edges alone read `size` rows and aggregate them as they come. `hasNextPage` (or
    `hasPreviousPage` for `last`) and the page's cursors read one row more and number the rows
    (a window over rows already in order: no sort); the extra row is filtered out of the edges.
    """
    d = c.dialect
    for cursor_text in (args.after, args.before):
        if cursor_text is not None:
            decode_cursor(keys, cursor_text)  # a bad cursor is the client's error, page or not
    p = c.alias()
    scan = tuple(k.reversed() for k in keys) if args.backward else keys
    shown = f"{p}.lg_rn <= {int(size)}"
    shown_marker = f"lg_shown_{p}"  # the edges' filter, known once the whole body is built
    cursor = d.cursor(_signature(keys), cursor_kinds(keys, p))
    last_row = d.least(f"{p}.lg_n", str(int(size)))
    first_shown, last_shown = (last_row, "1") if args.backward else ("1", last_row)
    has_more = d.boolean(f"(COUNT(*) > {int(size)})")
    uses_rows = numbers_rows = counts_rows = False

    def edge_field(name: str, group: list) -> str:
        if name == "cursor":
            return cursor
        return c.entity(node_type, group, p)  # node

    def page_info_field(name: str, group: list) -> str:
        nonlocal uses_rows, numbers_rows, counts_rows
        if name == "hasNextPage":
            if args.backward:
                return d.constant(args.before is not None)
            uses_rows = numbers_rows = True
            return has_more
        if name == "hasPreviousPage":
            if not args.backward:
                return d.constant(args.after is not None)
            uses_rows = numbers_rows = True
            return has_more
        uses_rows = numbers_rows = True
        row = first_shown if name == "startCursor" else last_shown
        counts_rows = counts_rows or row == last_row
        return d.nullable(f"MAX(CASE WHEN {p}.lg_rn = {row} AND {shown} THEN {cursor} END)")

    def connection_field(name: str, group: list) -> str:
        nonlocal uses_rows
        if name == "edges":
            uses_rows = True
            edge_type = c.field_type(connection_type, "edges")
            return d.agg(c.object(edge_type, group, edge_field), None, shown_marker)
        if name == "pageInfo":
            return c.object("PageInfo", group, page_info_field)
        return d.scalar(count_rows(c, source))  # totalCount

    body = c.object(connection_type, field_details, connection_field)
    if not uses_rows:
        return f"(SELECT {body})"
    edges_filter = f" FILTER (WHERE {shown_marker})"
    body = body.replace(edges_filter, f" FILTER (WHERE {shown})" if numbers_rows else "")
    u = c.alias()
    if numbers_rows:
        rows = limited_rows(c, source, keys, args, size + 1, columns_read(body, p, keys))
        count = ", COUNT(*) OVER () AS lg_n" if counts_rows else ""
        order = "lg_rn DESC" if args.backward else "lg_rn"
        page = (
            f"(SELECT {u}.*, ROW_NUMBER() OVER (ORDER BY {order_clause(scan, u)}) AS lg_rn{count} "
            f"FROM {rows} {u}{d.rows_in_order(order, presorted=not args.backward)})"
        )
    else:
        rows = limited_rows(c, source, keys, args, size, columns_read(body, p, keys))
        order = order_clause(keys, u)
        page = (
            f"(SELECT {u}.* FROM {rows} {u}{d.rows_in_order(order, presorted=not args.backward)})"
        )
    return f"(SELECT {body} FROM {page} {p})"
