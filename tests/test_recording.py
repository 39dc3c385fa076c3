"""recordInteraction's PostgreSQL path (resolvers/recording.py): one statement when the models
only count interactions and three round trips otherwise, counting what the lock holder committed,
the same answers as the general path, cached scoring models that follow every change, and idempotency
keys that hold when no lead lock serialises the racing requests."""

import asyncio
import json
import os
from datetime import UTC, datetime

import pytest
from scoring_helpers import (
    blocked_session,
    contact_with_leads,
    holding_leads_of,
    lead_state,
    make_model,
    only_model,
)
from strawberry import relay
from tortoise import connections

from models import Interaction, Role, recording
from models.sql import parse_datetime

POSTGRES = os.environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres")
postgres_only = pytest.mark.skipif(
    not POSTGRES,
    reason="the three-round-trip path is PostgreSQL's (SQLite keeps the general one)",
)

RECORD = """mutation($i: RecordInteractionInput!) { recordInteraction(input: $i) {
  interaction { id type occurredAt metadata }
  scoreChanges { lead { id score grade salesReady status } model { name } previousScore score
    grade salesReady becameSalesReady }
  userErrors { field code message } } }"""
BULK = """mutation($i: RecordInteractionsInput!) { recordInteractions(input: $i) {
  interactions { id type occurredAt metadata }
  scoreChanges { lead { id score grade salesReady status } model { name } previousScore score
    grade salesReady becameSalesReady }
  userErrors { field code message } } }"""


async def record(tenant, **item):
    data = await tenant.gql(RECORD, {"i": item}, Role.MARKETING)
    return data["recordInteraction"]


async def round_trips(tenant, counter, item: dict) -> tuple[dict, int]:
    """The recordInteraction's answer, and the messages it sent PostgreSQL beyond what any
    request costs (key lookup, rate limit: measured on `{ __typename }` just before) and the
    pool's reset on release."""
    counter.clear()
    await tenant.gql("{ __typename }", role=Role.MARKETING)
    baseline = counter.count - counter.resets()
    counter.clear()
    result = await record(tenant, **item)
    return result, counter.count - counter.resets() - baseline


@postgres_only
async def test_three_round_trips_whatever_the_models(tenant, count_round_trips):
    """Beyond what any request costs (key lookup, rate limit: measured on `{ __typename }`) and
    the pool's reset on release, a recordInteraction that re-scores two leads under two models,
    one with entry criteria and an attribute rule, sends PostgreSQL three messages: BEGIN with
    the lock, the write statement, COMMIT."""
    await make_model(
        tenant,
        name="Second",
        primary=False,
        rules=[
            {"interactionType": "EMAIL_OPENED", "points": 2, "halfLifeDays": 30},
            {"leadMatches": {"topic": {"eq": "Solar"}}, "points": 5},
        ],
    )
    contact_id, _ = await contact_with_leads(tenant)
    await record(tenant, contactId=contact_id, type="EMAIL_OPENED")  # statements prepared
    item = {"contactId": contact_id, "type": "EMAIL_OPENED", "idempotencyKey": "k"}
    result, trips = await round_trips(tenant, count_round_trips, item)
    assert len(result["scoreChanges"]) == 4  # two leads, two active models
    assert trips <= 3
    _, trips = await round_trips(tenant, count_round_trips, item)  # a replay
    assert trips <= 3


@postgres_only
async def test_one_round_trip_when_the_models_only_count_interactions(tenant, count_round_trips):
    """With models whose rules only count interactions (capped, decayed, narrowed by metadata),
    a recordInteraction that re-scores two leads under two models sends PostgreSQL one message
    beyond what any request costs: the write statement, committed by the server as it ends. A
    replay of its idempotency key too."""
    await make_model(
        tenant,
        name="Second",
        primary=False,
        rules=[
            {"interactionType": "EMAIL_OPENED", "points": 2, "halfLifeDays": 30},
            {"interactionType": "EMAIL_OPENED", "points": 3, "metadataContains": {"c": 1}},
        ],
    )
    contact_id, _ = await contact_with_leads(tenant)
    await record(tenant, contactId=contact_id, type="EMAIL_OPENED")  # statements prepared
    item = {
        "contactId": contact_id,
        "type": "EMAIL_OPENED",
        "metadata": {"c": 1},
        "idempotencyKey": "k",
    }
    result, trips = await round_trips(tenant, count_round_trips, item)
    assert len(result["scoreChanges"]) == 4  # two leads, two active models
    second = [c["score"] for c in result["scoreChanges"] if c["model"]["name"] == "Second"]
    assert second == [2 + 3 + 2, 2 + 3 + 2]  # decayed (a few seconds old) and metadata matched
    assert trips <= 1
    replay, trips = await round_trips(tenant, count_round_trips, item)
    assert replay["interaction"]["id"] == result["interaction"]["id"]
    assert trips <= 1


@postgres_only
async def test_counts_what_the_lock_holder_committed_while_it_waited(tenant, settings):
    """The one statement starts while another transaction holds the contact's lead lock; that
    transaction records an interaction and commits. The score counts it as well as the
    statement's own: the statement counts with a snapshot taken after the lock (through
    leadgraph_lock_and_read), not with the one it started with."""
    await only_model(
        tenant, threshold=10_000, rules=[{"interactionType": "EMAIL_OPENED", "points": 1}]
    )
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    await record(tenant, contactId=contact_id, type="EMAIL_OPENED")
    async with holding_leads_of(settings, tenant, contact_id) as holder:
        waiting = asyncio.create_task(record(tenant, contactId=contact_id, type="EMAIL_OPENED"))
        await blocked_session(holder)
        await holder.execute(
            "INSERT INTO interaction (workspace_id, type, occurred_at, contact_id, created_at) "
            "SELECT workspace_id, 'EMAIL_OPENED', now(), id, now() FROM contact WHERE id = $1",
            int(relay.GlobalID.from_id(contact_id).node_id),
        )
        await holder.execute("COMMIT")
        result = await asyncio.wait_for(waiting, 30)
    assert [(c["previousScore"], c["score"]) for c in result["scoreChanges"]] == [(1, 3)]
    assert (await lead_state(tenant, lead))["score"] == 3


@postgres_only
async def test_a_replay_that_waited_answers_with_the_scores_stored_after_the_wait(tenant, settings):
    """A replay of an idempotency key starts while another transaction holds the contact's lead
    lock; that transaction re-scores the lead (one more interaction, score 1 -> 2) and commits.
    The replay's answer reports the stored score as it is after the wait, the same one its lead
    shows: it reads the scores with a snapshot taken after the lock, not with the one the
    statement started with (which still held score 1)."""
    await only_model(
        tenant, threshold=10_000, rules=[{"interactionType": "EMAIL_OPENED", "points": 1}]
    )
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    item = {"contactId": contact_id, "type": "EMAIL_OPENED", "idempotencyKey": "late"}
    first = await record(tenant, **item)
    assert [(c["previousScore"], c["score"]) for c in first["scoreChanges"]] == [(0, 1)]
    lead_id = int(relay.GlobalID.from_id(lead).node_id)
    async with holding_leads_of(settings, tenant, contact_id) as holder:
        waiting = asyncio.create_task(record(tenant, **item))
        await blocked_session(holder)
        await holder.execute(
            "INSERT INTO interaction (workspace_id, type, occurred_at, contact_id, created_at) "
            "SELECT workspace_id, 'EMAIL_OPENED', now(), id, now() FROM contact WHERE id = $1",
            int(relay.GlobalID.from_id(contact_id).node_id),
        )
        await holder.execute(
            "UPDATE lead_score SET previous_score = score, score = 2 WHERE lead_id = $1", lead_id
        )
        await holder.execute("UPDATE lead SET score = 2 WHERE id = $1", lead_id)
        await holder.execute("COMMIT")
        replay = await asyncio.wait_for(waiting, 30)
    assert replay["interaction"]["id"] == first["interaction"]["id"]
    assert [
        (c["previousScore"], c["score"], c["lead"]["score"]) for c in replay["scoreChanges"]
    ] == [(2, 2, 2)]


async def test_same_answers_as_the_general_path(make_tenant):
    """The same sequence sent as recordInteraction and as one-item recordInteractions (the
    general multi-statement path) to two identical workspaces gives the same answers, stored
    states and change log (per transaction; on PostgreSQL recordInteraction's statement writes
    its own, the general path's are the triggers'), ids aside: promotions, grades, decay, entry
    criteria, replays, errors."""
    answers = []
    for mutation in (RECORD, BULK):
        tenant = await make_tenant("Same")
        await only_model(
            tenant,
            threshold=12,
            rules=[
                {"interactionType": "EMAIL_OPENED", "points": 4, "maxPoints": 8},
                {"interactionType": "FORM_SUBMITTED", "points": 10, "halfLifeDays": 10},
            ],
        )
        await make_model(
            tenant,
            name="Solar only",
            primary=False,
            threshold=3,
            rules=[{"interactionType": "EMAIL_OPENED", "points": 1}],
        )
        models = await tenant.gql("{ scoringModels { id name } }")
        solar_model = next(m for m in models["scoringModels"] if m["name"] == "Solar only")
        await tenant.mutate(
            "updateScoringModel",
            {"id": solar_model["id"], "appliesTo": {"topic": {"eq": "Solar"}}},
            "scoringModel { id }",
        )
        contact_id, (solar, wind) = await contact_with_leads(tenant)
        items = [
            {"contactId": contact_id, "type": "EMAIL_OPENED", "metadata": {"b": 1, "a": [2]}},
            {"leadId": wind, "type": "FORM_SUBMITTED", "occurredAt": "2024-01-01T10:00:00+02:00"},
            {"contactId": contact_id, "type": "EMAIL_OPENED", "idempotencyKey": "same"},
            {"contactId": contact_id, "type": "EMAIL_OPENED", "idempotencyKey": "same"},
            {"contactId": contact_id, "type": "MEETING", "idempotencyKey": "same"},
            {"contactId": contact_id, "leadId": solar, "type": "FORM_SUBMITTED"},
            {"contactId": contact_id, "leadId": "TGVhZDo5OTk5OTk=", "type": "EMAIL_OPENED"},
        ]
        seen = []
        start = await last_change()
        for item in items:
            variables = {"i": item if mutation is RECORD else {"interactions": [item]}}
            data = await tenant.gql(mutation, variables, Role.MARKETING)
            payload = data["recordInteraction" if mutation is RECORD else "recordInteractions"]
            one = payload.get("interaction") if mutation is RECORD else None
            if mutation is BULK and payload["interactions"]:
                one = payload["interactions"][0]
            if one:  # ids differ, and so does a defaulted occurredAt
                hidden = {"id"} | ({"occurredAt"} if "occurredAt" not in item else set())
                one = {k: v for k, v in one.items() if k not in hidden}
            errors = [{**e, "field": e["field"][-1:]} for e in payload["userErrors"]]
            changes = [
                {**c, "lead": {k: v for k, v in c["lead"].items() if k != "id"}}
                for c in payload["scoreChanges"]
            ]
            seen.append((one, changes, errors))
        seen.append([await lead_state(tenant, lead) for lead in (solar, wind)])
        leads = {int(relay.GlobalID.from_id(solar).node_id): "solar"}
        leads[int(relay.GlobalID.from_id(wind).node_id)] = "wind"
        names = {
            int(relay.GlobalID.from_id(m["id"]).node_id): m["name"] for m in models["scoringModels"]
        }
        logged = await changes_since(tenant, start, leads, names)
        if mutation is RECORD and POSTGRES:  # each change once: the statement's log, not also
            # the triggers' (SQLite logs every transaction as txid 0, and by triggers alone)
            assert all(len(set(t)) == len(t) for t in logged), logged
        # The general path updates a promoted lead twice, in two statements: logged twice.
        seen.append([sorted(set(t)) for t in logged])
        answers.append(seen)
    assert answers[0][-1], "the sequence logged changes"
    assert answers[0] == answers[1]


async def last_change() -> int:
    """The newest change-log row's id (0 when there is none)."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT COALESCE(MAX(id), 0) AS id FROM change_log"
    )
    return rows[0]["id"]


async def changes_since(tenant, start: int, leads: dict, models: dict) -> list:
    """The workspace's change log after `start`, per transaction in commit order, each as a
    sorted list with lead and model ids named, interactions numbered in order of appearance, and
    a status event's own id and time left out."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT txid, entity, kind, record_id, detail FROM change_log "
        f"WHERE workspace_id = {int(tenant.workspace.id)} AND id > {int(start)} ORDER BY id"
    )
    interactions: dict = {}
    transactions: dict = {}
    for row in rows:
        detail = row["detail"]
        detail = json.loads(detail) if isinstance(detail, str) else detail
        if row["entity"] == "interaction":
            record = interactions.setdefault(row["record_id"], f"i{len(interactions)}")
        else:
            record = leads[row["record_id"]]
        if detail and "model" in detail:
            detail = {**detail, "model": models[detail["model"]]}
        if detail and "event" in detail:
            detail = {k: v for k, v in detail.items() if k not in ("event", "at")}
        entry = (row["entity"], row["kind"], record, json.dumps(detail, sort_keys=True))
        transactions.setdefault(row["txid"], []).append(entry)
    return [sorted(entries) for entries in transactions.values()]


@postgres_only
async def test_each_rules_expressions_are_planned_once(tenant):
    """The write statement's plan holds each rule's count and contribution once: without the
    OFFSET 0 fences in models/rescoring.py, PostgreSQL pulled the subqueries up and copied the
    contributions into the total and the total into every grade branch and the threshold test
    (103 CASE expressions for the default model's twelve rules instead of 31), all set up again
    on every execution of the cached plan."""
    types = ["EMAIL_OPENED", "EMAIL_CLICKED", "FORM_SUBMITTED", "PAGE_VISITED", "MEETING"]
    rules = [{"interactionType": t, "points": 2, "maxPoints": 6} for t in types]
    grades = [{"label": g, "minScore": m} for g, m in (("A", 20), ("B", 10), ("C", 5))]
    await only_model(tenant, rules=rules, grades=grades)
    contact_id, _ = await contact_with_leads(tenant)
    item = recording.Item(
        workspace_id=tenant.workspace.id,
        contact_id=int(relay.from_base64(contact_id)[1]),
        lead_id=None,
        type="EMAIL_OPENED",
        occurred_at=datetime.now(UTC),
        metadata=None,
        key=None,
        fingerprint=None,
    )
    async with connections.get("default").acquire_connection() as con:
        active = await recording.load_models(con, tenant.workspace.id)
        assert active.in_one_statement
        sql, params = recording.write_statement(item, active, "test", datetime.now(UTC))
        plan = "\n".join(
            row[0] for row in await con.fetch(f"EXPLAIN (VERBOSE, COSTS OFF) {sql}", *params)
        )
    # per rule: its count and its capped contribution; then the grade, the threshold test and
    # the statement's own status and replay branches (about ten)
    assert plan.count("CASE") <= 2 * len(rules) + 12, plan


async def test_model_changes_reach_the_next_write(tenant):
    """Scoring models are cached per workspace: a rule change, a new model and a deactivation
    each show in the very next recordInteraction."""
    model = await only_model(tenant, rules=[{"interactionType": "EMAIL_OPENED", "points": 1}])
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    assert (await record(tenant, contactId=contact_id, type="EMAIL_OPENED"))["scoreChanges"][0][
        "score"
    ] == 1
    await tenant.mutate(
        "updateScoringModel",
        {"id": model["id"], "rules": [{"interactionType": "EMAIL_OPENED", "points": 7}]},
        "scoringModel { id }",
    )
    second = await record(tenant, contactId=contact_id, type="EMAIL_OPENED")
    assert [c["score"] for c in second["scoreChanges"]] == [14]
    extra = await make_model(
        tenant,
        name="Extra",
        primary=False,
        rules=[{"interactionType": "EMAIL_OPENED", "points": 2}],
    )
    third = await record(tenant, contactId=contact_id, type="EMAIL_OPENED")
    assert sorted(c["model"]["name"] for c in third["scoreChanges"]) == ["Extra", "Test"]
    await tenant.mutate(
        "updateScoringModel", {"id": extra["id"], "active": False}, "scoringModel { id }"
    )
    fourth = await record(tenant, contactId=contact_id, type="EMAIL_OPENED")
    assert [(c["model"]["name"], c["score"]) for c in fourth["scoreChanges"]] == [("Test", 28)]
    assert (await lead_state(tenant, lead))["score"] == 28


@postgres_only
async def test_racing_keys_without_leads_record_once(tenant):
    """Retries of one key on a contact without leads (no lead lock orders them) store one
    interaction and all answer with it; the same key racing for another contact is a CONFLICT,
    never a second row or an error."""
    contact = await tenant.mutate("createContact", {"lastName": "Lone"}, "contact { id }")
    other = await tenant.mutate("createContact", {"lastName": "Other"}, "contact { id }")
    same = {"contactId": contact["contact"]["id"], "type": "EMAIL_OPENED", "idempotencyKey": "r"}
    clash = {"contactId": other["contact"]["id"], "type": "EMAIL_OPENED", "idempotencyKey": "r"}
    results = await asyncio.gather(*(record(tenant, **same) for _ in range(12)))
    ids = {r["interaction"]["id"] for r in results}
    assert len(ids) == 1 and all(r["userErrors"] == [] for r in results)
    clashes = await asyncio.gather(*(record(tenant, **clash) for _ in range(6)))
    assert all(r["userErrors"][0]["code"] == "CONFLICT" for r in clashes)
    assert await Interaction.filter(workspace_id=tenant.workspace.id).count() == 1


async def test_changes_report_becoming_sales_ready_once(tenant):
    """The promotion is written with its event and reported once: the answer's lead already
    carries SALES_READY and the history holds one event with the key's name."""
    await only_model(tenant, threshold=10, rules=[{"interactionType": "MEETING", "points": 10}])
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    first = await record(tenant, contactId=contact_id, type="MEETING")
    (change,) = first["scoreChanges"]
    assert change["becameSalesReady"] and change["lead"]["status"] == "SALES_READY"
    again = await record(tenant, contactId=contact_id, type="MEETING")
    assert not again["scoreChanges"][0]["becameSalesReady"]
    history = (await lead_state(tenant, lead))["history"]
    assert [(h["toStatus"], h["apiKeyName"]) for h in history] == [("SALES_READY", "MARKETING")]


def test_timestamps_read_back_as_json_are_given_in_utc():
    """The one statement sets no time zone, so the JSON it reads back carries timestamps in the
    session's zone; they reach the payload in UTC, as asyncpg gives timestamps (the same
    instant, the same text as the pipeline's answer)."""
    parsed = parse_datetime("2024-05-01T12:00:00.5+02:00")
    assert parsed == datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert parsed.isoformat() == "2024-05-01T10:00:00.500000+00:00"
    assert parse_datetime("2024-05-01 10:00:00").tzinfo is None  # SQLite's naive text as it is
