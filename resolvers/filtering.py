"""Filter and search inputs -> SQL conditions.

Every relation filter becomes an `EXISTS` subquery on the related table, so filters nest and
combine freely (`and`/`or`/`not`) and run entirely in the database.
"""

import math

from strawberry import relay

from api.errors import BadUserInput
from api.inputs.filters import (
    AccountFilter,
    ContactFilter,
    DateTimeFilter,
    FloatFilter,
    IDFilter,
    InteractionFilter,
    IntFilter,
    LeadFilter,
    StringFilter,
)
from models.sql import Sql, conjunction, disjunction


def decode_id(gid: relay.GlobalID, type_name: str, field: str = "id") -> int:
    """The database id inside a global ID of the expected type."""
    if gid.type_name != type_name:
        raise BadUserInput(
            f"{field}: expected an ID of a {type_name}, got one of a {gid.type_name}"
        )
    try:
        return int(gid.node_id)
    except ValueError:
        raise BadUserInput(f"{field}: not a valid {type_name} ID") from None


def _null(expr: str, is_null: bool | None) -> str:
    if is_null is None:
        return ""
    return f"{expr} IS NULL" if is_null else f"{expr} IS NOT NULL"


def string_condition(f: StringFilter | None, expr: str, q: Sql) -> str:
    if f is None:
        return ""
    parts = [_null(expr, f.is_null)]
    if f.eq is not None:
        parts.append(f"{expr} = {q.param(f.eq)}")
    if f.neq is not None:
        parts.append(f"({expr} <> {q.param(f.neq)} OR {expr} IS NULL)")
    if f.in_ is not None:
        parts.append(q.in_list(expr, f.in_))
    if f.contains is not None:
        parts.append(q.like(expr, f.contains))
    if f.starts_with is not None:
        parts.append(q.like(expr, f.starts_with, prefix_only=True))
    return conjunction(parts)


def number_condition(f: IntFilter | FloatFilter | None, expr: str, q: Sql) -> str:
    """Comparisons on an Int or Float column; Float values must be finite, `in` is Int only."""
    if f is None:
        return ""
    check = _finite if isinstance(f, FloatFilter) else int
    parts = [_null(expr, f.is_null)]
    for op, value in (("=", f.eq), (">", f.gt), (">=", f.gte), ("<", f.lt), ("<=", f.lte)):
        if value is not None:
            parts.append(f"{expr} {op} {q.param(check(value))}")
    if f.neq is not None:
        parts.append(f"({expr} <> {q.param(check(f.neq))} OR {expr} IS NULL)")
    if getattr(f, "in_", None) is not None:
        parts.append(q.in_list(expr, f.in_))
    return conjunction(parts)


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise BadUserInput("A number filter needs a finite number (not NaN or Infinity).")
    return float(value)


def datetime_condition(f: DateTimeFilter | None, expr: str, q: Sql) -> str:
    if f is None:
        return ""
    parts = [_null(expr, f.is_null)]
    for op, value in (("=", f.eq), (">", f.gt), (">=", f.gte), ("<", f.lt), ("<=", f.lte)):
        if value is not None:
            parts.append(f"{expr} {op} {q.param(value)}")
    return conjunction(parts)


def id_condition(f: IDFilter | None, expr: str, type_name: str, q: Sql) -> str:
    if f is None:
        return ""
    parts = [_null(expr, f.is_null)]
    if f.eq is not None:
        parts.append(f"{expr} = {q.param(decode_id(f.eq, type_name))}")
    if f.in_ is not None:
        parts.append(q.in_list(expr, [decode_id(g, type_name) for g in f.in_]))
    return conjunction(parts)


def enum_condition(f, expr: str, q: Sql) -> str:
    if f is None:
        return ""
    parts = []
    if f.eq is not None:
        parts.append(f"{expr} = {q.param(f.eq.value)}")
    if f.in_ is not None:
        parts.append(q.in_list(expr, [v.value for v in f.in_]))
    return conjunction(parts)


def _combine(f, alias: str, q: Sql, compile_one) -> list[str]:
    parts = []
    if f.and_:
        parts.append(conjunction([compile_one(sub, alias, q) for sub in f.and_]))
    if f.or_ is not None:
        parts.append(disjunction([compile_one(sub, alias, q) for sub in f.or_]))
    if f.not_ is not None:
        # COALESCE keeps NOT from dropping rows where the inner condition is unknown (NULL).
        parts.append(f"NOT COALESCE({compile_one(f.not_, alias, q)}, FALSE)")
    return parts


def _exists(table: str, link: str, inner, q: Sql, prefix: str) -> str:
    """`EXISTS (SELECT 1 FROM table WHERE link AND inner)`; `link` and `inner` get the alias."""
    a = q.alias(prefix)
    return f"EXISTS (SELECT 1 FROM {table} {a} WHERE {link.format(a=a)} AND {inner(a)})"


def _to_one(table: str, key: str, inner, q: Sql, prefix: str) -> str:
    """The row that `key` points to matches `inner`.

    Where the statement is scoped to one workspace (`q.workspace`), this is
    `(key IN (SELECT id FROM table WHERE workspace AND inner)) IS TRUE`: PostgreSQL may then build
    one hashed set of the workspace's matching rows instead of one index lookup per candidate
    row (2.5x fewer buffers on the bench's filtered list). `IS TRUE` keeps it two-valued like
    EXISTS (a NULL key matches nothing, also under NOT)."""
    if q.workspace is None:
        return _exists(table, "{a}.id = " + key, inner, q, prefix)
    a = q.alias(prefix)
    return (
        f"({key} IN (SELECT {a}.id FROM {table} {a} "
        f"WHERE {a}.workspace_id = {q.workspace} AND {inner(a)})) IS TRUE"
    )


def _list_condition(list_filter, table: str, link: str, compile_one, q: Sql, prefix: str) -> list:
    if list_filter is None:
        return []
    parts = []
    if list_filter.some is not None:
        parts.append(_exists(table, link, lambda a: compile_one(list_filter.some, a, q), q, prefix))
    if list_filter.none is not None:
        found = _exists(table, link, lambda a: compile_one(list_filter.none, a, q), q, prefix)
        parts.append(f"NOT {found}")
    return parts


def account_condition(f: AccountFilter | None, t: str, q: Sql) -> str:
    if f is None:
        return ""
    parts = [
        id_condition(f.id, f"{t}.id", "Account", q),
        string_condition(f.name, f"{t}.name", q),
        string_condition(f.industry, f"{t}.industry", q),
        string_condition(f.city, f"{t}.city", q),
        string_condition(f.country, f"{t}.country", q),
        number_condition(f.number_of_employees, f"{t}.number_of_employees", q),
        number_condition(f.annual_revenue, f"{t}.annual_revenue", q),
        datetime_condition(f.created_at, f"{t}.created_at", q),
    ]
    if f.parent_account is not None:
        parts.append(
            _to_one(
                "account",
                f"{t}.parent_account_id",
                lambda a: account_condition(f.parent_account, a, q),
                q,
                "pa",
            )
        )
    parts += _list_condition(
        f.contacts, "contact", "{a}.account_id = " + f"{t}.id", contact_condition, q, "c"
    )
    parts += _list_condition(
        f.leads, "lead", "{a}.account_id = " + f"{t}.id", lead_condition, q, "l"
    )
    parts += _combine(f, t, q, account_condition)
    return conjunction(parts)


def contact_condition(f: ContactFilter | None, t: str, q: Sql) -> str:
    if f is None:
        return ""
    parts = [
        id_condition(f.id, f"{t}.id", "Contact", q),
        string_condition(f.first_name, f"{t}.first_name", q),
        string_condition(f.last_name, f"{t}.last_name", q),
        string_condition(f.email, f"{t}.email", q),
        string_condition(f.job_title, f"{t}.job_title", q),
        datetime_condition(f.created_at, f"{t}.created_at", q),
    ]
    if f.account is not None:
        parts.append(
            _to_one(
                "account",
                f"{t}.account_id",
                lambda a: account_condition(f.account, a, q),
                q,
                "a",
            )
        )
    parts += _list_condition(
        f.leads, "lead", "{a}.contact_id = " + f"{t}.id", lead_condition, q, "l"
    )
    parts += _combine(f, t, q, contact_condition)
    return conjunction(parts)


def lead_condition(f: LeadFilter | None, t: str, q: Sql) -> str:
    if f is None:
        return ""
    parts = [
        id_condition(f.id, f"{t}.id", "Lead", q),
        string_condition(f.topic, f"{t}.topic", q),
        string_condition(f.source, f"{t}.source", q),
        enum_condition(f.status, f"{t}.status", q),
        number_condition(f.score, f"{t}.score", q),
        datetime_condition(f.created_at, f"{t}.created_at", q),
    ]
    if f.sales_ready is not None:
        parts.append(f"{t}.sales_ready = {q.param(f.sales_ready)}")
    if f.contact is not None:
        parts.append(
            _to_one(
                "contact",
                f"{t}.contact_id",
                lambda a: contact_condition(f.contact, a, q),
                q,
                "c",
            )
        )
    if f.account is not None:
        parts.append(
            _to_one(
                "account",
                f"{t}.account_id",
                lambda a: account_condition(f.account, a, q),
                q,
                "a",
            )
        )
    parts += _combine(f, t, q, lead_condition)
    return conjunction(parts)


def interaction_condition(f: InteractionFilter | None, t: str, q: Sql) -> str:
    if f is None:
        return ""
    parts = [
        enum_condition(f.type, f"{t}.type", q),
        datetime_condition(f.occurred_at, f"{t}.occurred_at", q),
    ]
    if f.contact is not None:
        parts.append(
            _to_one(
                "contact",
                f"{t}.contact_id",
                lambda a: contact_condition(f.contact, a, q),
                q,
                "c",
            )
        )
    if f.lead is not None:
        parts.append(
            _to_one(
                "lead",
                f"{t}.lead_id",
                lambda a: lead_condition(f.lead, a, q),
                q,
                "l",
            )
        )
    return conjunction(parts)


def _search(terms: str | None, exprs: list[str], q: Sql) -> str:
    """Every whitespace-separated term must appear (ignoring case) in one of `exprs`."""
    if not terms or not terms.strip():
        return ""
    return conjunction(
        disjunction(q.like(expr, term) for expr in exprs) for term in terms.split()[:10]
    )


def account_search(terms: str | None, t: str, q: Sql) -> str:
    return _search(terms, [f"{t}.name", f"{t}.website", f"{t}.city"], q)


def contact_search(terms: str | None, t: str, q: Sql) -> str:
    company = f"(SELECT sa.name FROM account sa WHERE sa.id = {t}.account_id)"
    return _search(terms, [f"{t}.first_name", f"{t}.last_name", f"{t}.email", company], q)


def lead_search(terms: str | None, t: str, q: Sql) -> str:
    company = f"COALESCE((SELECT sa.name FROM account sa WHERE sa.id = {t}.account_id), '')"
    person = f"(SELECT COALESCE(sc.first_name, '') || ' ' || sc.last_name || ' ' || COALESCE(sc.email, '') FROM contact sc WHERE sc.id = {t}.contact_id)"  # noqa: E501
    exprs = [f"{t}.topic", f"{t}.first_name", f"{t}.last_name", f"{t}.email", f"{t}.company_name"]
    return _search(terms, [*exprs, company, person], q)
