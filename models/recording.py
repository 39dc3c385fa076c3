"""recordInteraction on PostgreSQL: one statement when every active model's rules only count
interactions, three round trips when a model has entry criteria or attribute rules.

The write statement checks the references and the idempotency key, inserts the interaction,
re-scores the leads under every active model, writes their summaries, statuses and events and
reads it all back. It writes its own change-log rows too (`change_log`), and the tables'
triggers skip it (models/change_triggers.py: `SELF_LOGGED`): five trigger functions fewer per
request, each with a query to find its rows and another to log them.

Why the leads are locked before anything is counted: under READ COMMITTED a statement reads with
the snapshot taken when it starts, so a statement that waited for a lead lock would count the
interactions without the one its predecessor committed meanwhile (a lost update).

- **One statement** (autocommit, one round trip): its first step calls
  `leadgraph_lock_and_read`, which locks the leads and then reads them, their counted
  interactions and the models' version with a snapshot of its own, taken after the locks
  (a VOLATILE function's queries each take a fresh one). The statement scores from what the
  function returned, never from its own older snapshot. Entry criteria and attribute rules read
  lead, contact and account attributes, which that snapshot could show stale; models with them
  take the other shape.
- **Three round trips**: (1) BEGIN and lock the leads, (2) the write statement, which starts
  after the locks are held and so sees every committed interaction, (3) COMMIT. The lock goes
  out with BEGIN in one simple-query message (ids inlined as integers, no rows needed back).

The interaction a statement inserts is invisible to its own snapshot, so the re-score counts it
from the INSERT's RETURNING (`counted_interactions(also=...)`).

The active scoring models are cached per workspace with a version (each row's id and xmin): the
write statement compares it with the stored models and writes nothing when they differ; the
caller then reloads them and runs the statement again (one more round trip, once per change).

SQLite keeps the multi-statement path in resolvers/interactions.py: it runs one writer at a time,
so there is nothing to lock and no network between the statements.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import orjson

from models.change_triggers import (
    EVENT_DETAIL,
    LOG_COLUMNS,
    MARK_SELF_LOGGED,
    SCORE_DETAIL,
    TX,
    watched,
)
from models.lead import LeadStatus
from models.rescoring import (
    ON_SCORE_CONFLICT,
    OPEN_FOR_PROMOTION,
    SCORE_COLUMNS,
    outside_criteria,
    score_rows,
)
from models.scoring_model import ScoringModel
from models.sql import Sql

INT4_MAX = 2**31 - 1
PROMOTION_REASON = "Reached the sales-ready threshold"
WRITE_QUEUE = 0x1EAE  # advisory-lock namespace: writers of one lead, in arrival order


@dataclass(frozen=True)
class ActiveModels:
    """A workspace's active scoring models (id order) and the version they were read at."""

    version: str
    models: list[ScoringModel]

    @property
    def ids(self) -> list[int]:
        return [m.id for m in self.models]

    @property
    def primary_ids(self) -> list[int]:
        return [m.id for m in self.models if m.primary]

    @cached_property  # read on every request; the models do not change under it
    def in_one_statement(self) -> bool:
        """Every model's rules only count interactions (see the module docstring)."""
        return not any(
            getattr(m, "applies_to", None)  # as rescoring.entry_condition reads it
            or any(r.get("lead_matches") is not None for r in m.rules)  # as Rule.is_attribute
            for m in self.models
        )

    @cached_property
    def read_metadata(self) -> bool:
        return any(r.get("metadata_contains") is not None for m in self.models for r in m.rules)


MODELS_VERSION = (
    "SELECT COALESCE(string_agg(m.id::text || ':' || m.xmin::text, ',' ORDER BY m.id), '') "
    "FROM scoring_model m WHERE m.workspace_id = {ws} AND m.active"
)

_cache: dict[int, ActiveModels] = {}


def cached_models(workspace_id: int) -> ActiveModels | None:
    return _cache.get(workspace_id)


async def load_models(con: Any, workspace_id: int) -> ActiveModels:
    """Read the active models and their version in one statement, and cache them."""
    rows = await con.fetch(
        "SELECT m.*, m.xmin::text AS row_version FROM scoring_model m "
        "WHERE m.workspace_id = $1 AND m.active ORDER BY m.id",
        workspace_id,
    )
    models, parts = [], []
    for row in rows:
        values = dict(row)
        parts.append(f"{values['id']}:{values.pop('row_version')}")
        models.append(ScoringModel._init_from_db(**values))
    active = ActiveModels(",".join(parts), models)
    _cache[workspace_id] = active
    return active


@dataclass(frozen=True)
class Item:
    """One validated interaction: ids as the client gave them (not yet checked)."""

    workspace_id: int
    type: str
    contact_id: int | None
    lead_id: int | None
    occurred_at: datetime
    metadata: Any
    key: str | None
    fingerprint: str | None

    def in_range(self) -> bool:
        """Ids an int4 column can hold (anything else names no row)."""
        return all(0 < i <= INT4_MAX for i in (self.contact_id, self.lead_id) if i is not None)


# Installed by migration 0013. In a function, the two statements' plans are made once per
# session; sent as text they were parsed and planned on every request.
LOCK_FUNCTION = """
CREATE OR REPLACE FUNCTION leadgraph_lock_leads(queue int, ws int, only_lead int, of_contact int)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF only_lead IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(queue, l.id) FROM lead l
      WHERE l.workspace_id = ws AND l.id = only_lead;
    PERFORM 1 FROM lead l WHERE l.workspace_id = ws AND l.id = only_lead FOR UPDATE;
  ELSE
    PERFORM pg_advisory_xact_lock(queue, s.id)
      FROM (SELECT l.id FROM lead l WHERE l.workspace_id = ws AND l.contact_id = of_contact
            ORDER BY l.id) s;
    PERFORM 1 FROM lead l WHERE l.workspace_id = ws AND l.contact_id = of_contact
      ORDER BY l.id FOR UPDATE;
  END IF;
END $$
"""


# Installed by migration 0015: the one-statement shape's first step (see the module docstring).
# The leads are locked as `leadgraph_lock_leads` does, then read with a fresh snapshot: each
# with its row (as JSON, for the answer), the models' version and its counted interactions
# (its own and its contact's contact-level ones) as arrays; metadata only when a rule needs it.
# ROWS 3: a contact's few leads. The default estimate (1,000 rows) made the statement's cached
# plan sort, hash and hash-aggregate what are a handful of rows. Generic plans: the reading
# query's custom plan (`= ANY(locked)`) never lost to the generic one, so it was planned again
# on every call (the function cost twice as much).
READ_FUNCTION = f"""
CREATE OR REPLACE FUNCTION leadgraph_lock_and_read(
  queue int, ws int, only_lead int, of_contact int, with_metadata boolean)
RETURNS TABLE (id int, contact_id int, status text, lead json, version text, types text[],
  occurred timestamptz[], metadata jsonb[])
LANGUAGE plpgsql ROWS 3 SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE locked int[];
BEGIN
  IF only_lead IS NOT NULL THEN
    PERFORM pg_advisory_xact_lock(queue, l.id) FROM lead l
      WHERE l.workspace_id = ws AND l.id = only_lead;
    SELECT array_agg(s.id) INTO locked FROM (SELECT l.id FROM lead l
      WHERE l.workspace_id = ws AND l.id = only_lead FOR UPDATE) s;
  ELSE
    PERFORM pg_advisory_xact_lock(queue, s.id)
      FROM (SELECT l.id FROM lead l WHERE l.workspace_id = ws AND l.contact_id = of_contact
            ORDER BY l.id) s;
    SELECT array_agg(s.id) INTO locked FROM (SELECT l.id FROM lead l
      WHERE l.workspace_id = ws AND l.contact_id = of_contact ORDER BY l.id FOR UPDATE) s;
  END IF;
  RETURN QUERY
    SELECT l.id, l.contact_id, l.status::text, row_to_json(l), ({MODELS_VERSION.format(ws="ws")}),
      c.types, c.occurred, c.metadata
    FROM lead l CROSS JOIN LATERAL (
      SELECT array_agg(i.type::text) AS types, array_agg(i.occurred_at) AS occurred,
        array_agg(CASE WHEN with_metadata THEN i.metadata END) AS metadata
      FROM (SELECT i.type, i.occurred_at, i.metadata FROM interaction i WHERE i.lead_id = l.id
            UNION ALL SELECT i.type, i.occurred_at, i.metadata FROM interaction i
            WHERE i.contact_id = l.contact_id AND i.lead_id IS NULL) i) c
    WHERE l.workspace_id = ws AND l.id = ANY(locked) ORDER BY l.id;
END $$
"""


# Installed by migration 0016: what a replay in the one-statement shape reports. A replay answers
# with the stored scores; read with the statement's own snapshot they could predate a writer the
# lock wait let through, while its leads (from `leadgraph_lock_and_read`) show that writer's
# result. A VOLATILE function's query takes a snapshot of its own, after the locks.
STORED_SCORES_FUNCTION = """
CREATE OR REPLACE FUNCTION leadgraph_stored_scores(leads int[], models int[])
RETURNS TABLE (lead_id int, model_id int, score int, previous_score int, grade text,
  sales_ready boolean, previous_sales_ready boolean)
LANGUAGE plpgsql ROWS 3 AS $$
#variable_conflict use_column
BEGIN
  RETURN QUERY
    SELECT s.lead_id, s.model_id, s.score, s.previous_score, s.grade::text, s.sales_ready,
      s.previous_sales_ready
    FROM lead_score s WHERE s.lead_id = ANY(leads) AND s.model_id = ANY(models);
END $$
"""


def lock_script(item: Item) -> str:
    """BEGIN, UTC timestamps in the JSON read back, and the leads locked in id order: the lead,
    or every lead of the contact (`leadgraph_lock_leads`). Integers only are inlined (a simple
    query has no parameters).

    Writers queue on an advisory lock per lead before they lock its row: waiters for a row lock
    are not served in order (a newcomer can take the row between its release and the woken
    waiter), and with many writers on one lead some waited past the statement timeout; the
    advisory lock's queue is first come, first served."""
    lead = "NULL" if item.lead_id is None else str(int(item.lead_id))
    contact = "NULL" if item.lead_id is not None else str(int(item.contact_id))  # type: ignore[arg-type]
    return (
        "BEGIN; SET LOCAL TimeZone = 'UTC'; "
        f"SELECT leadgraph_lock_leads({WRITE_QUEUE}, {int(item.workspace_id)}, {lead}, {contact})"
    )


@dataclass(frozen=True)
class Touched:
    """The leads the interaction counts for, as a condition over `lead {alias}` (a Scope for
    the re-scoring SQL). `gate` holds only when the statement inserted the interaction."""

    workspace: str
    which: str
    gate: str = ""
    relation = "lead"
    carries_interactions = False

    def leads(self, q: Sql, alias: str) -> str:
        condition = f"{alias}.workspace_id = {self.workspace} AND {alias}.{self.which}"
        return f"({condition} AND {self.gate})" if self.gate else f"({condition})"


@dataclass(frozen=True)
class Locked:
    """The leads `leadgraph_lock_and_read` locked and read (the CTE `lk`), their interactions
    carried along: the one-statement shape's Scope. `gate` as in Touched."""

    gate: str = ""
    relation = "lk"
    carries_interactions = True

    def leads(self, q: Sql, alias: str) -> str:
        return f"({self.gate})" if self.gate else "TRUE"


@dataclass(frozen=True)
class Slot:
    """A parameter of the cached statement text, filled in per execution."""

    name: str


@dataclass(frozen=True)
class Now:
    """`now` (plus an offset, as `now - timedelta(...)` makes it) while the text is built."""

    offset: timedelta = timedelta(0)

    def __sub__(self, other: timedelta) -> "Now":
        return Now(self.offset - other)


Shape = tuple[bool, bool, bool]  # contactId given, leadId given, idempotencyKey given
_statements: dict[tuple[int, Shape], tuple[str, str, list[Any]]] = {}


def write_statement(
    item: Item, active: ActiveModels, actor: str | None, now: datetime
) -> tuple[str, list[Any]]:
    """The one statement after the lock (see the module docstring) and its parameters. The
    text depends only on the workspace's models and which inputs were given: it is built once
    per such shape and models' version."""
    shape = (item.contact_id is not None, item.lead_id is not None, item.key is not None)
    cached = _statements.get((item.workspace_id, shape))
    if cached is None or cached[0] != active.version:
        cached = (active.version, *_build(item.workspace_id, shape, active))
        _statements[(item.workspace_id, shape)] = cached
    values = {
        "contact": item.contact_id,
        "lead": item.lead_id,
        "key": item.key,
        "fingerprint": item.fingerprint,
        "type": item.type,
        "occurred_at": item.occurred_at.astimezone(UTC),
        "metadata": orjson.dumps(item.metadata).decode() if item.metadata is not None else None,
        "actor": actor,
    }
    params = [
        values[p.name]
        if isinstance(p, Slot)
        else (now + p.offset).astimezone(UTC)
        if isinstance(p, Now)
        else p
        for p in cached[2]
    ]
    return cached[1], params


def _build(workspace_id: int, shape: Shape, active: ActiveModels) -> tuple[str, list[Any]]:
    has_contact, has_lead, has_key = shape
    one = active.in_one_statement
    q = Sql(True)
    now: Any = Now()
    ws = q.typed(workspace_id, "int")
    given_contact = q.typed(Slot("contact"), "int") if has_contact else None
    given_lead = q.typed(Slot("lead"), "int") if has_lead else None
    version = q.typed(active.version, "text")
    joins, columns, locked = [], [], ""
    if one:
        of_contact = "NULL::int" if given_lead is not None else given_contact
        locked = (
            "lk AS MATERIALIZED (SELECT * FROM leadgraph_lock_and_read("
            f"{WRITE_QUEUE}, {ws}, {given_lead or 'NULL::int'}, {of_contact}, "
            f"{'TRUE' if active.read_metadata else 'FALSE'})), "
        )
    columns.append(f"{MARK_SELF_LOGGED} AS self_logged")
    if given_contact is not None:
        columns.append(
            f"EXISTS (SELECT 1 FROM contact c WHERE c.id = {given_contact} "
            f"AND c.workspace_id = {ws}) AS contact_found"
        )
    else:
        columns.append("TRUE AS contact_found")
    if given_lead is not None:
        joins.append(f"LEFT JOIN lead gl ON gl.id = {given_lead} AND gl.workspace_id = {ws}")
        columns += ["gl.id IS NOT NULL AS lead_found", "gl.contact_id AS lead_contact_id"]
        matches = f"lead_contact_id = {given_contact}" if given_contact is not None else "TRUE"
        touched_which = f"id = {given_lead}"
        contact_of_row = "v.lead_contact_id"
    else:
        columns += ["TRUE AS lead_found", "NULL::int AS lead_contact_id"]
        matches = "TRUE"
        touched_which = f"contact_id = {given_contact}"
        contact_of_row = given_contact
    if has_key:
        key = q.typed(Slot("key"), "text")
        joins.append(
            f"LEFT JOIN interaction k ON k.workspace_id = {ws} AND k.idempotency_key = {key}"
        )
        columns += ["k.id AS known_id", "k.idempotency_fingerprint AS known_fingerprint"]
    else:
        key = "NULL::text"
        columns += ["NULL::int AS known_id", "NULL::text AS known_fingerprint"]
    if one:  # as read after the locks; with no lead to lock, nothing is scored
        columns.append(f"COALESCE((SELECT lk.version FROM lk LIMIT 1), {version}) AS version")
    else:
        columns.append(f"({MODELS_VERSION.format(ws=ws)}) AS version")
    fingerprint = q.typed(Slot("fingerprint"), "text")
    found = f"contact_found AND lead_found AND {matches} AND version = {version}"
    replay = (
        f"({found} AND known_id IS NOT NULL AND known_fingerprint = {fingerprint})"
        if has_key
        else "FALSE"
    )
    checks = locked + (
        f"chk AS (SELECT {', '.join(columns)} FROM (SELECT 1) one {' '.join(joins)}), "
        f"v AS (SELECT chk.*, ({found} AND known_id IS NULL) AS fresh, {replay} AS replay "
        "FROM chk)"
    )
    now_ = q.typed(now, "timestamptz")
    # Only a key can conflict (a concurrent request with the same key: the caller tries again);
    # without one, the insert skips the speculative-insertion checks.
    on_conflict = "ON CONFLICT DO NOTHING " if has_key else ""
    insert = (
        "ins AS (INSERT INTO interaction (workspace_id, type, occurred_at, contact_id, lead_id, "
        "metadata, idempotency_key, idempotency_fingerprint, created_at) "
        f"SELECT {ws}, {q.typed(Slot('type'), 'text')}, "
        f"{q.typed(Slot('occurred_at'), 'timestamptz')}, "
        f"{contact_of_row}, {given_lead or 'NULL::int'}, "
        f"{q.typed(Slot('metadata'), 'jsonb')}, {key}, "
        f"{fingerprint}, {now_} FROM v WHERE v.fresh {on_conflict}"
        "RETURNING id, type, occurred_at, contact_id, lead_id, metadata)"
    )
    gate = "EXISTS (SELECT 1 FROM ins)"
    scope = Locked(gate) if one else Touched(ws, touched_which, gate)
    everywhere = Locked() if one else Touched(ws, touched_which)
    ctes = [checks, insert]
    if active.models:
        rows = " UNION ALL ".join(
            score_rows(m, scope, q, now, also="ins")  # type: ignore[arg-type]
            for m in active.models
        )
        ctes.append(
            f"up AS (INSERT INTO lead_score ({SCORE_COLUMNS}) SELECT * FROM ({rows}) r "
            f"WHERE 1 = 1 {ON_SCORE_CONFLICT} RETURNING lead_id, model_id, score, "
            "previous_score, grade, previous_grade, sales_ready, previous_sales_ready)"
        )
    else:
        ctes.append(
            "up AS (SELECT NULL::int AS lead_id, NULL::int AS model_id, 0 AS score, "
            "NULL::int AS previous_score, NULL::text AS grade, NULL::text AS previous_grade, "
            "FALSE AS sales_ready, NULL::boolean AS previous_sales_ready WHERE FALSE)"
        )
    for index, model in enumerate(active.models):
        delete = outside_criteria(model, scope, q)  # type: ignore[arg-type]
        if delete:
            ctes.append(f"out{index} AS ({delete})")
    open_ = q.typed(list(OPEN_FOR_PROMOTION), "text[]")
    new = q.typed(LeadStatus.NEW.value, "text")
    ready_now = q.typed(LeadStatus.SALES_READY.value, "text")
    ctes.append(
        "x AS (SELECT l.id, l.status, "
        f"COALESCE(MAX(CASE WHEN u.model_id = ANY({q.typed(active.primary_ids, 'int[]')}) "
        "THEN u.score END), 0) AS score, "
        f"MAX(CASE WHEN u.model_id = ANY({q.typed(active.primary_ids, 'int[]')}) "
        "THEN u.grade END) AS grade, COALESCE(BOOL_OR(u.sales_ready), FALSE) AS ready, "
        f"(l.status = ANY({open_}) AND COALESCE(BOOL_OR(u.sales_ready AND "
        "(u.previous_score IS NULL OR u.score > u.previous_score "
        f"OR (l.status = {new} AND NOT COALESCE(u.previous_sales_ready, FALSE)))), FALSE)) "
        f"AS promote FROM {scope.relation} l LEFT JOIN up u ON u.lead_id = l.id "
        f"WHERE {scope.leads(q, 'l')} "
        "GROUP BY l.id, l.status)"
    )
    ctes.append(
        "lu AS (UPDATE lead SET score = x.score, grade = x.grade, sales_ready = x.ready, "
        f"status = CASE WHEN x.promote THEN {ready_now} ELSE lead.status END, "
        f"updated_at = CASE WHEN x.promote THEN {now_} ELSE lead.updated_at END FROM x "
        "WHERE lead.id = x.id AND (lead.score <> x.score OR lead.grade IS DISTINCT FROM x.grade "
        "OR lead.sales_ready <> x.ready OR x.promote) RETURNING lead.*)"
    )
    ctes.append(
        "ev AS (INSERT INTO lead_event (workspace_id, lead_id, at, from_status, to_status, "
        f"reason, api_key_name) SELECT {ws}, x.id, {now_}, x.status, {ready_now}, "
        f"{q.typed(PROMOTION_REASON, 'text')}, {q.typed(Slot('actor'), 'text')} "
        "FROM x WHERE x.promote RETURNING *)"
    )
    ctes.append(f"lg AS ({change_log(ws)})")
    score_columns = (
        "lead_id, {p}model_id, {p}score, {p}previous_score, {p}grade, {p}sales_ready, "
        "{p}previous_sales_ready"
    )
    changes = (
        f"SELECT u.{score_columns.format(p='u.')}, x.status FROM up u JOIN x ON x.id = u.lead_id"
    )
    known = "NULL::json"
    if has_key:  # a replay reads back what is stored (without a key there is none)
        model_ids = q.typed(active.ids, "int[]")
        stored = (  # read after the locks (see STORED_SCORES_FUNCTION)
            f"leadgraph_stored_scores((SELECT array_agg(lk.id) FROM lk), {model_ids})"
            if one
            else "lead_score"
        )
        changes += (
            f" UNION ALL SELECT s.{score_columns.format(p='s.')}, l.status FROM {stored} s "
            f"JOIN {everywhere.relation} l ON l.id = s.lead_id "
            f"WHERE v.replay AND {everywhere.leads(q, 'l')} AND s.model_id = ANY({model_ids})"
        )
        known = "(SELECT row_to_json(k) FROM interaction k WHERE v.replay AND k.id = v.known_id)"
    select = (
        "SELECT v.contact_found, v.lead_found, v.lead_contact_id, v.known_id, "
        "v.known_fingerprint, v.version, v.fresh, v.replay, "
        f"(SELECT row_to_json(i) FROM ins i) AS inserted, {known} AS known, "
        f"(SELECT json_agg(c ORDER BY c.lead_id, c.model_id) FROM ({changes}) c) AS changes, "
        f"(SELECT json_agg(CASE WHEN n.id IS NULL THEN {'l.lead' if one else 'row_to_json(l)'} "
        f"ELSE row_to_json(n) END) FROM {everywhere.relation} l LEFT JOIN lu n ON n.id = l.id "
        "WHERE (v.fresh OR v.replay) "
        f"AND {everywhere.leads(q, 'l')}) AS leads, "
        # As the triggers notify (models/change_triggers.py: PG_NOTIFY)
        f"(SELECT count(*) FROM (SELECT pg_notify('leadgraph_changes', {ws} || ':' || {TX}) "
        f"WHERE {watched(ws)} AND EXISTS (SELECT FROM lg)) n) AS notified FROM v"
    )
    return f"WITH {', '.join(ctes)} {select}", q.params


def change_log(ws: str) -> str:
    """The statement's own change-log rows, as the triggers would write them for its INSERTs and
    UPDATEs (models/change_triggers.py: FUNCTIONS), which skip it (`self_logged` in `chk`). A
    lead_score row the upsert inserted has no previous score; one it updated is logged when its
    score, grade or readiness changed. Every updated lead changed (see `lu`)."""
    score_changed = (
        "CASE WHEN n.previous_score IS NULL THEN n.score <> 0 OR n.sales_ready "
        "ELSE n.score <> n.previous_score OR n.grade IS DISTINCT FROM n.previous_grade "
        "OR n.sales_ready <> n.previous_sales_ready END"
    )
    score_detail = SCORE_DETAIL.format(
        previous="n.previous_score", previous_ready="n.previous_sales_ready"
    )
    rows = [
        f"SELECT {ws}, {TX}, 'interaction', 'CREATED', n.id, NULL::jsonb, now() FROM ins n",
        f"SELECT {ws}, {TX}, 'lead_score', 'UPDATED', n.lead_id, {score_detail}, now() "
        f"FROM up n WHERE {score_changed}",
        f"SELECT {ws}, {TX}, 'lead', 'UPDATED', n.id, NULL, now() FROM lu n",
        f"SELECT {ws}, {TX}, 'lead_event', 'CREATED', n.lead_id, {EVENT_DETAIL}, now() FROM ev n",
    ]
    return f"INSERT INTO change_log ({LOG_COLUMNS}) {' UNION ALL '.join(rows)} RETURNING 1"


def decode(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value
