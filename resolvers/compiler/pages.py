"""Connections compiled to SQL: one keyset page per parent, walked with `LIMIT` per parent.

A page is `ORDER BY <keys> LIMIT size + 1` over the rows of one parent (a correlated subquery,
which PostgreSQL runs as an index walk per parent like a LATERAL join); the extra row answers
`hasNextPage` (or `hasPreviousPage` for `last`). The lead's interactions are two such walks
(its own, its contact's contact-level ones) merged and limited again.
"""

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


def limited_rows(c, source: Source, keys: tuple[SortKey, ...], args: PageArgs, size: int) -> str:
    """The page's rows plus one (a derived table), in scan order."""
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
            f"SELECT {t}.* FROM {source.table} {t} WHERE {conjunction(conditions)} "
            f"ORDER BY {order_clause(scan, t)} LIMIT {int(size) + 1}"
        )

    if len(source.branches) <= 1:
        return f"({one(source.branches[0] if source.branches else None)})"
    u = c.alias()
    union = " UNION ALL ".join(f"SELECT * FROM ({one(b)}) {c.alias()}" for b in source.branches)
    return f"(SELECT * FROM ({union}) {u} ORDER BY {order_clause(scan, u)} LIMIT {int(size) + 1})"


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
    """The JSON of a connection: edges, pageInfo and totalCount as selected."""
    d = c.dialect
    for cursor_text in (args.after, args.before):
        if cursor_text is not None:
            decode_cursor(keys, cursor_text)  # a bad cursor is the client's error, page or not
    p = c.alias()
    scan = tuple(k.reversed() for k in keys) if args.backward else keys
    shown = f"{p}.lg_rn <= {int(size)}"
    display = "lg_rn DESC" if args.backward else "lg_rn"
    cursor = d.cursor(_signature(keys), cursor_kinds(keys, p))
    last_row = d.least(f"{p}.lg_n", str(int(size)))
    first_shown, last_shown = (last_row, "1") if args.backward else ("1", last_row)
    has_more = d.boolean(f"(COUNT(*) > {int(size)})")
    uses_page = False

    def edge_field(name: str, group: list) -> str:
        if name == "cursor":
            return cursor
        return c.entity(node_type, group, p)  # node

    def page_info_field(name: str, group: list) -> str:
        nonlocal uses_page
        if name == "hasNextPage":
            if args.backward:
                return d.constant(args.before is not None)
            uses_page = True
            return has_more
        if name == "hasPreviousPage":
            if not args.backward:
                return d.constant(args.after is not None)
            uses_page = True
            return has_more
        uses_page = True
        row = first_shown if name == "startCursor" else last_shown
        return d.nullable(f"MAX(CASE WHEN {p}.lg_rn = {row} AND {shown} THEN {cursor} END)")

    def connection_field(name: str, group: list) -> str:
        nonlocal uses_page
        if name == "edges":
            uses_page = True
            edge_type = c.field_type(connection_type, "edges")
            return d.agg(c.object(edge_type, group, edge_field), display, shown)
        if name == "pageInfo":
            return c.object("PageInfo", group, page_info_field)
        return d.scalar(count_rows(c, source))  # totalCount

    body = c.object(connection_type, field_details, connection_field)
    if not uses_page:
        return f"(SELECT {body})"
    rows = limited_rows(c, source, keys, args, size)
    page = (
        f"(SELECT {p}.*, ROW_NUMBER() OVER (ORDER BY {order_clause(scan, p)}) AS lg_rn, "
        f"COUNT(*) OVER () AS lg_n FROM {rows} {p}{d.rows_in_order(display)})"
    )
    return f"(SELECT {body} FROM {page} {p})"
