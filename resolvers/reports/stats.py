"""leadStats, contactStats, interactionStats: one grouped SQL statement each.

The database groups and aggregates every matching row (no cap on rows scanned); the answer
holds at most `LEADGRAPH_MAX_REPORT_GROUPS` groups, and a query with more is refused with
BAD_USER_INPUT rather than truncated. The total is summed from the groups' partial aggregates
(counts and sums add up, minimum of minimums, maximum of maximums), so it is exact too.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from strawberry import relay

from api.context import Info
from api.errors import BadUserInput
from api.inputs.filters import (
    ContactFilter,
    InteractionFilter,
    InteractionTypeEnum,
    LeadFilter,
    LeadStatusEnum,
)
from api.types.reports import (
    ContactDimension,
    ContactGroup,
    ContactGroupKey,
    ContactStats,
    InteractionDimension,
    InteractionGroup,
    InteractionGroupKey,
    InteractionStats,
    IntStats,
    LeadAggregate,
    LeadDimension,
    LeadGroup,
    LeadGroupKey,
    LeadStats,
    TimeInterval,
)
from models import LeadStatus
from models.sql import Sql, conjunction, connection, fetch, is_postgres
from resolvers.filtering import (
    contact_condition,
    contact_search,
    decode_id,
    interaction_condition,
    lead_condition,
    lead_search,
)
from resolvers.reports.buckets import bucket_expr, bucket_start, prepare, time_zone

TIME_DIMENSIONS = {"created_at", "occurred_at"}
STATUS_ORDER = {status.value: i for i, status in enumerate(LeadStatus)}


@dataclass(frozen=True)
class Grouping:
    """The dimensions asked for, as SQL expressions (`k0`, `k1`, ... in the result rows)."""

    dimensions: tuple[Enum, ...]
    exprs: tuple[str, ...]
    zone: ZoneInfo

    def select(self) -> str:
        return "".join(f"{expr} AS k{i}, " for i, expr in enumerate(self.exprs))

    def group_by(self) -> str:
        positions = ", ".join(str(i + 1) for i in range(len(self.exprs)))
        return f" GROUP BY {positions}" if positions else ""

    def keys(self, row: dict) -> dict[str, Any]:
        """Python values of a row's keys by dimension value (time buckets become aware times)."""
        values = {}
        for i, dim in enumerate(self.dimensions):
            value = row[f"k{i}"]
            if dim.value in TIME_DIMENSIONS:
                value = bucket_start(value, self.zone)
            elif dim.value == "sales_ready" and value is not None:
                value = bool(value)
            values[dim.value] = value
        return values


def grouping(
    dimensions: Sequence[Enum] | None,
    columns: Callable[[Enum], str],
    interval: TimeInterval | None,
    time_zone_name: str | None,
    q: Sql,
) -> Grouping:
    zone = time_zone(time_zone_name)
    unique = tuple(dict.fromkeys(dimensions or ()))
    exprs = tuple(
        bucket_expr(columns(d), interval or TimeInterval.MONTH, zone, q)
        if d.value in TIME_DIMENSIONS
        else columns(d)
        for d in unique
    )
    return Grouping(unique, exprs, zone)


def _sort_key(keys: dict[str, Any]) -> tuple:
    """Groups ordered by key: statuses in lifecycle order, empty values last."""
    out: list[Any] = []
    for name, value in keys.items():
        if name == "status" and value is not None:
            value = STATUS_ORDER[value]
        out.append((value is None, value if value is not None else 0))
    return tuple(out)


async def _grouped_rows(sql: str, q: Sql) -> list[dict]:
    conn = connection()
    await prepare(conn)
    return await fetch(sql, q, conn)


def _check_cap(groups: int, cap: int) -> None:
    if groups > cap:
        raise BadUserInput(
            f"More than {cap} groups: group by fewer dimensions, a coarser interval or a "
            "narrower filter (LEADGRAPH_MAX_REPORT_GROUPS)."
        )


def _score_stats(scored: int, total: int | None, low: int | None, high: int | None) -> IntStats:
    if not scored:
        return IntStats(sum=None, avg=None, min=None, max=None)
    return IntStats(sum=int(total or 0), avg=int(total or 0) / scored, min=low, max=high)


def model_subquery(model_id: relay.GlobalID | None, workspace_id: int, q: Sql) -> str:
    """SELECT of the chosen scoring model's id (`modelId`, else the primary model)."""
    chosen = (
        f'm."primary" = {q.param(True)}'
        if model_id is None
        else f"m.id = {q.param(decode_id(model_id, 'ScoringModel', 'modelId'))}"
    )
    return (
        f"SELECT m.id FROM scoring_model m WHERE m.workspace_id = {q.param(workspace_id)} "
        f"AND {chosen}"
    )


def lead_column(dim: Enum) -> str:
    if dim is LeadDimension.GRADE:
        return "s.grade"  # under the chosen scoring model
    if dim is LeadDimension.ACCOUNT:
        return "t.account_id"
    return f"t.{dim.value}"


@dataclass(frozen=True)
class StatsSql:
    """A stats report as common table expressions: `groups` has the columns k0, k1, ... (the
    grouping's keys), n and, for leads, scored, total, low, high; `model` (leads only) holds the
    chosen scoring model's id. The resolver and the read compiler both build on it."""

    grouping: Grouping
    ctes: tuple[str, ...]
    groups: str
    model: str | None = None


def lead_stats_sql(
    q: Sql,
    workspace_id: int,
    cap: int,
    prefix: str,
    *,
    filter: LeadFilter | None,
    search: str | None,
    group_by: list[LeadDimension] | None,
    interval: TimeInterval | None,
    time_zone: str | None,
    model_id: relay.GlobalID | None,
) -> StatsSql:
    """At most cap + 1 groups of leads with their counts and score aggregates."""
    g = grouping(group_by, lead_column, interval, time_zone, q)
    model = model_subquery(model_id, workspace_id, q)
    where = conjunction(
        [
            f"t.workspace_id = {q.param(workspace_id)}",
            lead_condition(filter, "t", q),
            lead_search(search, "t", q),
        ]
    )
    m, groups = f"{prefix}_model", f"{prefix}_groups"
    return StatsSql(
        g,
        (
            f"{m} AS ({model} LIMIT 1)",
            f"{groups} AS (SELECT {g.select()}"
            "COUNT(*) AS n, COUNT(s.score) AS scored, SUM(s.score) AS total, MIN(s.score) AS low, "
            "MAX(s.score) AS high FROM lead t LEFT JOIN lead_score s ON s.lead_id = t.id "
            f"AND s.model_id = (SELECT id FROM {m}) WHERE {where}{g.group_by()} "
            f"LIMIT {int(cap) + 1})",
        ),
        groups,
        m,
    )


async def lead_stats(
    info: Info,
    filter: LeadFilter | None = None,
    search: str | None = None,
    group_by: list[LeadDimension] | None = None,
    interval: TimeInterval | None = None,
    time_zone: str | None = None,
    model_id: relay.GlobalID | None = None,
) -> LeadStats:
    cap = info.context.settings.max_report_groups
    q = Sql(is_postgres(connection()))
    stats = lead_stats_sql(
        q,
        info.context.workspace_id,
        cap,
        "lg",
        filter=filter,
        search=search,
        group_by=group_by,
        interval=interval,
        time_zone=time_zone,
        model_id=model_id,
    )
    g = stats.grouping
    nulls = "".join(f"NULL AS k{i}, " for i in range(len(g.exprs)))
    sql = (
        f"WITH {', '.join(stats.ctes)} "
        f"SELECT g.*, 0 AS lg_model_row FROM {stats.groups} g UNION ALL "
        f"SELECT {nulls}0, 0, NULL, NULL, NULL, 1 FROM {stats.model}"
    )
    rows = await _grouped_rows(sql, q)
    if model_id is not None and not any(r["lg_model_row"] for r in rows):
        raise BadUserInput("modelId: no scoring model with this ID in your workspace.")
    rows = [r for r in rows if not r["lg_model_row"]]
    _check_cap(len(rows), cap)
    groups = []
    for r in rows:
        keys = g.keys(r)
        aggregate = LeadAggregate(
            count=int(r["n"]), score=_score_stats(r["scored"], r["total"], r["low"], r["high"])
        )
        groups.append((keys, aggregate))
    groups.sort(key=lambda item: _sort_key(item[0]))
    scored = sum(int(r["scored"]) for r in rows)
    total = LeadAggregate(
        count=sum(int(r["n"]) for r in rows),
        score=_score_stats(
            scored,
            sum(int(r["total"]) for r in rows if r["total"] is not None),
            min((r["low"] for r in rows if r["low"] is not None), default=None),
            max((r["high"] for r in rows if r["high"] is not None), default=None),
        ),
    )
    return LeadStats(
        total=total,
        groups=[
            LeadGroup(
                key=LeadGroupKey(
                    status=LeadStatusEnum(k["status"]) if k.get("status") else None,
                    source=k.get("source"),
                    topic=k.get("topic"),
                    grade=k.get("grade"),
                    sales_ready=k.get("sales_ready"),
                    created_at=k.get("created_at"),
                    account_id=k.get("account"),
                ),
                aggregate=aggregate,
            )
            for k, aggregate in groups
        ]
        if group_by
        else [],
    )


def _counted_sql(q: Sql, table: str, g: Grouping, where: str, cap: int, prefix: str) -> StatsSql:
    """At most cap + 1 groups of a plain count grouped by `g`."""
    groups = f"{prefix}_groups"
    return StatsSql(
        g,
        (
            f"{groups} AS (SELECT {g.select()}COUNT(*) AS n FROM {table} t WHERE {where}"
            f"{g.group_by()} LIMIT {int(cap) + 1})",
        ),
        groups,
    )


async def _counted_groups(
    info: Info, stats: StatsSql, q: Sql
) -> tuple[int, list[tuple[dict, int]]]:
    """(total, [(keys, count)]) of a plain count grouped by `g`, ordered by key."""
    g = stats.grouping
    rows = await _grouped_rows(f"WITH {stats.ctes[0]} SELECT * FROM {stats.groups}", q)
    _check_cap(len(rows), info.context.settings.max_report_groups)
    groups = sorted(((g.keys(r), int(r["n"])) for r in rows), key=lambda item: _sort_key(item[0]))
    return sum(n for _, n in groups), groups if g.dimensions else []


def contact_column(dim: Enum) -> str:
    return "t.account_id" if dim is ContactDimension.ACCOUNT else f"t.{dim.value}"


def contact_stats_sql(
    q: Sql,
    workspace_id: int,
    cap: int,
    prefix: str,
    *,
    filter: ContactFilter | None,
    search: str | None,
    group_by: list[ContactDimension] | None,
    interval: TimeInterval | None,
    time_zone: str | None,
) -> StatsSql:
    g = grouping(group_by, contact_column, interval, time_zone, q)
    where = conjunction(
        [
            f"t.workspace_id = {q.param(workspace_id)}",
            contact_condition(filter, "t", q),
            contact_search(search, "t", q),
        ]
    )
    return _counted_sql(q, "contact", g, where, cap, prefix)


async def contact_stats(
    info: Info,
    filter: ContactFilter | None = None,
    search: str | None = None,
    group_by: list[ContactDimension] | None = None,
    interval: TimeInterval | None = None,
    time_zone: str | None = None,
) -> ContactStats:
    q = Sql(is_postgres(connection()))
    stats = contact_stats_sql(
        q,
        info.context.workspace_id,
        info.context.settings.max_report_groups,
        "lg",
        filter=filter,
        search=search,
        group_by=group_by,
        interval=interval,
        time_zone=time_zone,
    )
    total, groups = await _counted_groups(info, stats, q)
    return ContactStats(
        count=total,
        groups=[
            ContactGroup(
                key=ContactGroupKey(
                    job_title=k.get("job_title"),
                    created_at=k.get("created_at"),
                    account_id=k.get("account"),
                ),
                count=n,
            )
            for k, n in groups
        ],
    )


def interaction_column(dim: Enum) -> str:
    if dim in (InteractionDimension.CONTACT, InteractionDimension.LEAD):
        return f"t.{dim.value}_id"
    return f"t.{dim.value}"


def interaction_stats_sql(
    q: Sql,
    workspace_id: int,
    cap: int,
    prefix: str,
    *,
    filter: InteractionFilter | None,
    group_by: list[InteractionDimension] | None,
    interval: TimeInterval | None,
    time_zone: str | None,
) -> StatsSql:
    g = grouping(group_by, interaction_column, interval, time_zone, q)
    where = conjunction(
        [f"t.workspace_id = {q.param(workspace_id)}", interaction_condition(filter, "t", q)]
    )
    return _counted_sql(q, "interaction", g, where, cap, prefix)


async def interaction_stats(
    info: Info,
    filter: InteractionFilter | None = None,
    group_by: list[InteractionDimension] | None = None,
    interval: TimeInterval | None = None,
    time_zone: str | None = None,
) -> InteractionStats:
    q = Sql(is_postgres(connection()))
    stats = interaction_stats_sql(
        q,
        info.context.workspace_id,
        info.context.settings.max_report_groups,
        "lg",
        filter=filter,
        group_by=group_by,
        interval=interval,
        time_zone=time_zone,
    )
    total, groups = await _counted_groups(info, stats, q)
    return InteractionStats(
        count=total,
        groups=[
            InteractionGroup(
                key=InteractionGroupKey(
                    type=InteractionTypeEnum(k["type"]) if k.get("type") else None,
                    occurred_at=k.get("occurred_at"),
                    contact_id=k.get("contact"),
                    lead_id=k.get("lead"),
                ),
                count=n,
            )
            for k, n in groups
        ],
    )
