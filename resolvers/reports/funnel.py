"""leadFunnel: how leads moved through their statuses in a period, from the lead history.

A lead enters NEW when it is created and every other status through a `lead_event` row (events
without a `from_status` would be creations and are not counted twice). The whole funnel is one
statement: entries, each entry's next change (`LEAD() OVER` the lead's entries), then per status
the distinct leads, those still there, and the median of the hours to the next change (the
middle row or two of a `ROW_NUMBER()` ranking, as SQLite has no percentile function), rounded
to four decimals by the database.
"""

from datetime import datetime
from typing import Annotated

import strawberry

from api.context import Info
from api.errors import BadUserInput
from api.inputs.filters import LeadFilter, LeadStatusEnum
from api.types.reports import FunnelStage, LeadFunnel
from models import LeadStatus
from models.sql import Sql, conjunction, connection, fetch, is_postgres
from resolvers.filtering import lead_condition


def _hours(q: Sql, later: str, earlier: str) -> str:
    if q.postgres:
        return f"EXTRACT(EPOCH FROM ({later} - {earlier})) / 3600.0"
    return f"(julianday({later}) - julianday({earlier})) * 24.0"


def median_hours(q: Sql, expr: str) -> str:
    """The median rounded to four decimals by the database (both paths read the same value)."""
    return f"round(({expr})::numeric, 4)" if q.postgres else f"round({expr}, 4)"


def funnel_sql(
    q: Sql,
    workspace_id: int,
    prefix: str,
    *,
    from_: datetime,
    to: datetime,
    filter: LeadFilter | None,
) -> tuple[tuple[str, ...], str]:
    """(common table expressions, the SELECT over them): per status that had entries in the
    period, `status`, `entered`, `still_there` and `median` (hours, rounded)."""
    if to <= from_:
        raise BadUserInput("`to` must be later than `from`.")
    ws = q.param(workspace_id)
    leads = conjunction([f"t.workspace_id = {ws}", lead_condition(filter, "t", q)])
    new = q.typed(LeadStatus.NEW.value, "text")
    start, end = q.param(from_), q.param(to)
    p = prefix
    ctes = (
        f"{p}_leads AS (SELECT t.id, t.status, t.created_at FROM lead t WHERE {leads})",
        f"{p}_entries AS (SELECT l.id AS lead_id, {new} AS status, l.created_at AS at, 0 AS seq "
        f"FROM {p}_leads l UNION ALL SELECT e.lead_id, e.to_status, e.at, e.id FROM lead_event e "
        f"JOIN {p}_leads l ON l.id = e.lead_id WHERE e.workspace_id = {ws} "
        "AND e.from_status IS NOT NULL)",
        f"{p}_steps AS (SELECT x.lead_id, x.status, x.at, LEAD(x.at) OVER "
        f"(PARTITION BY x.lead_id ORDER BY x.at, x.seq) AS next_at FROM {p}_entries x)",
        f"{p}_period AS (SELECT * FROM {p}_steps WHERE at >= {start} AND at < {end})",
        f"{p}_hours AS (SELECT status, {_hours(q, 'next_at', 'at')} AS h FROM {p}_period "
        "WHERE next_at IS NOT NULL)",
        f"{p}_ranked AS (SELECT status, h, ROW_NUMBER() OVER (PARTITION BY status ORDER BY h) "
        f"AS rn, COUNT(*) OVER (PARTITION BY status) AS cnt FROM {p}_hours)",
        f"{p}_median AS (SELECT status, {median_hours(q, 'AVG(h)')} AS median FROM {p}_ranked "
        "WHERE rn = (cnt + 1) / 2 OR rn = (cnt + 2) / 2 GROUP BY status)",
    )
    select = (
        "SELECT c.status, c.entered, c.still_there, m.median FROM (SELECT p.status, "
        "COUNT(DISTINCT p.lead_id) AS entered, COUNT(DISTINCT CASE WHEN l.status = p.status "
        f"THEN p.lead_id END) AS still_there FROM {p}_period p JOIN {p}_leads l "
        f"ON l.id = p.lead_id GROUP BY p.status) c LEFT JOIN {p}_median m ON m.status = c.status"
    )
    return ctes, select


async def lead_funnel(
    info: Info,
    from_: Annotated[datetime, strawberry.argument(name="from", description="Period start.")],
    to: Annotated[datetime, strawberry.argument(description="Period end (exclusive).")],
    filter: LeadFilter | None = None,
) -> LeadFunnel:
    q = Sql(is_postgres(connection()))
    ctes, select = funnel_sql(q, info.context.workspace_id, "lg", from_=from_, to=to, filter=filter)
    sql = f"WITH {', '.join(ctes)} {select}"
    rows = {r["status"]: r for r in await fetch(sql, q)}
    stages = []
    for status in LeadStatus:
        row = rows.get(status.value)
        median = row["median"] if row else None
        stages.append(
            FunnelStage(
                status=LeadStatusEnum(status),
                entered=int(row["entered"]) if row else 0,
                still_there=int(row["still_there"]) if row else 0,
                median_hours_to_next=float(median) if median is not None else None,
            )
        )
    entered = {s.status.value: s.entered for s in stages}
    new_count = entered[LeadStatus.NEW.value]
    rate = entered[LeadStatus.QUALIFIED.value] / new_count if new_count else 0.0
    return LeadFunnel(stages=stages, conversion_rate=rate)
