"""leadStats, contactStats and interactionStats in the read statement.

The groups come from the resolvers' own builders (`resolvers/reports/stats.py`), as common table
expressions of the statement; what the resolvers then do in Python is done here in SQL: groups
ordered by key (statuses in lifecycle order, text by code point, empty values last), totals
summed from the groups, time-bucket keys written as aware times in the requested zone, group
keys' accounts, contacts and leads as their objects. More groups than
LEADGRAPH_MAX_REPORT_GROUPS, or a `modelId` of no model of the workspace, is checked by the
statement (`Compiler.fallbacks`): strawberry then reports the error.
"""

from collections.abc import Callable

from models import LeadStatus
from resolvers.reports.stats import (
    TIME_DIMENSIONS,
    StatsSql,
    contact_stats_sql,
    interaction_stats_sql,
    lead_stats_sql,
)

# Key fields of each group type: GraphQL field -> (dimension value, how it is written).
TEXT, BOOL, TIME, STATUS = "text", "bool", "time", "status"
LEAD_KEYS = {
    "status": ("status", STATUS),
    "source": ("source", TEXT),
    "topic": ("topic", TEXT),
    "grade": ("grade", TEXT),
    "salesReady": ("sales_ready", BOOL),
    "createdAt": ("created_at", TIME),
    "account": ("account", "Account"),
}
CONTACT_KEYS = {
    "jobTitle": ("job_title", TEXT),
    "createdAt": ("created_at", TIME),
    "account": ("account", "Account"),
}
INTERACTION_KEYS = {
    "type": ("type", TEXT),
    "occurredAt": ("occurred_at", TIME),
    "contact": ("contact", "Contact"),
    "lead": ("lead", "Lead"),
}
TEXT_DIMENSIONS = frozenset({"source", "topic", "grade", "job_title", "type"})
TABLES = {"Account": "account", "Contact": "contact", "Lead": "lead"}


def real(c, expr: str) -> str:
    """A float as JSON that parses to the same double Python holds (SQLite's own text of a
    REAL keeps 15 digits only)."""
    if c.dialect.name == "postgres":
        return c.dialect.float(expr)
    return f"lg_float({expr})"


def zoned_time(c, key: str, offset: str, zone: str) -> str:
    """A bucket's local start `key` as Python's isoformat() of the aware time in the zone
    (resolvers.reports.buckets.bucket_start). PostgreSQL: the wall-clock text and the zone's
    UTC offset at that time (`offset`, seconds); SQLite: bucket_start itself. A bucket start that
    is ambiguous (a zone turning its clocks back across midnight) takes the later offset on
    PostgreSQL and the earlier in Python (not covered by the tests)."""
    if c.dialect.name != "postgres":
        return f"json_quote(lg_zoned({key}, {zone}))"
    o = f"abs({offset})"
    text = (
        f"to_char({key}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN {offset} < 0 THEN '-' "
        f"ELSE '+' END || lpad(({o} / 3600)::text, 2, '0') || ':' || "
        f"lpad(({o} % 3600 / 60)::text, 2, '0') || CASE WHEN {o} % 60 <> 0 "
        f"THEN ':' || lpad(({o} % 60)::text, 2, '0') ELSE '' END"
    )
    return f"CASE WHEN {key} IS NULL THEN NULL ELSE {text} END"


def _utc_offset(key: str, zone: str) -> str:
    """PostgreSQL: seconds east of UTC of the zone at the local time `key`."""
    return f"EXTRACT(EPOCH FROM ({key} - (({key} AT TIME ZONE {zone}) AT TIME ZONE 'UTC')))::int"


def _order(c, stats: StatsSql) -> str:
    """The groups' order, as the resolvers sort them (stats._sort_key): by each key, statuses
    in lifecycle order, text by code point, empty values last."""
    parts = []
    for i, dim in enumerate(stats.grouping.dimensions):
        k = f"k{i}"
        if dim.value == "status":
            ranks = " ".join(f"WHEN '{s.value}' THEN {n}" for n, s in enumerate(LeadStatus))
            value = f"CASE {k} {ranks} END"
        elif c.dialect.name == "postgres" and dim.value in TEXT_DIMENSIONS:
            value = f'{k} COLLATE "C"'
        else:
            value = k
        parts += [f"{k} IS NULL", value]
    return ", ".join(parts)


def _groups(
    c,
    group_type: str,
    key_type: str,
    keys: dict[str, tuple[str, str]],
    group: list,
    stats: StatsSql,
    figures: Callable[[str, list, str], str],
) -> str:
    """The `groups` list: one `group_type` per row of the groups CTE, its key a `key_type`;
    `figures(name, group, alias)` writes the group's other fields."""
    g = stats.grouping
    if not g.dimensions:
        return c.dialect.json_array([])
    d = c.dialect
    position = {dim.value: i for i, dim in enumerate(g.dimensions)}
    zone = c.q.typed(g.zone.key, "text") if TIME_DIMENSIONS & set(position) else None
    u = c.alias()
    offsets = ""
    if zone is not None and d.name == "postgres":
        offsets = "".join(
            f", {_utc_offset(f'g.k{i}', zone)} AS o{i}"
            for dim, i in position.items()
            if dim in TIME_DIMENSIONS
        )

    def key_field(name: str, sub: list) -> str:
        dimension, kind = keys[name]
        if dimension not in position:
            return d.nullable("NULL")
        k = f"{u}.k{position[dimension]}"
        if kind == BOOL:
            return d.boolean(k)
        if kind == TIME:
            return zoned_time(c, k, f"{u}.o{position[dimension]}", zone)
        if kind in TABLES:
            v = c.alias()
            return d.embed(
                f"(SELECT {c.entity(kind, sub, v)} FROM {TABLES[kind]} {v} "
                f"WHERE {v}.workspace_id = {c.ws} AND {v}.id = {k})"
            )
        return d.scalar(k)

    def group_field(name: str, sub: list) -> str:
        if name == "key":
            return c.object(key_type, sub, key_field)
        return figures(name, sub, u)

    item = c.object(group_type, group, group_field)
    rows = f"SELECT g.*{offsets} FROM {stats.groups} g"
    return c.array(item, rows, u, _order(c, stats))


def _check_groups(c, stats: StatsSql) -> None:
    c.ctes.extend(stats.ctes)
    c.fallbacks.append(
        f"(SELECT COUNT(*) FROM {stats.groups}) > {int(c.settings.max_report_groups)}"
    )


def _lead_aggregate(c, group: list, a: str) -> str:
    """A LeadAggregate over the row `a` (n, scored, total, low, high), as stats._score_stats."""
    d = c.dialect

    def scored(expr: str) -> str:
        return f"CASE WHEN {a}.scored = 0 THEN NULL ELSE {expr} END"

    def score_field(name: str, sub: list) -> str:
        if name == "avg":
            return real(
                c,
                scored(
                    f"CAST({a}.total AS DOUBLE PRECISION) / CAST({a}.scored AS DOUBLE PRECISION)"
                ),
            )
        column = {"sum": "total", "min": "low", "max": "high"}[name]
        return d.scalar(scored(f"{a}.{column}"))

    def field(name: str, sub: list) -> str:
        if name == "count":
            return d.scalar(f"{a}.n")
        return c.object("IntStats", sub, score_field)

    return c.object("LeadAggregate", group, field)


def _stats_sql(c, group: list, builder) -> tuple[dict, StatsSql]:
    """The field's arguments, and its report SQL from `builder` (resolvers/reports/stats.py),
    whose keyword parameters are the field's arguments by their Python names."""
    kwargs = c.arguments("Query", group[0])
    cap = c.settings.max_report_groups
    return kwargs, builder(c.q, c.workspace_id, cap, c.alias(), **kwargs)


def lead_stats(c, group: list) -> str:
    kwargs, stats = _stats_sql(c, group, lead_stats_sql)
    _check_groups(c, stats)
    if kwargs.get("model_id") is not None:  # the resolver's "no scoring model with this ID"
        c.fallbacks.append(f"NOT EXISTS (SELECT 1 FROM {stats.model})")

    def field(name: str, sub: list) -> str:
        if name == "total":
            a = c.alias()
            totals = (
                "SELECT COALESCE(SUM(n), 0) AS n, COALESCE(SUM(scored), 0) AS scored, "
                "SUM(total) AS total, MIN(low) AS low, MAX(high) AS high "
                f"FROM {stats.groups}"
            )
            return c.dialect.embed(f"(SELECT {_lead_aggregate(c, sub, a)} FROM ({totals}) {a})")
        return _groups(
            c,
            "LeadGroup",
            "LeadGroupKey",
            LEAD_KEYS,
            sub,
            stats,
            lambda _, s, u: _lead_aggregate(c, s, u),
        )

    return c.object("LeadStats", group, field)


def _counted_stats(c, group: list, type_name: str, keys: dict, stats: StatsSql) -> str:
    _check_groups(c, stats)

    def field(name: str, sub: list) -> str:
        if name == "count":
            return c.dialect.embed(f"(SELECT COALESCE(SUM(n), 0) FROM {stats.groups})")
        return _groups(
            c,
            type_name.replace("Stats", "Group"),
            type_name.replace("Stats", "GroupKey"),
            keys,
            sub,
            stats,
            lambda _, s, u: c.dialect.scalar(f"{u}.n"),
        )

    return c.object(type_name, group, field)


def contact_stats(c, group: list) -> str:
    _, stats = _stats_sql(c, group, contact_stats_sql)
    return _counted_stats(c, group, "ContactStats", CONTACT_KEYS, stats)


def interaction_stats(c, group: list) -> str:
    _, stats = _stats_sql(c, group, interaction_stats_sql)
    return _counted_stats(c, group, "InteractionStats", INTERACTION_KEYS, stats)
