"""Attribution: the first and last page visit behind a lead or a contact, in one statement per
level (a window over the PAGE_VISITED interactions that carry a URL)."""

from api.types.capture import Touch
from models import InteractionType
from models.sql import Sql, connection, fetch, is_postgres


def _has_url(q: Sql) -> str:
    if q.postgres:
        return "i.metadata->>'url' IS NOT NULL"
    return "json_extract(i.metadata, '$.url') IS NOT NULL"


def _visits(q: Sql, owner: str, join: str, where: str) -> str:
    return (
        f"SELECT {owner} AS owner, i.id, i.occurred_at, i.metadata FROM {join} "
        f"WHERE {where} AND i.type = {q.param(InteractionType.PAGE_VISITED.value)} "
        f"AND {_has_url(q)}"
    )


def _ranked(q: Sql, visits: str) -> str:
    return (
        "SELECT v.*, ROW_NUMBER() OVER (PARTITION BY v.owner ORDER BY v.occurred_at, v.id) AS "
        "first_n, ROW_NUMBER() OVER (PARTITION BY v.owner ORDER BY v.occurred_at DESC, v.id "
        f"DESC) AS last_n FROM ({visits}) v"
    )


async def lead_touches(workspace_id: int, lead_ids: list[int]) -> list[tuple[Touch, Touch] | None]:
    """(first, last) visit per lead among the interactions that count for it: its own, and its
    contact's that name no lead."""
    q = Sql(is_postgres(connection()))
    ws = q.param(workspace_id)
    ids = q.in_list("l.id", lead_ids)
    own = _visits(
        q,
        "l.id",
        "lead l JOIN interaction i ON i.lead_id = l.id",
        f"l.workspace_id = {ws} AND {ids}",
    )
    shared = _visits(
        q,
        "l.id",
        "lead l JOIN interaction i ON i.contact_id = l.contact_id AND i.lead_id IS NULL",
        f"l.workspace_id = {ws} AND {ids}",
    )
    ranked = _ranked(q, f"{own} UNION ALL {shared}")
    sql = f"SELECT * FROM ({ranked}) r WHERE r.first_n = 1 OR r.last_n = 1"
    found: dict[int, dict[str, Touch]] = {}
    for row in await fetch(sql, q):
        touch = Touch.from_row(row)
        if row["first_n"] == 1:
            found.setdefault(row["owner"], {})["first"] = touch
        if row["last_n"] == 1:
            found.setdefault(row["owner"], {})["last"] = touch
    return [(found[i]["first"], found[i]["last"]) if i in found else None for i in lead_ids]


async def contact_first_touches(workspace_id: int, contact_ids: list[int]) -> list[Touch | None]:
    """The first visit of each contact (any of its PAGE_VISITED interactions)."""
    q = Sql(is_postgres(connection()))
    where = f"i.workspace_id = {q.param(workspace_id)} AND {q.in_list('i.contact_id', contact_ids)}"
    visits = _visits(q, "i.contact_id", "interaction i", where)
    sql = f"SELECT * FROM ({_ranked(q, visits)}) r WHERE r.first_n = 1"
    found = {row["owner"]: Touch.from_row(row) for row in await fetch(sql, q)}
    return [found.get(i) for i in contact_ids]
