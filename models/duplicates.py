"""Likely duplicates, found in SQL: contacts with the same email (ignoring case), the same
phone digits or the same normalised name at the same account; accounts with the same website
domain or the same normalised name. One statement per record type, grouped in the database."""

from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient

from models.sql import Sql, is_postgres, parse_json

MAX_RECORDS_PER_GROUP = 50
PHONE_NOISE = " -().+/"  # stripped from phone numbers; what is left are (mostly) digits
MIN_PHONE_DIGITS = 7


@dataclass(frozen=True)
class Group:
    reason: str
    ids: list[int]


def _trimmed(expr: str) -> str:
    return f"LOWER(TRIM({expr}))"


def _phone_digits(expr: str) -> str:
    for char in PHONE_NOISE:
        expr = f"REPLACE({expr}, '{char}', '')"
    return expr


def _domain(expr: str, q: Sql) -> str:
    """`https://www.Example.com/about` -> `example.com` (same text on both databases)."""
    position = "STRPOS" if q.postgres else "INSTR"
    w = _trimmed(expr)
    no_scheme = (
        f"(CASE WHEN {position}({w}, '://') > 0 "
        f"THEN SUBSTR({w}, {position}({w}, '://') + 3) ELSE {w} END)"
    )
    host = (
        f"(CASE WHEN {position}({no_scheme}, '/') > 0 "
        f"THEN SUBSTR({no_scheme}, 1, {position}({no_scheme}, '/') - 1) ELSE {no_scheme} END)"
    )
    return f"(CASE WHEN {host} LIKE 'www.%' THEN SUBSTR({host}, 5) ELSE {host} END)"


def _company_name(expr: str) -> str:
    return _trimmed(f"REPLACE(REPLACE({expr}, '.', ''), ',', '')")


def _keys(table: str, q: Sql) -> list[tuple[str, str, str]]:
    """(reason, key expression over `t`, extra condition) per duplicate rule."""
    if table == "contact":
        name = f"{_trimmed('t.first_name')} || ' ' || {_trimmed('t.last_name')}"
        return [
            ("same email", _trimmed("t.email"), "t.email IS NOT NULL"),
            (
                "same phone",
                _phone_digits("t.phone"),
                f"LENGTH({_phone_digits('t.phone')}) >= {MIN_PHONE_DIGITS}",
            ),
            (
                "similar name at same account",
                f"CAST(t.account_id AS TEXT) || ':' || {name}",
                "t.account_id IS NOT NULL AND t.first_name IS NOT NULL",
            ),
        ]
    return [
        ("same website domain", _domain("t.website", q), "t.website IS NOT NULL"),
        ("same name", _company_name("t.name"), "1 = 1"),
    ]


def duplicate_groups_sql(q: Sql, workspace_id: int, table: str, first: int) -> str:
    """SELECT of up to `first` groups (`reason`, `lowest` id, `ids` as a JSON array), in order
    of their lowest id then reason; `ids` is in id order on PostgreSQL, in no order on SQLite."""
    ids = "json_agg(t.id ORDER BY t.id)" if q.postgres else "json_group_array(t.id)"
    ws = q.param(workspace_id)
    selects = [
        f"SELECT {q.typed(reason, 'text')} AS reason, MIN(t.id) AS lowest, {ids} AS ids "
        f"FROM {table} t WHERE t.workspace_id = {ws} AND {condition} "
        f"GROUP BY {key} HAVING COUNT(*) > 1"
        for reason, key, condition in _keys(table, q)
    ]
    return (
        f"SELECT g.reason, g.lowest, g.ids FROM ({' UNION ALL '.join(selects)}) g "
        f"ORDER BY g.lowest, g.reason LIMIT {int(first)}"
    )


async def duplicate_groups(
    conn: BaseDBAsyncClient, workspace_id: int, table: str, first: int
) -> list[Group]:
    """Up to `first` groups of at least two records, in order of their lowest id."""
    q = Sql(is_postgres(conn))
    rows = await conn.execute_query_dict(
        duplicate_groups_sql(q, workspace_id, table, first), q.params
    )
    return [
        Group(reason=row["reason"], ids=sorted(parse_json(row["ids"]))[:MAX_RECORDS_PER_GROUP])
        for row in rows
    ]
