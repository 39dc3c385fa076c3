"""The reports compiled into the read statement: leadFunnel and scoreHistogram here, the
grouped stats in `stats.py`, duplicates and changes in `feeds.py`; `ROOTS` names them all.

Each report's SQL comes from the resolver's own builder (`resolvers/reports/`), placed among
the statement's common table expressions under a name of its own; the JSON of the fields asked
for is built over them. What the resolvers do in Python after their query (ordering groups,
totals summed from groups, time-bucket keys as aware times, empty stages and buckets) is done
here in SQL, and the differential tests hold both to the same bytes.

Client errors that only the data reveals (more groups or buckets than
LEADGRAPH_MAX_REPORT_GROUPS, a `modelId` that is not the workspace's) are checked in the same
statement (`Compiler.fallbacks`): when one holds, the statement's answer is dropped and strawberry
runs the query and reports the error exactly as it always did. Errors visible in the arguments
(an unknown time zone, a bad bucket size or period) raise in the builders while compiling, and
strawberry reports them too (outcomes.USER_ERROR).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from models import LeadStatus
from resolvers.compiler import stats
from resolvers.compiler.stats import real
from resolvers.reports.buckets import bucket_start
from resolvers.reports.funnel import funnel_sql
from resolvers.reports.histogram import histogram_sql


def lead_funnel(c, group: list) -> str:
    """Every status in lifecycle order (zeros where none entered), as resolvers.reports.funnel."""
    kwargs = c.arguments("Query", group[0])
    p = c.alias()
    ctes, select = funnel_sql(
        c.q,
        c.workspace_id,
        p,
        from_=kwargs["from_"],
        to=kwargs["to"],
        filter=kwargs.get("filter"),
    )
    c.ctes.extend([*ctes, f"{p}_rows AS ({select})"])
    d = c.dialect
    statuses = " UNION ALL ".join(
        f"SELECT '{s.value}' AS status, {n} AS pos" for n, s in enumerate(LeadStatus)
    )
    rows = (
        "SELECT st.status, st.pos, COALESCE(r.entered, 0) AS entered, "
        "COALESCE(r.still_there, 0) AS still_there, r.median "
        f"FROM ({statuses}) st LEFT JOIN {p}_rows r ON r.status = st.status"
    )
    u = c.alias()

    def stage_field(name: str, sub: list) -> str:
        if name == "medianHoursToNext":
            return real(c, f"{u}.median")
        column = {"status": "status", "entered": "entered", "stillThere": "still_there"}[name]
        return d.scalar(f"{u}.{column}")

    def entered(status: LeadStatus) -> str:
        return f"COALESCE(SUM(CASE WHEN status = '{status.value}' THEN entered END), 0)"

    def field(name: str, sub: list) -> str:
        if name == "stages":
            return c.array(c.object("FunnelStage", sub, stage_field), rows, u, "pos")
        new, qualified = entered(LeadStatus.NEW), entered(LeadStatus.QUALIFIED)
        rate = (
            f"(SELECT CASE WHEN {new} = 0 THEN 0.0 ELSE CAST({qualified} AS DOUBLE PRECISION) "
            f"/ CAST({new} AS DOUBLE PRECISION) END FROM {p}_rows)"
        )
        return real(c, rate)

    return c.object("LeadFunnel", group, field)


def score_histogram(c, group: list) -> str:
    """Buckets from the lowest to the highest non-empty one, empty ones included: a recursive
    series, stopped one past the bucket limit (the statement then falls back to strawberry's
    BAD_USER_INPUT)."""
    kwargs = c.arguments("Query", group[0])
    cap = int(c.settings.max_report_groups)
    p = c.alias()
    ctes, size, buckets = histogram_sql(
        c.q,
        c.workspace_id,
        p,
        model_id=kwargs.get("model_id"),
        bucket_size=kwargs.get("bucket_size"),
        filter=kwargs.get("filter"),
    )
    series = f"{p}_series"
    c.ctes.extend(
        [
            *ctes,
            f"{series}(start, i) AS (SELECT MIN(low), 1 FROM {buckets} HAVING COUNT(*) > 0 "
            f"UNION ALL SELECT start + {size}, i + 1 FROM {series} "
            f"WHERE start + {size} <= (SELECT MAX(low) FROM {buckets}) AND i <= {cap})",
        ]
    )
    c.fallbacks.append(f"(SELECT (MAX(low) - MIN(low)) / {size} + 1 FROM {buckets}) > {cap}")
    if kwargs.get("model_id") is not None:
        c.fallbacks.append(f"NOT EXISTS (SELECT 1 FROM {p}_model)")
    u = c.alias()
    rows = (
        f"SELECT s.start, s.start + {size} AS stop, COALESCE(b.n, 0) AS n FROM {series} s "
        f"LEFT JOIN {buckets} b ON b.low = s.start"
    )
    columns = {"from": "start", "to": "stop", "count": "n"}
    item = c.object("ScoreBucket", group, lambda name, _: c.dialect.scalar(f"{u}.{columns[name]}"))
    return c.array(item, rows, u, "start")


def _lg_float(value: Any) -> str:
    return "null" if value is None else repr(float(value))


def _lg_zoned(value: Any, zone: str) -> str | None:
    from zoneinfo import ZoneInfo

    start = bucket_start(value, ZoneInfo(zone))
    return None if start is None else start.isoformat()


def _lg_isotime(value: Any) -> str | None:
    return None if value is None else datetime.fromisoformat(value).isoformat()


def sqlite_functions() -> list[tuple[str, int, Callable]]:
    """The Python functions the reports' SQL calls on SQLite (registered per connection)."""
    from resolvers.reports.buckets import _sqlite_bucket

    return [
        ("lg_bucket", 3, _sqlite_bucket),
        ("lg_zoned", 2, _lg_zoned),
        ("lg_float", 1, _lg_float),
        ("lg_isotime", 1, _lg_isotime),
    ]


def _roots() -> dict[str, Callable[[Any, list], str]]:
    from resolvers.compiler import feeds

    return {
        "leadStats": stats.lead_stats,
        "contactStats": stats.contact_stats,
        "interactionStats": stats.interaction_stats,
        "leadFunnel": lead_funnel,
        "scoreHistogram": score_histogram,
        "duplicates": feeds.duplicates,
        "changes": feeds.changes,
    }


ROOTS = _roots()
