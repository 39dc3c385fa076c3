"""leadFunnel: how leads moved through their statuses in a period, from the lead history.

A lead enters NEW when it is created and every other status through a `lead_event` row (events
without a `from_status` would be creations and are not counted twice). The whole funnel is one
statement: entries, each entry's next change (`LEAD() OVER` the lead's entries), then per status
the distinct leads, those still there, and the median of the hours to the next change (the
middle row or two of a `ROW_NUMBER()` ranking, as SQLite has no percentile function).
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


async def lead_funnel(
    info: Info,
    from_: Annotated[datetime, strawberry.argument(name="from", description="Period start.")],
    to: Annotated[datetime, strawberry.argument(description="Period end (exclusive).")],
    filter: LeadFilter | None = None,
) -> LeadFunnel:
    if to <= from_:
        raise BadUserInput("`to` must be later than `from`.")
    q = Sql(is_postgres(connection()))
    ws = q.param(info.context.workspace_id)
    leads = conjunction([f"t.workspace_id = {ws}", lead_condition(filter, "t", q)])
    new = q.typed(LeadStatus.NEW.value, "text")
    start, end = q.param(from_), q.param(to)
    sql = (
        f"WITH lg_leads AS (SELECT t.id, t.status, t.created_at FROM lead t WHERE {leads}), "
        f"lg_entries AS (SELECT l.id AS lead_id, {new} AS status, l.created_at AS at, 0 AS seq "
        "FROM lg_leads l UNION ALL SELECT e.lead_id, e.to_status, e.at, e.id FROM lead_event e "
        f"JOIN lg_leads l ON l.id = e.lead_id WHERE e.workspace_id = {ws} "
        "AND e.from_status IS NOT NULL), "
        "lg_steps AS (SELECT x.lead_id, x.status, x.at, LEAD(x.at) OVER "
        "(PARTITION BY x.lead_id ORDER BY x.at, x.seq) AS next_at FROM lg_entries x), "
        f"lg_period AS (SELECT * FROM lg_steps WHERE at >= {start} AND at < {end}), "
        f"lg_hours AS (SELECT status, {_hours(q, 'next_at', 'at')} AS h FROM lg_period "
        "WHERE next_at IS NOT NULL), "
        "lg_ranked AS (SELECT status, h, ROW_NUMBER() OVER (PARTITION BY status ORDER BY h) AS rn, "
        "COUNT(*) OVER (PARTITION BY status) AS cnt FROM lg_hours), "
        "lg_median AS (SELECT status, AVG(h) AS median FROM lg_ranked "
        "WHERE rn = (cnt + 1) / 2 OR rn = (cnt + 2) / 2 GROUP BY status) "
        "SELECT c.status, c.entered, c.still_there, m.median FROM (SELECT p.status, "
        "COUNT(DISTINCT p.lead_id) AS entered, COUNT(DISTINCT CASE WHEN l.status = p.status "
        "THEN p.lead_id END) AS still_there FROM lg_period p JOIN lg_leads l ON l.id = p.lead_id "
        "GROUP BY p.status) c LEFT JOIN lg_median m ON m.status = c.status"
    )
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
                median_hours_to_next=round(float(median), 4) if median is not None else None,
            )
        )
    entered = {s.status.value: s.entered for s in stages}
    new_count = entered[LeadStatus.NEW.value]
    rate = entered[LeadStatus.QUALIFIED.value] / new_count if new_count else 0.0
    return LeadFunnel(stages=stages, conversion_rate=rate)
