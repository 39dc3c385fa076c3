"""Subscriptions with a real WebSocket client against real uvicorn processes on loopback."""

import asyncio
import base64
import json
import os
import shutil
import time
from pathlib import Path

import asyncpg
import pytest
import websockets
from live import live_server, subscription
from strawberry.types import ExecutionResult

from api.events import Broker, PostgresListener, SubscriberOverflow, asyncpg_dsn
from api.shared_streams import SharedStreams
from models import Role
from models.changes import NOTIFY_CHANNEL, Change

POSTGRES = os.environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres")
SCORES = """subscription($lead: ID) { scoreChanged(leadId: $lead) {
  score previousScore salesReady becameSalesReady model { name } lead { id score } } }"""
RECORD = """mutation($input: RecordInteractionInput!) { recordInteraction(input: $input) {
  userErrors { message } } }"""


async def contact_and_lead(server, key: str) -> tuple[str, str]:
    contact = await server.gql(
        key, 'mutation { createContact(input: {lastName: "Ada"}) { contact { id } } }'
    )
    contact_id = contact["createContact"]["contact"]["id"]
    lead = await server.gql(
        key,
        'mutation($c: ID!) { createLead(input: {topic: "Solar", contactId: $c}) { lead { id } } }',
        {"c": contact_id},
    )
    return contact_id, lead["createLead"]["lead"]["id"]


async def test_subscriber_gets_the_new_score_and_a_foreign_workspace_gets_nothing(
    settings, make_tenant
):
    """A real graphql-transport-ws client subscribed to scoreChanged receives the score that a
    recordInteraction over HTTP produced within a second; another workspace's subscriber
    receives nothing."""
    acme, other = await make_tenant("Acme"), await make_tenant("Other")
    async with live_server(settings.database_url) as server:
        key = acme.keys[Role.ADMIN]
        _, lead = await contact_and_lead(server, key)
        async with (
            subscription(server, key, SCORES, {"lead": lead}) as mine,
            subscription(server, other.keys[Role.READ_ONLY], SCORES) as foreign,
        ):
            await asyncio.sleep(0.5)  # the subscriptions are registered
            started = time.monotonic()
            await server.gql(key, RECORD, {"input": {"leadId": lead, "type": "FORM_SUBMITTED"}})
            event = (await mine.next(within=5))["scoreChanged"]
            assert time.monotonic() - started < 1.0
            assert (event["previousScore"], event["score"]) == (-5, 5)
            assert event["model"] == {"name": "Engagement"}
            assert event["lead"] == {"id": lead, "score": 5}
            assert await foreign.nothing_within(0.5)


@pytest.mark.parametrize("key", [None, "lg_not-a-real-key"])
async def test_missing_or_bad_key_is_refused_with_4401(settings, key):
    """connection_init without a valid key closes the socket with 4401."""
    async with (
        live_server(settings.database_url) as server,
        websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        payload = {"Authorization": f"Bearer {key}"} if key else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 4401


async def test_publishable_capture_key_may_not_subscribe_4403(settings, tenant):
    """A CAPTURE key (embedded in web pages) is a valid key, so not 4401, but its role may not
    subscribe: the socket closes with 4403 before any subscription starts."""
    async with (
        live_server(settings.database_url) as server,
        websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws,
    ):
        payload = {"Authorization": f"Bearer {tenant.keys[Role.CAPTURE]}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 4403


async def test_key_in_the_upgrade_header_and_status_and_record_events(settings, tenant):
    """The key may come in the upgrade request's header; leadStatusChanged and recordChanged
    (filtered by type) deliver the lead's status change and the record's update."""
    async with live_server(settings.database_url) as server:
        key = tenant.keys[Role.SALES]
        _, lead = await contact_and_lead(server, key)
        headers = {"Authorization": f"Bearer {key}"}
        async with websockets.connect(
            server.ws_url, subprotocols=["graphql-transport-ws"], additional_headers=headers
        ) as ws:
            await ws.send('{"type": "connection_init", "payload": {}}')
            assert '"connection_ack"' in await asyncio.wait_for(ws.recv(), 10)
            await ws.send(
                '{"id": "s", "type": "subscribe", "payload": {"query": "subscription { '
                'leadStatusChanged { lead { id status } event { fromStatus toStatus } } }"}}'
            )
            await ws.send(
                '{"id": "r", "type": "subscribe", "payload": {"query": "subscription { '
                'recordChanged(types: [LEAD]) { kind type id node { id } } }"}}'
            )
            await asyncio.sleep(0.5)
            await server.gql(
                key,
                "mutation($id: ID!) { disqualifyLead(input: {leadId: $id, reason: LOST}) { lead { id } } }",
                {"id": lead},
            )
            seen = {}
            while len(seen) < 2:
                message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                seen[message["id"]] = message["payload"]["data"]
            status = seen["s"]["leadStatusChanged"]
            assert status["lead"] == {"id": lead, "status": "DISQUALIFIED"}
            assert status["event"] == {"fromStatus": "NEW", "toStatus": "DISQUALIFIED"}
            assert seen["r"]["recordChanged"] == {
                "kind": "UPDATED",
                "type": "LEAD",
                "id": lead,
                "node": {"id": lead},
            }


async def test_a_slow_subscriber_is_ended_not_buffered_without_bound():
    """The per-subscriber queue is bounded: past it, the subscription ends with an error that
    says to re-sync with `changes`, and nothing more is queued for it."""
    broker = Broker(queue_size=2)
    change = Change(1, 7, 0, "lead", "UPDATED", 1, None, None)  # type: ignore[arg-type]

    with broker.subscribe(7, frozenset({"lead"}), "recordChanged") as subscriber:
        for _ in range(5):
            broker.publish([change])
        assert subscriber.queue.qsize() == 2
        with pytest.raises(SubscriberOverflow, match="changes"):
            await subscriber.next()
    assert not broker.has_subscribers()


@pytest.mark.skipif(not POSTGRES, reason="several server processes share only PostgreSQL")
async def test_two_processes_and_a_killed_listener_connection(settings, tenant):
    """A subscriber on server A receives a change made through server B (LISTEN/NOTIFY); after
    pg_terminate_backend kills A's listener connection, A reconnects and later events arrive."""
    key = tenant.keys[Role.ADMIN]
    async with (
        live_server(settings.database_url) as a,
        live_server(settings.database_url) as b,
    ):
        _, lead = await contact_and_lead(b, key)
        async with subscription(a, key, SCORES, {"lead": lead}) as events:
            await asyncio.sleep(0.5)
            await b.gql(key, RECORD, {"input": {"leadId": lead, "type": "FORM_SUBMITTED"}})
            assert (await events.next())["scoreChanged"]["score"] == 5

            dsn = settings.database_url.replace("postgres://", "postgresql://", 1)
            conn = await asyncpg.connect(dsn)
            try:
                killed = await conn.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = $1",
                    "leadgraph-listener",
                )
                # One listener per server process (the test's own app has one too).
                assert killed >= 2
                for _ in range(100):  # every one reconnects
                    await asyncio.sleep(0.1)
                    back = await conn.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND application_name = $1",
                        "leadgraph-listener",
                    )
                    if back == killed:
                        break
                assert back == killed
            finally:
                await conn.close()
            await b.gql(key, RECORD, {"input": {"leadId": lead, "type": "FORM_SUBMITTED"}})
            assert (await events.next())["scoreChanged"]["score"] == 15


CONFORMANCE = Path(__file__).parent.parent / "conformance"


@pytest.mark.skipif(
    shutil.which("node") is None or not (CONFORMANCE / "node_modules" / "graphql-ws").exists(),
    reason="needs node and `npm ci` in conformance/ (make conformance runs the same script)",
)
async def test_graphql_ws_npm_client(settings, tenant):
    """The `graphql-ws` npm client subscribes, sees the score an HTTP mutation produced within a
    second, and is refused with 4401 for a bad key (conformance/subscribe.mjs)."""
    async with live_server(settings.database_url) as server:
        process = await asyncio.create_subprocess_exec(
            "node",
            "subscribe.mjs",
            cwd=CONFORMANCE,
            env={
                **os.environ,
                "LEADGRAPH_URL": server.http_url,
                "LEADGRAPH_KEY": tenant.keys[Role.ADMIN],
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 0, output.decode()
        assert b"refused with 4401" in output


async def test_identical_subscriptions_share_one_execution_and_outlive_each_other(settings, tenant):
    """Two sockets subscribing with the same document and variables both receive each event
    (executed once for both); when the first leaves, the second keeps receiving."""
    async with live_server(settings.database_url) as server:
        key = tenant.keys[Role.MARKETING]
        _, lead = await contact_and_lead(server, key)
        async with subscription(server, key, SCORES, {"lead": lead}) as second:
            async with subscription(server, key, SCORES, {"lead": lead}) as first:
                await asyncio.sleep(0.5)
                await server.gql(key, RECORD, {"input": {"leadId": lead, "type": "FORM_SUBMITTED"}})
                assert (await first.next())["scoreChanged"]["score"] == 5
                assert (await second.next())["scoreChanged"]["score"] == 5
            await asyncio.sleep(0.2)
            await server.gql(key, RECORD, {"input": {"leadId": lead, "type": "FORM_SUBMITTED"}})
            assert (await second.next())["scoreChanged"]["score"] == 15


async def test_a_slow_socket_of_a_shared_subscription_is_ended_alone():
    """In a shared subscription a listener whose queue is full gets the re-sync error and ends;
    the other listener receives everything."""
    streams = SharedStreams(queue_size=2)
    feed: asyncio.Queue = asyncio.Queue()

    async def source():
        async def results():
            while True:
                yield await feed.get()

        return results()

    async with (
        streams.join("k", source) as slow,
        streams.join("k", source) as fast,
    ):
        received = []
        for n in range(5):
            await feed.put(ExecutionResult(data={"n": n}, errors=None))
            received.append((await anext(fast)).data["n"])
        assert received == [0, 1, 2, 3, 4]
        results = [r async for r in slow]
        assert results[-1].errors[0].message.startswith("This subscription fell too far behind")


@pytest.mark.skipif(not POSTGRES, reason="LISTEN/NOTIFY is PostgreSQL's")
async def test_rows_committed_while_the_listener_was_down_are_replayed_once(settings, tenant):
    """Notifications sent while the listener's connection is down are lost; on reconnecting the
    listener replays the rows committed meanwhile (by id) to the subscribers, and skips rows it
    has already delivered."""
    dsn = asyncpg_dsn(settings.database_url)
    broker = Broker(queue_size=100)
    listener = PostgresListener(broker, dsn)
    conn = await asyncpg.connect(dsn)
    try:
        listener._last_id = await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM change_log")
        with broker.subscribe(tenant.workspace.id, frozenset({"account"}), "recordChanged") as sub:
            await tenant.mutate("createAccount", {"name": "while down"}, "account { id }")
            await listener._replay(conn)
            first = await asyncio.wait_for(sub.next(), 1)
            assert (first.change.entity, first.change.kind) == ("account", "CREATED")
            listener._last_id = 0  # replaying again must not send it twice
            await listener._replay(conn)
            assert sub.queue.empty()
    finally:
        await conn.close()


@pytest.mark.skipif(not POSTGRES, reason="LISTEN/NOTIFY is PostgreSQL's")
async def test_a_write_of_several_tables_sends_one_notification_and_its_rows_load_together(
    settings, tenant
):
    """recordInteraction writes an interaction, a score and a lead in one transaction: it is
    announced once (`workspace:txid`; the statement logs and announces itself, and identical
    payloads would be folded by PostgreSQL), and the listener loads every row of that
    transaction from the one notice. Writes to a workspace that no listener watches, that
    statement's included, announce nothing."""
    dsn = asyncpg_dsn(settings.database_url)
    received: list[str] = []
    watcher = await asyncpg.connect(dsn)
    await watcher.add_listener(NOTIFY_CHANNEL, lambda *args: received.append(args[-1]))
    try:
        contact = await tenant.mutate("createContact", {"lastName": "Ada"}, "contact { id }")
        contact_id = contact["contact"]["id"]
        await tenant.mutate(
            "createLead", {"topic": "Solar", "contactId": contact_id}, "lead { id }"
        )
        unwatched = await tenant.mutate(
            "recordInteraction",
            {"contactId": contact_id, "type": "EMAIL_OPENED"},
            "interaction { id }",
        )
        assert unwatched["userErrors"] == []
        await asyncio.sleep(0.3)  # a notice of those writes would be here by now
        assert received == []
        await watcher.execute(
            "INSERT INTO change_watch VALUES ($1, now() + interval '1 minute')",
            tenant.workspace.id,
        )
        recorded = await tenant.mutate(
            "recordInteraction",
            {"contactId": contact_id, "type": "FORM_SUBMITTED"},
            "interaction { id }",
        )
        assert recorded["userErrors"] == []
        ws = tenant.workspace.id
        interaction_id = int(base64.b64decode(recorded["interaction"]["id"]).split(b":")[1])
        txid = await watcher.fetchval(
            "SELECT txid FROM change_log WHERE workspace_id = $1 AND entity = 'interaction' "
            "AND record_id = $2",
            ws,
            interaction_id,
        )
        payload = f"{ws}:{txid}"
        for _ in range(50):  # delivered after the COMMIT, asynchronously
            if payload in received:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)  # any further notice of that transaction would be here by now
        assert received.count(payload) == 1, received
        rows = await watcher.fetch(
            "SELECT entity FROM change_log WHERE workspace_id = $1 AND txid = $2", ws, txid
        )
        assert {"interaction", "lead_score", "lead"} <= {r["entity"] for r in rows}

        broker = Broker(queue_size=100)
        listener = PostgresListener(broker, dsn)
        entities = frozenset({"interaction", "lead_score", "lead"})
        with broker.subscribe(ws, entities, "recordChanged") as sub:
            await listener._load(watcher, payload)
            loaded = []
            while not sub.queue.empty():
                loaded.append((await sub.next()).change.entity)
        assert sorted(loaded) == sorted(r["entity"] for r in rows)
    finally:
        await watcher.close()


@pytest.mark.skipif(not POSTGRES, reason="LISTEN/NOTIFY is PostgreSQL's")
async def test_a_notice_nobody_here_wants_moves_the_replay_start_past_its_rows(settings, tenant):
    """A notification names a transaction, not ids: when no subscriber here wants its workspace
    the rows are not loaded, and the listener later reads the newest id instead, so a replay
    after a lost connection does not walk every row written while nobody listened."""
    dsn = asyncpg_dsn(settings.database_url)
    listener = PostgresListener(Broker(queue_size=10), dsn)
    conn = await asyncpg.connect(dsn)
    try:
        listener._last_id = await conn.fetchval("SELECT COALESCE(MAX(id), 0) FROM change_log")
        before = listener._last_id
        await tenant.mutate("createAccount", {"name": "unwatched"}, "account { id }")
        row = await conn.fetchrow(
            "SELECT workspace_id, txid, id FROM change_log ORDER BY id DESC LIMIT 1"
        )
        await listener._load(conn, f"{row['workspace_id']}:{row['txid']}")
        assert listener._last_id == before and listener._behind
        await listener._catch_up(conn)
        assert listener._last_id >= row["id"] and not listener._behind
    finally:
        await conn.close()


@pytest.mark.skipif(not POSTGRES, reason="LISTEN/NOTIFY is PostgreSQL's")
async def test_a_transaction_that_ran_before_the_watch_reaches_the_subscriber_by_the_sweep(
    settings, tenant
):
    """A write whose trigger ran before the workspace was watched sends no notice, though it
    commits after the subscription started. The listener's sweep, by the snapshot taken before
    the watch row was written, delivers its row once; a row committed before the subscription
    is not sent. The listener's connection plans every statement for its values (a generic
    plan of the sweep walks the whole log)."""
    dsn = asyncpg_dsn(settings.database_url)
    broker = Broker(queue_size=100)
    listener = PostgresListener(broker, dsn)
    conn, writer = await listener.connect(), await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
        created = await tenant.mutate("createAccount", {"name": "before"}, "account { id }")
        account_id = int(base64.b64decode(created["account"]["id"]).split(b":")[1])
        ws = tenant.workspace.id
        await listener._watch(conn)  # nobody subscribed: nothing listed
        assert await conn.fetchval("SELECT count(*) FROM change_watch") == 0
        in_flight = writer.transaction()
        await in_flight.start()
        await writer.execute("UPDATE account SET name = 'in flight' WHERE id = $1", account_id)
        with broker.subscribe(ws, frozenset({"account"}), "recordChanged") as sub:
            await listener._watch(conn)
            assert await conn.fetchval(
                "SELECT count(*) FROM change_watch WHERE workspace_id = $1 AND until > now()", ws
            )
            await in_flight.commit()
            assert sub.queue.empty()
            await listener._sweep(conn)
            event = sub.queue.get_nowait()
            assert (event.change.kind, event.change.record_id) == ("UPDATED", account_id)
            await listener._sweep(conn)
            assert sub.queue.empty()
    finally:
        await conn.close()
        await writer.close()
