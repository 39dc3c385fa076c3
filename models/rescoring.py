"""Set-based re-scoring in SQL: one INSERT ... SELECT ... ON CONFLICT per scoring model.

Scores are always recomputed from the stored interactions (never incremented), so they are exact
whatever ran before. Callers that change interactions lock the affected lead rows first
(`lock_leads`, in id order); concurrent writers on the same leads then queue up, and each one's
recount sees every interaction committed before it, which keeps the chain of
(previous_score, score) pairs unbroken.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from models import lead_matching, rule_sql
from models.lead import LeadStatus
from models.scoring import Frequency, Rule
from models.scoring_model import ScoringModel
from models.sql import Sql, conjunction, disjunction, is_postgres
from models.time_budget import allow_long_statements

OPEN_FOR_PROMOTION = (LeadStatus.NEW.value, LeadStatus.NURTURING.value)


@dataclass(frozen=True)
class Scope:
    """Which leads to re-score: all of a workspace's, or the listed ones."""

    workspace_id: int
    lead_ids: list[int] | None = None
    relation = "lead"  # where the in-scope leads are read from
    carries_interactions = False  # see counted_interactions

    def leads(self, q: Sql, alias: str) -> str:
        parts = [f"{alias}.workspace_id = {q.param(self.workspace_id)}"]
        if self.lead_ids is not None:
            parts.append(q.in_list(f"{alias}.id", self.lead_ids))
        return conjunction(parts)


def _contribution(rule: Rule, n: str, decayed: str) -> str:
    points = int(rule.points)
    if rule.is_attribute:
        return f"(CASE WHEN {n} = 1 THEN {points} ELSE 0 END)"
    if rule.frequency is Frequency.EACH:
        raw = f"({points} * {decayed if rule.decays else n})"
        if rule.max_points is not None:
            raw = rule_sql.clamp(raw, abs(int(rule.max_points)))
        return rule_sql.round_half_away(raw) if rule.decays else raw
    if rule.frequency is Frequency.AT_LEAST:
        return f"(CASE WHEN {n} >= {int(rule.min_count)} THEN {points} ELSE 0 END)"
    return f"(CASE WHEN {n} = 0 THEN {points} ELSE 0 END)"


def _grade(grades: list[dict], score: str, q: Sql) -> str:
    if not grades:
        return "NULL"
    ordered = sorted(grades, key=lambda g: g["min_score"], reverse=True)
    branches = " ".join(
        f"WHEN {score} >= {int(g['min_score'])} THEN {q.param(g['label'])}" for g in ordered
    )
    return f"CASE {branches} ELSE NULL END"


def counted_interactions(
    scope: Scope,
    q: Sql,
    *,
    columns: list[str] = (),  # type: ignore[assignment]
    also: str | None = None,
) -> str:
    """(lead_id, type, occurred_at, *columns) of every interaction that counts for each lead in
    scope; `columns` are expressions over the interaction `i`. `also` names a relation with the
    interaction's columns counted as well (rows the same statement inserts, which its snapshot
    does not show).

    A scope that `carries_interactions` reads its leads from `scope.relation`, whose rows hold
    their counted interactions as arrays (`types`, `occurred`, `metadata`: models/recording.py,
    read after the leads were locked) in place of the interaction table."""
    extra = "".join(f", {c}" for c in columns)
    leads = scope.relation

    def where(alias: str) -> str:  # carried leads: the enclosing query keeps them in scope
        return "" if scope.carries_interactions else f" WHERE {scope.leads(q, alias)}"

    if scope.carries_interactions:
        counted = (
            f"SELECT l1.id AS lead_id, i.type, i.occurred_at{extra} FROM {leads} l1 "
            "CROSS JOIN LATERAL unnest(l1.types, l1.occurred, l1.metadata) "
            "AS i(type, occurred_at, metadata)"
        )
    else:
        counted = (
            f"SELECT l1.id AS lead_id, i.type, i.occurred_at{extra} FROM {leads} l1 "
            f"JOIN interaction i ON i.lead_id = l1.id{where('l1')} "
            f"UNION ALL SELECT l2.id AS lead_id, i.type, i.occurred_at{extra} FROM {leads} l2 "
            f"JOIN interaction i ON i.contact_id = l2.contact_id AND i.lead_id IS NULL"
            f"{where('l2')}"
        )
    if also:
        counted += (
            f" UNION ALL SELECT l3.id AS lead_id, i.type, i.occurred_at{extra} FROM {leads} l3 "
            f"JOIN {also} i ON i.lead_id = l3.id OR (i.lead_id IS NULL "
            f"AND i.contact_id = l3.contact_id){where('l3')}"
        )
    return counted


def entry_condition(model: ScoringModel, alias: str, q: Sql) -> str:
    """The model's entry criteria over `lead {alias}` ('' when every lead is in)."""
    applies_to = getattr(model, "applies_to", None)
    return lead_matching.lead_condition(applies_to, alias, q) if applies_to else ""


def score_select(
    model: ScoringModel,
    rules: list[Rule],
    scope: Scope,
    q: Sql,
    now: datetime,
    *,
    also: str | None = None,
) -> str:
    """SELECT lead_id, score, grade, ready, n0..nk, p0..pk for every lead in scope that meets the
    model's entry criteria (n: matching interactions or attribute match; p: contribution).
    `also`: see counted_interactions."""
    sums, columns = [], []
    for index, rule in enumerate(rules):
        if rule.is_attribute:
            continue
        condition = f"c.type = {q.param(rule.interaction_type)}"
        if rule.within_days is not None:
            cutoff = now - timedelta(days=int(rule.within_days))
            condition += f" AND c.occurred_at >= {q.param(cutoff)}"
        if rule.metadata_contains is not None:
            # Matched where the interaction is read, so the JSON is not carried any further.
            contains = rule_sql.metadata_contains("i.metadata", rule.metadata_contains, q)
            columns.append(
                f"CASE WHEN i.type = {q.param(rule.interaction_type)} AND {contains} "
                f"THEN 1 ELSE 0 END AS m{index}"
            )
            condition += f" AND c.m{index} = 1"
        sums.append(f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS n{index}")
        if rule.decays:
            factor = rule_sql.decay_factor("c.occurred_at", rule.half_life_days, now, q)  # type: ignore[arg-type]
            sums.append(f"SUM(CASE WHEN {condition} THEN {factor} ELSE 0 END) AS d{index}")
    in_model = conjunction([scope.leads(q, "l"), entry_condition(model, "l", q)])
    if sums:
        aggregated = (
            f"SELECT l.id AS lead_id, {', '.join(sums)} FROM {scope.relation} l "
            f"LEFT JOIN ({counted_interactions(scope, q, columns=columns, also=also)}) c "
            f"ON c.lead_id = l.id WHERE {in_model} GROUP BY l.id"
        )
    else:
        aggregated = f"SELECT l.id AS lead_id FROM {scope.relation} l WHERE {in_model}"
    # Each attribute rule is the set of in-scope leads matching its filter, joined back: its
    # EXISTS conditions then run as (hash) semi-joins over the related table, not as one probe
    # per lead.
    matched, joins = [], []
    for index, rule in enumerate(rules):
        if not rule.is_attribute:
            continue
        t = f"la{index}"
        condition = lead_matching.lead_condition(rule.lead_matches, t, q)  # type: ignore[arg-type]
        joins.append(
            f"LEFT JOIN (SELECT {t}.id FROM lead {t} WHERE {scope.leads(q, t)} AND {condition}) "
            f"r{index} ON r{index}.id = a.lead_id"
        )
        matched.append(f"CASE WHEN r{index}.id IS NULL THEN 0 ELSE 1 END AS n{index}")
    if matched:
        aggregated = f"SELECT a.*, {', '.join(matched)} FROM ({aggregated}) a {' '.join(joins)}"
    ns = [f"m.n{i}" for i in range(len(rules))]
    ps = [f"{_contribution(r, f'm.n{i}', f'm.d{i}')} AS p{i}" for i, r in enumerate(rules)]
    # OFFSET 0 keeps PostgreSQL from pulling these subqueries up: it would copy each rule's
    # contribution into the total, and the total into the grade's every branch and the
    # threshold test, all set up again on every execution of a cached plan.
    fence = " OFFSET 0" if q.postgres else ""
    scored = f"SELECT m.lead_id{''.join(', ' + n for n in ns + ps)} FROM ({aggregated}) m{fence}"
    total = " + ".join(f"s.p{i}" for i in range(len(rules))) or "0"
    summed = f"SELECT s.*, ({total}) AS score FROM ({scored}) s{fence}"
    threshold = int(model.sales_ready_threshold)
    columns = "".join(f", x.n{i}, x.p{i}" for i in range(len(rules)))
    return (
        f"SELECT x.lead_id, x.score, {_grade(model.grades, 'x.score', q)} AS grade, "
        f"CASE WHEN x.score >= {threshold} THEN 1 ELSE 0 END AS ready{columns} FROM ({summed}) x"
    )


SCORE_COLUMNS = (
    "workspace_id, lead_id, model_id, score, previous_score, grade, sales_ready, "
    "previous_sales_ready, counts, contributions, updated_at"
)
ON_SCORE_CONFLICT = (
    "ON CONFLICT (lead_id, model_id) DO UPDATE SET previous_score = lead_score.score, "
    "previous_sales_ready = lead_score.sales_ready, previous_grade = lead_score.grade, "
    "score = excluded.score, "
    "grade = excluded.grade, sales_ready = excluded.sales_ready, counts = excluded.counts, "
    "contributions = excluded.contributions, updated_at = excluded.updated_at"
)


def score_rows(
    model: ScoringModel, scope: Scope, q: Sql, now: datetime, *, also: str | None = None
) -> str:
    """SELECT of the lead_score rows (SCORE_COLUMNS) the model gives the in-scope leads inside
    its entry criteria."""
    rules = [Rule.from_json(r) for r in model.rules]
    select = score_select(model, rules, scope, q, now, also=also)
    array = "jsonb_build_array" if q.postgres else "json_array"
    counts = f"{array}({', '.join(f's.n{i}' for i in range(len(rules)))})"
    points = f"{array}({', '.join(f's.p{i}' for i in range(len(rules)))})"
    ready = "(s.ready = 1)" if q.postgres else "s.ready"
    no_int, no_bool = ("NULL::integer", "NULL::boolean") if q.postgres else ("NULL", "NULL")
    return (
        f"SELECT {q.typed(model.workspace_id, 'int')}, s.lead_id, {q.typed(model.id, 'int')}, "
        f"s.score, {no_int}, s.grade, {ready}, {no_bool}, {counts}, {points}, "
        f"{q.typed(now, 'timestamptz')} FROM ({select}) s"
    )


def outside_criteria(model: ScoringModel, scope: Scope, q: Sql) -> str | None:
    """DELETE of the model's scores of in-scope leads outside its entry criteria (None when
    every lead is in)."""
    if not getattr(model, "applies_to", None):
        return None
    outside = (
        f"SELECT l.id FROM lead l WHERE {scope.leads(q, 'l')} "
        f"AND NOT COALESCE({entry_condition(model, 'l', q)}, FALSE)"
    )
    return f"DELETE FROM lead_score WHERE model_id = {q.param(model.id)} AND lead_id IN ({outside})"


async def rescore_model(
    conn: BaseDBAsyncClient, model: ScoringModel, scope: Scope, now: datetime
) -> None:
    """Recompute and upsert the score of every in-scope lead inside the model's entry criteria;
    drop the scores of in-scope leads outside them."""
    postgres = is_postgres(conn)
    q = Sql(postgres)
    rows = score_rows(model, scope, q, now)
    sql = f"INSERT INTO lead_score ({SCORE_COLUMNS}) {rows} WHERE 1 = 1 {ON_SCORE_CONFLICT}"
    await conn.execute_query(sql, q.params)
    q = Sql(postgres)
    delete = outside_criteria(model, scope, q)
    if delete:
        await conn.execute_query(delete, q.params)


async def refresh_lead_summary(conn: BaseDBAsyncClient, scope: Scope) -> None:
    """Copy the primary model's score and grade, and any active model's readiness, onto leads
    (only rows that change are written)."""
    if scope.lead_ids is None:
        await allow_long_statements(conn)
    postgres = is_postgres(conn)
    q = Sql(postgres)
    ready = "MAX(CASE WHEN m.id IS NOT NULL AND s.sales_ready THEN 1 ELSE 0 END)"
    summary = (
        'SELECT l.id, COALESCE(MAX(CASE WHEN m."primary" THEN s.score END), 0) AS score, '
        f'MAX(CASE WHEN m."primary" THEN s.grade END) AS grade, {ready} AS ready '
        "FROM lead l LEFT JOIN lead_score s ON s.lead_id = l.id "
        "LEFT JOIN scoring_model m ON m.id = s.model_id AND m.active "
        f"WHERE {scope.leads(q, 'l')} GROUP BY l.id"
    )
    ready_value = "(x.ready = 1)" if postgres else "x.ready"
    await conn.execute_query(
        f"UPDATE lead SET score = x.score, grade = x.grade, sales_ready = {ready_value} "
        f"FROM ({summary}) x WHERE lead.id = x.id AND (lead.score <> x.score "
        f"OR lead.grade IS DISTINCT FROM x.grade OR lead.sales_ready <> {ready_value})",
        q.params,
    )


async def promote_sales_ready(
    conn: BaseDBAsyncClient, scope: Scope, model_ids: list[int], actor: str | None, now: datetime
) -> None:
    """NEW or NURTURING leads that a re-score raised to sales-ready become SALES_READY."""

    def condition(q: Sql) -> str:
        return conjunction(
            [
                scope.leads(q, "lead"),
                q.in_list("lead.status", list(OPEN_FOR_PROMOTION)),
                "EXISTS (SELECT 1 FROM lead_score s JOIN scoring_model m ON m.id = s.model_id "
                f"WHERE s.lead_id = lead.id AND m.active AND {q.in_list('s.model_id', model_ids)} "
                "AND s.sales_ready AND (s.previous_score IS NULL OR s.score > s.previous_score "
                f"OR (lead.status = {q.param(LeadStatus.NEW.value)} "
                "AND NOT COALESCE(s.previous_sales_ready, FALSE))))",
            ]
        )

    postgres = is_postgres(conn)
    q = Sql(postgres)
    cond = condition(q)
    await conn.execute_query(
        "INSERT INTO lead_event (workspace_id, lead_id, at, from_status, to_status, reason, "
        f"api_key_name) SELECT lead.workspace_id, lead.id, {q.typed(now, 'timestamptz')}, "
        f"lead.status, {q.typed(LeadStatus.SALES_READY.value, 'text')}, "
        f"{q.typed('Reached the sales-ready threshold', 'text')}, {q.typed(actor, 'text')} "
        f"FROM lead WHERE {cond}",
        q.params,
    )
    q = Sql(postgres)
    cond = condition(q)
    await conn.execute_query(
        f"UPDATE lead SET status = {q.param(LeadStatus.SALES_READY.value)}, "
        f"updated_at = {q.param(now)} WHERE {cond}",
        q.params,
    )


async def active_models(workspace_id: int, conn: BaseDBAsyncClient) -> list[ScoringModel]:
    return (
        await ScoringModel.filter(workspace_id=workspace_id, active=True)
        .using_db(conn)
        .order_by("id")
        .all()
    )


async def rescore(
    conn: BaseDBAsyncClient,
    scope: Scope,
    *,
    models: list[ScoringModel] | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> list[ScoringModel]:
    """Re-score the scope under the given (default: every active) model, then refresh summaries
    and promote leads that became sales-ready. Run inside the caller's transaction."""
    now = now or datetime.now(UTC)
    if scope.lead_ids is None:  # the whole workspace: may take longer than a request's budget
        await allow_long_statements(conn)
        await lock_workspace_leads(conn, scope.workspace_id)
    if models is None:
        models = await active_models(scope.workspace_id, conn)
    for model in models:
        await rescore_model(conn, model, scope, now)
    await refresh_lead_summary(conn, scope)
    if models:
        await promote_sales_ready(conn, scope, [m.id for m in models], actor, now)
    return models


async def lock_leads(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    *,
    lead_ids: list[int] = (),  # type: ignore[assignment]
    contact_ids: list[int] = (),  # type: ignore[assignment]
) -> dict[int, str]:
    """Lock the listed leads and the contacts' leads in id order, returning {id: status}.

    On SQLite this only reads: it runs one writer at a time anyway."""
    q = Sql(is_postgres(conn))
    which = []
    if lead_ids:
        which.append(q.in_list("id", list(lead_ids)))
    if contact_ids:
        which.append(q.in_list("contact_id", list(contact_ids)))
    if not which:
        return {}
    lock = " FOR UPDATE" if q.postgres else ""
    rows = await conn.execute_query_dict(
        f"SELECT id, status FROM lead WHERE workspace_id = {q.param(workspace_id)} "
        f"AND {disjunction(which)} ORDER BY id{lock}",
        q.params,
    )
    return {row["id"]: row["status"] for row in rows}


async def lock_workspace_leads(conn: BaseDBAsyncClient, workspace_id: int) -> None:
    """Lock every lead of the workspace in id order before re-scoring it whole: writers lock
    their leads first in id order too, so the two cannot deadlock (lead_score rows are only
    written under their lead's lock). No-op on SQLite."""
    if is_postgres(conn):
        await conn.execute_query(
            "SELECT 1 FROM lead WHERE workspace_id = $1 ORDER BY id FOR UPDATE", [workspace_id]
        )


RESCORE_LOCK = 0x1EAD  # advisory-lock namespace for periodic re-scoring


async def rescore_workspace(conn: BaseDBAsyncClient, workspace_id: int) -> bool:
    """Re-score a whole workspace (time windows move as interactions age).

    On PostgreSQL it takes a transaction-scoped advisory lock first and skips the workspace when
    another process holds it, so several servers sharing a database do the work once."""
    if is_postgres(conn):
        rows = await conn.execute_query_dict(
            "SELECT pg_try_advisory_xact_lock($1, $2) AS locked", [RESCORE_LOCK, workspace_id]
        )
        if not rows[0]["locked"]:
            return False
    await rescore(conn, Scope(workspace_id), actor="periodic re-score")
    return True
