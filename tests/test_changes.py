"""Delta sync (`changes`) and the change log behind it."""

import asyncio
import base64
import json
import os
import random
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from scoring_helpers import make_model
from tortoise import connections
from tortoise.transactions import in_transaction

from api.events import asyncpg_dsn
from models import Role
from models.changes import Position, current_horizon


def from_global_id(gid: str) -> str:
    return base64.b64decode(gid).decode().split(":")[1]


POSTGRES = os.environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres")
SYNC = """query($since: String, $types: [RecordType!], $first: Int) {
  changes(since: $since, types: $types, first: $first) {
    changes { kind type id at node { id ... on Account { name } ... on Lead { contact { id } } } }
    nextToken hasMore } }"""


async def settle() -> None:
    """Wait until every logged change lies below the horizon (the oldest transaction of the
    test database still running, e.g. one of the session app's background tasks)."""
    if not POSTGRES:
        return
    conn = connections.get("default")
    for _ in range(600):
        horizon = await current_horizon(conn)
        rows = await conn.execute_query_dict(
            "SELECT COALESCE(MAX(txid), 0) AS txid FROM change_log"
        )
        if rows[0]["txid"] < horizon:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("a transaction somewhere in the cluster stayed open for a minute")


async def sync(tenant, since=None, types=None, first=100, role=Role.READ_ONLY) -> dict:
    data = await tenant.gql(SYNC, {"since": since, "types": types, "first": first}, role)
    return data["changes"]


async def sync_all(tenant, since=None, types=None, first=100) -> tuple[list[dict], str]:
    await settle()
    changes = []
    while True:
        page = await sync(tenant, since, types, first)
        changes.extend(page["changes"])
        since = page["nextToken"]
        if not page["hasMore"]:
            return changes, since


async def unsettled_sync_all(tenant, since, types, first) -> tuple[list[dict], str]:
    """A client syncing in a loop: it reads whatever the horizon allows, never waits."""
    changes = []
    while True:
        page = await sync(tenant, since, types, first)
        changes.extend(page["changes"])
        since = page["nextToken"]
        if not page["hasMore"]:
            return changes, since


async def test_creates_updates_deletes_with_tombstones_and_cascades(tenant):
    """Creates, updates and deletes come back in commit order with the current state; a deleted
    record is a tombstone (its ID, no node); deleting a contact reports its leads as updated
    (they lost their contact); the next token returns only what changed after it."""
    contact = await tenant.mutate("createContact", {"lastName": "Ada"}, "contact { id }")
    contact_id = contact["contact"]["id"]
    lead = await tenant.mutate(
        "createLead", {"topic": "Solar", "contactId": contact_id}, "lead { id }"
    )
    lead_id = lead["lead"]["id"]
    account = await tenant.mutate("createAccount", {"name": "Old"}, "account { id }")
    account_id = account["account"]["id"]
    changes, token = await sync_all(tenant)
    assert [(c["kind"], c["type"], c["id"]) for c in changes if c["type"] != "SCORING_MODEL"] == [
        ("CREATED", "CONTACT", contact_id),
        ("CREATED", "LEAD", lead_id),
        ("CREATED", "ACCOUNT", account_id),
    ]

    await tenant.mutate("updateAccount", {"id": account_id, "name": "New"}, "account { id }")
    await tenant.mutate("deleteContact", {"id": contact_id}, "deletedId")
    changes, token = await sync_all(tenant, token)
    by_id = {c["id"]: c for c in changes}
    assert by_id[account_id]["kind"] == "UPDATED" and by_id[account_id]["node"]["name"] == "New"
    assert by_id[contact_id]["kind"] == "DELETED" and by_id[contact_id]["node"] is None
    assert by_id[lead_id]["kind"] == "UPDATED" and by_id[lead_id]["node"]["contact"] is None
    assert len(changes) == len(by_id)  # each record once, with its latest state
    await settle()
    assert (await sync(tenant, token))["changes"] == []


async def test_pages_types_and_token_errors(tenant):
    """`first` pages through with hasMore; `types` filters; a malformed token is
    BAD_USER_INPUT and one older than the retention is SYNC_TOKEN_EXPIRED."""
    for n in range(5):
        await tenant.mutate("createAccount", {"name": f"A{n}"}, "account { id }")
    await tenant.mutate("createContact", {"lastName": "Ada"}, "contact { id }")
    await settle()
    page = await sync(tenant, types=["ACCOUNT"], first=2)
    assert [c["node"]["name"] for c in page["changes"]] == ["A0", "A1"] and page["hasMore"]
    rest, _ = await sync_all(tenant, page["nextToken"], ["ACCOUNT"], 2)
    assert [c["node"]["name"] for c in rest] == ["A2", "A3", "A4"]

    response = await tenant.post(SYNC, {"since": "garbage!"})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    old = Position(0, 0, datetime.now(UTC) - timedelta(days=31)).encode()
    response = await tenant.post(SYNC, {"since": old})
    assert response.json()["errors"][0]["extensions"]["code"] == "SYNC_TOKEN_EXPIRED"
    response = await tenant.post(SYNC, {"first": 0})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_workspaces_are_isolated_and_rollbacks_log_nothing(tenant, make_tenant):
    """A workspace syncs only its own changes; a mutation refused half-way (a batch whose
    second item is invalid) logs nothing."""
    other = await make_tenant("Other")
    await other.mutate("createAccount", {"name": "Theirs"}, "account { id }")
    _, token = await sync_all(tenant)
    contact = await tenant.mutate("createContact", {"lastName": "Ada"}, "contact { id }")
    before = (
        await connections.get("default").execute_query_dict("SELECT COUNT(*) AS n FROM change_log")
    )[0]["n"]
    result = await tenant.gql(
        """mutation($input: RecordInteractionsInput!) { recordInteractions(input: $input) {
        userErrors { field } } }""",
        {
            "input": {
                "interactions": [
                    {"contactId": contact["contact"]["id"], "type": "FORM_SUBMITTED"},
                    {"contactId": "Q29udGFjdDo5OTk5OQ==", "type": "FORM_SUBMITTED"},
                ]
            }
        },
        Role.MARKETING,
    )
    assert result["recordInteractions"]["userErrors"]
    after = (
        await connections.get("default").execute_query_dict("SELECT COUNT(*) AS n FROM change_log")
    )[0]["n"]
    assert after == before
    changes, _ = await sync_all(tenant, token)
    assert [c["type"] for c in changes] == ["CONTACT"]


async def test_a_raised_transaction_logs_nothing(tenant):
    """The log is written in the writer's transaction: a rollback leaves no change rows."""
    _, token = await sync_all(tenant)

    class Abort(Exception):
        pass

    with pytest.raises(Abort):
        async with in_transaction() as conn:
            await conn.execute_query(
                "INSERT INTO account (workspace_id, name, created_at, updated_at) "
                "VALUES (" + ("$1" if POSTGRES else "?") + ", 'ghost', CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP)",
                [tenant.workspace.id],
            )
            raise Abort
    await settle()
    assert (await sync(tenant, token))["changes"] == []


async def test_a_whole_workspace_rescore_logs_every_score_change(tenant):
    """A new scoring model re-scores every lead set-based: each lead whose score moved under it
    gets exactly one score row, carrying the model and the new score."""
    for n in range(30):
        await tenant.mutate("createLead", {"topic": f"T{n}", "email": f"{n}@x.io"}, "lead { id }")
    conn = connections.get("default")
    p = "$1" if POSTGRES else "?"
    start = (await conn.execute_query_dict("SELECT COALESCE(MAX(id), 0) AS id FROM change_log"))[0][
        "id"
    ]
    model = await make_model(
        tenant,
        primary=False,
        rules=[{"interactionType": "UNSUBSCRIBED", "points": 7, "frequency": "NONE"}],
    )
    rows = await conn.execute_query_dict(
        f"SELECT record_id, detail FROM change_log WHERE entity = 'lead_score' AND id > {p}",
        [start],
    )
    details = [
        r["detail"] if isinstance(r["detail"], dict) else json.loads(r["detail"]) for r in rows
    ]
    assert len({r["record_id"] for r in rows}) == len(rows) == 30
    assert {(d["score"], d["model"]) for d in details} == {(7, int(from_global_id(model["id"])))}


@pytest.mark.skipif(not POSTGRES, reason="out-of-order commits need concurrent writers")
async def test_a_transaction_committing_late_is_not_skipped(settings, tenant):
    """T1 starts (and writes) before T2 but commits after it: a sync between the two commits
    does not move past T1's rows, and the next sync returns them."""
    dsn = settings.database_url.replace("postgres://", "postgresql://", 1)
    first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    insert = (
        "INSERT INTO account (workspace_id, name, created_at, updated_at) "
        "VALUES ($1, $2, now(), now())"
    )
    try:
        _, token = await sync_all(tenant)
        t1 = first.transaction()
        await t1.start()
        await first.execute(insert, tenant.workspace.id, "early")
        async with second.transaction():
            await second.execute(insert, tenant.workspace.id, "late")
        page = await sync(tenant, token)
        assert page["changes"] == []  # "late" committed, but "early" may still commit below it
        await t1.commit()
        changes, _ = await sync_all(tenant, page["nextToken"])
        assert sorted(c["node"]["name"] for c in changes) == ["early", "late"]
    finally:
        await first.close()
        await second.close()


@pytest.mark.skipif(not POSTGRES, reason="concurrent writers need PostgreSQL")
async def test_replica_converges_under_concurrent_writers(settings, tenant):
    """Writers create, rename and delete accounts in overlapping transactions (random sleeps
    inside them) while a client syncs in a loop; the client's replica ends equal to the
    server's accounts."""
    dsn = settings.database_url.replace("postgres://", "postgresql://", 1)
    ws = tenant.workspace.id
    stop = asyncio.Event()

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        conn = await asyncpg.connect(dsn)
        try:
            for step in range(25):
                async with conn.transaction():
                    ids = sorted(  # lock in id order: no deadlocks between writers
                        await conn.fetch(
                            "SELECT id FROM account WHERE workspace_id = $1 "
                            "ORDER BY random() LIMIT 2",
                            ws,
                        ),
                        key=lambda r: r["id"],
                    )
                    await conn.execute(
                        "INSERT INTO account (workspace_id, name, created_at, updated_at) "
                        "VALUES ($1, $2, now(), now())",
                        ws,
                        f"w{seed}-{step}",
                    )
                    await asyncio.sleep(rng.random() * 0.02)
                    if ids and rng.random() < 0.5:
                        await conn.execute(
                            "UPDATE account SET name = $2, updated_at = now() WHERE id = $1",
                            ids[0]["id"],
                            f"renamed{seed}-{step}",
                        )
                    if len(ids) > 1 and rng.random() < 0.3:
                        await conn.execute("DELETE FROM account WHERE id = $1", ids[1]["id"])
                    await asyncio.sleep(rng.random() * 0.02)
        finally:
            await conn.close()

    replica: dict[str, str] = {}

    async def apply(changes: list[dict]) -> None:
        for change in changes:
            if change["kind"] == "DELETED":
                replica.pop(change["id"], None)
            else:
                replica[change["id"]] = change["node"]["name"]

    async def client() -> str:
        token = None
        while not stop.is_set():
            changes, token = await unsettled_sync_all(tenant, token, ["ACCOUNT"], 20)
            await apply(changes)
            await asyncio.sleep(0.01)
        return token

    syncing = asyncio.create_task(client())
    await asyncio.gather(*(writer(seed) for seed in range(4)))
    stop.set()
    token = await syncing
    changes, _ = await sync_all(tenant, token, ["ACCOUNT"], 20)
    await apply(changes)
    server = await tenant.gql("{ accounts(first: 100) { edges { node { id name } } } }")
    expected = {e["node"]["id"]: e["node"]["name"] for e in server["accounts"]["edges"]}
    assert replica == expected and len(expected) > 0


async def test_every_change_log_trigger_exists_after_the_migrations(app):
    """After the whole migration chain, every trigger of the change log is installed (a later
    migration that rebuilds a table on SQLite would drop its triggers: this test says which;
    `leadgraph migrate` re-installs them through models/change_triggers.install)."""
    from models import change_triggers

    assert await change_triggers.missing(connections.get("default")) == []


async def test_rows_older_than_the_retention_are_pruned(tenant):
    """prune() (run by the dispatcher every hour) deletes change rows older than the retention
    and keeps the rest."""
    from models.changes import ChangeLog, prune

    await tenant.mutate("createAccount", {"name": "Kept"}, "account { id }")
    old = datetime.now(UTC) - timedelta(days=40)
    await ChangeLog.create(
        workspace_id=tenant.workspace.id, entity="account", kind="UPDATED", record_id=1, at=old
    )
    conn = connections.get("default")
    await prune(conn, timedelta(days=30), datetime.now(UTC))
    rows = await conn.execute_query_dict("SELECT at FROM change_log")
    assert rows and all(
        (r["at"] if isinstance(r["at"], datetime) else datetime.fromisoformat(r["at"])) > old
        for r in rows
    )


@pytest.mark.skipif(not POSTGRES, reason="PL/pgSQL triggers are PostgreSQL's")
async def test_a_bulk_update_after_a_one_row_update_joins_its_transition_tables_by_hash(
    settings, tenant
):
    """The update triggers' join of old and new rows is planned once per session, with the
    sizes of its first call. After a one-row update (as every recordInteraction makes) it must
    not be a nested loop: a later whole-workspace re-score on that pooled connection compared
    every pair of its 150,109 rows until the statement timeout cancelled it. auto_explain shows
    the plan the trigger's statement ran with."""
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    plans: list[str] = []
    conn.add_log_listener(lambda _conn, message: plans.append(message.message))
    try:
        try:
            await conn.execute("LOAD 'auto_explain'")
        except asyncpg.PostgresError:
            pytest.skip("auto_explain is not available to this role")
        ws = tenant.workspace.id
        await conn.execute(
            "INSERT INTO lead (workspace_id, topic, status, sales_ready, score, created_at, "
            "updated_at) SELECT $1, 'Bulk ' || n, 'NEW', FALSE, 0, now(), now() "
            "FROM generate_series(1, 400) n",
            ws,
        )
        await conn.execute(
            "SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;"
            "SET auto_explain.log_level = 'notice'; SET client_min_messages = 'notice'"
        )
        first = await conn.fetchval("SELECT min(id) FROM lead WHERE workspace_id = $1", ws)
        await conn.execute("UPDATE lead SET source = 'one' WHERE id = $1", first)
        plans.clear()
        await conn.execute("UPDATE lead SET source = 'all' WHERE workspace_id = $1", ws)
        logged = [p for p in plans if "change_log" in p and "old_rows" in p]
        assert logged, plans
        assert all("Nested Loop" not in p for p in logged), logged
        assert any("Hash Join" in p or "Merge Join" in p for p in logged), logged
        count = await conn.fetchval(
            "SELECT count(*) FROM change_log WHERE workspace_id = $1 AND entity = 'lead' "
            "AND kind = 'UPDATED'",
            ws,
        )
        assert count == 401  # the one row, then all 400
    finally:
        await conn.close()


@pytest.mark.skipif(not POSTGRES, reason="statement-level triggers and their WHEN are PostgreSQL's")
async def test_triggers_skip_only_the_statement_that_logs_itself(tenant):
    """A statement that marks itself as writing its own change log (as recordInteraction's
    does: models/change_triggers.py, MARK_SELF_LOGGED) gets no rows from the triggers; the next
    statement of the same transaction is logged by them as usual."""
    from models.change_triggers import MARK_SELF_LOGGED

    created = await tenant.mutate("createContact", {"lastName": "A"}, "contact { id }")
    contact_id = int(from_global_id(created["contact"]["id"]))
    conn = connections.get("default")
    start = (await conn.execute_query_dict("SELECT COALESCE(MAX(id), 0) AS id FROM change_log"))[0][
        "id"
    ]
    async with in_transaction() as tx:
        await tx.execute_query(
            f"WITH m AS (SELECT {MARK_SELF_LOGGED}) UPDATE contact SET last_name = 'B' FROM m "
            f"WHERE contact.id = {contact_id}"
        )
        await tx.execute_query(f"UPDATE contact SET last_name = 'C' WHERE id = {contact_id}")
    rows = await conn.execute_query_dict(
        "SELECT kind FROM change_log WHERE entity = 'contact' "
        f"AND record_id = {contact_id} AND id > {int(start)}"
    )
    assert [r["kind"] for r in rows] == ["UPDATED"]
