"""The PostgreSQL pool's reset on release (models/pool.py): no reset round trip after a compiled
read or a committed recordInteraction (and nothing of theirs left in the session), the full
reset after anything else, and no lock left behind by a request cancelled while
its statement waited (the hazard that made a cheaper reset hang CI once)."""

import asyncio
import contextlib
import os

import asyncpg
import pytest
from conftest import TABLES
from scoring_helpers import contact_with_leads, make_model
from tortoise import connections

from models import Role

pytestmark = pytest.mark.skipif(
    not os.environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="the pool and its reset are asyncpg's (PostgreSQL)",
)

READ = "{ contacts(first: 5) { edges { node { lastName account { name } } } } }"
RECORD = """mutation($i: RecordInteractionInput!) { recordInteraction(input: $i) {
  interaction { id } userErrors { code } } }"""
CREATE_ACCOUNT = """mutation($i: CreateAccountInput!) { createAccount(input: $i) {
  account { id } userErrors { code } } }"""


@contextlib.contextmanager
def statements_sent():
    """The statements the app's pooled connections send while the block runs, one list per
    connection in the order sent."""
    sent: dict[int, list[str]] = {}
    holders = [h for h in connections.get("default")._pool._holders if h._con is not None]
    for number, holder in enumerate(holders):
        holder._con.add_query_logger(
            lambda record, number=number: sent.setdefault(number, []).append(record.query)
        )
    try:
        yield sent
    finally:
        for holder in holders:
            if holder._con is not None:
                holder._con._query_loggers.clear()


def followers(sent: dict[int, list[str]], marker: str) -> list[str | None]:
    """What each connection sent right after each statement containing `marker`."""
    return [
        queries[i + 1] if i + 1 < len(queries) else None
        for queries in sent.values()
        for i, query in enumerate(queries)
        if marker in query
    ]


async def connect(settings) -> asyncpg.Connection:
    return await asyncpg.connect(settings.database_url.replace("postgres://", "postgresql://", 1))


async def wait_for_blocked(watcher: asyncpg.Connection) -> int:
    """The pid of the session waiting for a lock, once one does (at most 10 s). Its query text
    may still be the previous statement's: a prepared statement waits at Bind, before
    PostgreSQL reports the new text."""
    for _ in range(200):
        pid = await watcher.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        if pid is not None:
            return pid
        await asyncio.sleep(0.05)
    raise AssertionError("the request's statement never waited for the lock")


def pooled_pids() -> set[int]:
    """The server pids of the app's pooled connections."""
    holders = connections.get("default")._pool._holders
    return {h._con.get_server_pid() for h in holders if h._con is not None}


async def cancel(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def assert_every_table_lockable(settings) -> None:
    """What the tests' TRUNCATE needs: ACCESS EXCLUSIVE on every table, within 3 s; and no
    session left idle inside a transaction."""
    other = await connect(settings)
    try:
        await asyncio.sleep(0.2)  # let the cancelled request's release finish
        async with other.transaction():
            await other.execute("SET LOCAL lock_timeout = '3s'")
            await other.execute(f"LOCK TABLE {', '.join(TABLES)} IN ACCESS EXCLUSIVE MODE")
        busy = await other.fetch(
            "SELECT state, query FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%'"
        )
        assert busy == [], busy
    finally:
        await other.close()


async def test_a_compiled_read_is_released_without_the_reset_round_trip(tenant):
    """A compiled read sends its one statement and nothing else: no `RESET ALL`/`UNLISTEN *`
    when its connection goes back to the pool."""
    await tenant.gql(READ, role=Role.READ_ONLY)
    with statements_sent() as sent:
        await tenant.gql(READ, role=Role.READ_ONLY)
    after_read = followers(sent, "AS data")
    assert after_read == [None], sent


async def test_anything_else_gets_the_full_reset(tenant):
    """Another mutation's connection (a transaction, ORM statements) gets asyncpg's full reset
    when it goes back to the pool."""
    with statements_sent() as sent:
        await tenant.gql(CREATE_ACCOUNT, {"i": {"name": "Initech"}})
    after_commit = followers(sent, "COMMIT")
    assert after_commit and all("RESET ALL" in (q or "") for q in after_commit), sent


# recordInteraction's two shapes (models/recording.py) and the statement its commit follows.
SHAPES = {
    "one statement": "leadgraph_lock_and_read",  # the models only count interactions
    "three round trips": "COMMIT",  # a model with an attribute rule
}


async def recording_shape(tenant, shape: str) -> str:
    if shape == "three round trips":
        await make_model(
            tenant,
            name="Attr",
            primary=False,
            rules=[{"leadMatches": {"topic": {"eq": "Solar"}}, "points": 1}],
        )
    return SHAPES[shape]


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_committed_recording_is_released_without_the_reset_round_trip(tenant, shape):
    """recordInteraction's connection goes back to the pool right after its write commits (the
    one statement, or the COMMIT after BEGIN and the statement), with no reset statement; what
    it set (SET LOCAL TimeZone) and the advisory locks it took are gone with the transaction:
    no advisory lock is held, no session is left in a transaction, and the pooled connections
    still have the server's time zone."""
    marker = await recording_shape(tenant, shape)
    contact_id, _ = await contact_with_leads(tenant, topics=["Solar", "Wind"])
    await tenant.gql(RECORD, {"i": {"contactId": contact_id, "type": "EMAIL_OPENED"}})
    with statements_sent() as sent:
        for _ in range(3):
            await tenant.gql(RECORD, {"i": {"contactId": contact_id, "type": "EMAIL_OPENED"}})
    after_commit = followers(sent, marker)
    assert len(after_commit) == 3 and not any("RESET ALL" in (q or "") for q in after_commit), sent
    pool = connections.get("default")._pool
    async with pool.acquire() as pooled:
        zone = await pooled.fetchval("SHOW TimeZone")
        default = await pooled.fetchval("SELECT reset_val FROM pg_settings WHERE name = 'TimeZone'")
        held = await pooled.fetchval(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND a.datname = current_database()"
        )
        idle_in_transaction = await pooled.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%'"
        )
    assert (zone, held, idle_in_transaction) == (default, 0, 0)


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_refused_recording_is_still_released_clean(tenant, shape):
    """A recording refused after its statement ran (the lead is not the contact's: nothing
    written, the transaction committed empty) is released without the reset too, and the next
    request on the pool sees no transaction left open."""
    marker = await recording_shape(tenant, shape)
    contact_id, _ = await contact_with_leads(tenant, topics=["Solar"])
    _, (other_lead,) = await contact_with_leads(tenant, topics=["Wind"])
    variables = {"i": {"contactId": contact_id, "leadId": other_lead, "type": "EMAIL_OPENED"}}
    with statements_sent() as sent:
        data = await tenant.gql(RECORD, variables)
    assert data["recordInteraction"]["userErrors"] == [{"code": "INVALID"}]
    after_commit = followers(sent, marker)
    assert len(after_commit) == 1 and "RESET ALL" not in (after_commit[0] or ""), sent
    await assert_every_table_lockable_now()


async def assert_every_table_lockable_now() -> None:
    pool = connections.get("default")._pool
    async with pool.acquire() as pooled:
        assert not pooled.is_in_transaction()
        busy = await pooled.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%'"
        )
    assert busy == 0


async def test_a_read_cancelled_while_waiting_for_a_lock_leaves_nothing_held(tenant, settings):
    """A compiled read blocked behind another session's lock is cancelled (as when the client
    goes away): once that lock is gone, every table can be locked exclusively at once, and the
    pool answers the next read."""
    await contact_with_leads(tenant, topics=["Solar"])
    await tenant.gql(READ, role=Role.READ_ONLY)
    blocker, watcher = await connect(settings), await connect(settings)
    try:
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE contact IN ACCESS EXCLUSIVE MODE")
            request = asyncio.create_task(tenant.post(READ, role=Role.READ_ONLY))
            assert await wait_for_blocked(watcher) in pooled_pids()  # the read's session
            await cancel(request)
        await assert_every_table_lockable(settings)
    finally:
        await blocker.close()
        await watcher.close()
    data = await tenant.gql(READ, role=Role.READ_ONLY)
    assert data["contacts"]["edges"][0]["node"]["lastName"] == "Doe"


async def test_a_write_cancelled_inside_its_transaction_leaves_nothing_held(tenant, settings):
    """recordInteraction blocked on a lead row another session holds FOR UPDATE is cancelled
    inside its transaction: its locks go with it (every table lockable within 3 s)."""
    contact_id, _ = await contact_with_leads(tenant, topics=["Solar"])
    blocker, watcher = await connect(settings), await connect(settings)
    try:
        async with blocker.transaction():
            await blocker.execute("SELECT id FROM lead FOR UPDATE")
            request = asyncio.create_task(
                tenant.post(RECORD, {"i": {"contactId": contact_id, "type": "EMAIL_OPENED"}})
            )
            await wait_for_blocked(watcher)
            await cancel(request)
        await assert_every_table_lockable(settings)
    finally:
        await blocker.close()
        await watcher.close()
    data = await tenant.gql(READ, role=Role.READ_ONLY)
    assert data["contacts"]["edges"][0]["node"]["lastName"] == "Doe"
