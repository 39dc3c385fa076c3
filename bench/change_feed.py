"""Change feed benchmarks on the seeded PostgreSQL database (LEADGRAPH_BENCH_DATABASE_URL).

fanout: two server processes, SUBSCRIBERS WebSocket subscribers split over both, mutations sent
        through the first one; events/s delivered and the delay from the mutation to each
        subscriber (upper bound: from sending it; lower bound: from its HTTP answer, which comes
        after the commit).
cost:   what the change-log triggers add: a single-row mutation over HTTP (`updateContact` of a
        random contact's job title, wrk with 16 connections, one worker) and a whole-workspace
        re-score under a new model (every lead's score moves), triggers on and off (ALTER
        TABLE ... DISABLE TRIGGER USER; for the re-score in a transaction rolled back).
        recordInteraction's one statement writes its own change-log rows (models/recording.py)
        and fires no trigger function, so the switch does not apply to it.
sync:   `changes` throughput: pages of 1,000 read over HTTP.
"""

import argparse
import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    database_url,
    issue_key,
    random_contact_script,
    run_wrk,
    scratch_copy,
    uvicorn_worker,
)
from models import Role  # noqa: E402

RECORD = """mutation($lead: ID!) { recordInteraction(input: {leadId: $lead, type: PHONE_CALL})
{ userErrors { message } } }"""
LOGGED_TABLES = [
    "account",
    "contact",
    "lead",
    "interaction",
    "scoring_model",
    "lead_score",
    "lead_event",
]
SCORES = "subscription { scoreChanged { score lead { id } } }"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def gql(client: httpx.AsyncClient, url: str, key: str, query: str, variables=None) -> dict:
    response = await client.post(
        url,
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {key}"},
    )
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


async def lead_ids(url: str, workspace_id: int, n: int) -> list[str]:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
    try:
        rows = await conn.fetch(
            # Leads without a phone call yet: the recorded one moves their score (one event).
            "SELECT l.id FROM lead l WHERE l.workspace_id = $1 AND l.contact_id IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM interaction i WHERE i.type = 'PHONE_CALL' AND "
            "(i.lead_id = l.id OR (i.contact_id = l.contact_id AND i.lead_id IS NULL))) "
            "ORDER BY random() LIMIT $2",
            workspace_id,
            n,
        )
    finally:
        await conn.close()
    from strawberry.relay import to_base64

    return [to_base64("Lead", r["id"]) for r in rows]


async def subscriber(port: int, key: str, received: list, ready: asyncio.Event, counter: list):
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"], max_queue=None
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        await ws.recv()
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SCORES}}))
        counter[0] += 1
        if counter[0] == counter[1]:
            ready.set()
        async for raw in ws:
            now = time.monotonic()
            message = json.loads(raw)
            if message.get("type") == "next":
                received.append((message["payload"]["data"]["scoreChanged"]["lead"]["id"], now))


async def fanout(url: str, workspace_id: int, subscribers: int, rate: float, seconds: float):
    key = await issue_key(url, workspace_id, Role.ADMIN)
    ports = (11000, 11001)
    events = int(rate * seconds)
    leads = await lead_ids(url, workspace_id, events)
    async with uvicorn_worker(url, ports[0]) as a, uvicorn_worker(url, ports[1]) as b:
        del a, b
        received: list = []
        ready = asyncio.Event()
        counter = [0, subscribers]
        tasks = [
            asyncio.create_task(subscriber(ports[i % 2], key, received, ready, counter))
            for i in range(subscribers)
        ]
        await asyncio.wait_for(ready.wait(), 120)
        await asyncio.sleep(2)
        sent: dict[str, tuple[float, float]] = {}
        http_url = f"http://127.0.0.1:{ports[0]}/graphql"
        async with httpx.AsyncClient(timeout=30) as client:
            started = time.monotonic()
            for n, lead in enumerate(leads):
                await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
                t0 = time.monotonic()
                await gql(client, http_url, key, RECORD, {"lead": lead})
                sent[lead] = (t0, time.monotonic())
        expected = events * subscribers
        deadline = time.monotonic() + 30
        while len(received) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        elapsed = max(t for _, t in received) - started if received else float("nan")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    upper = [(t - sent[lead][0]) * 1000 for lead, t in received if lead in sent]
    lower = [max(0.0, (t - sent[lead][1]) * 1000) for lead, t in received if lead in sent]
    print(
        f"fanout: {subscribers} subscribers on 2 processes, {events} mutations at {rate}/s: "
        f"{len(received)}/{expected} events received, {len(received) / elapsed:.0f} events/s; "
        f"delay from sending the mutation p50 {pct(upper, 0.5):.0f} ms "
        f"p99 {pct(upper, 0.99):.0f} ms; "
        f"from its answer p50 {pct(lower, 0.5):.0f} ms p99 {pct(lower, 0.99):.0f} ms",
        flush=True,
    )


UPDATE_CONTACT = json.dumps(
    {
        "query": "mutation($i: UpdateContactInput!) { updateContact(input: $i) { "
        "contact { jobTitle } userErrors { code } } }",
        "variables": {"i": {"id": "CONTACT_ID", "jobTitle": "Analyst RANDOM_NUMBER"}},
    }
)


async def contact_ids(url: str, workspace_id: int, n: int) -> list[str]:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT id FROM contact WHERE workspace_id = $1 ORDER BY random() LIMIT $2",
            workspace_id,
            n,
        )
    finally:
        await conn.close()
    from strawberry.relay import to_base64

    return [to_base64("Contact", r["id"]) for r in rows]


async def update_rps(url: str, key: str, contacts: list[str], seconds: float) -> dict:
    """`updateContact` of a random contact's job title through one worker, after a check that
    it answers without errors and a warm-up."""
    port = 11002
    lua = random_contact_script(UPDATE_CONTACT, contacts, key, seed=11)
    async with uvicorn_worker(url, port), httpx.AsyncClient(timeout=30) as client:
        body = json.loads(
            UPDATE_CONTACT.replace("CONTACT_ID", contacts[0]).replace("RANDOM_NUMBER", "0")
        )
        data = await gql(client, f"http://127.0.0.1:{port}/graphql", key, **body)
        assert data["updateContact"]["userErrors"] == [], data
        run_wrk(port, lua, 2, 16)
        return run_wrk(port, lua, int(seconds), 16)


async def set_triggers(url: str, enabled: bool) -> None:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
    try:
        for table in [
            "account",
            "contact",
            "lead",
            "interaction",
            "scoring_model",
            "lead_score",
            "lead_event",
        ]:
            await conn.execute(
                f"ALTER TABLE {table} {'ENABLE' if enabled else 'DISABLE'} TRIGGER USER"
            )
    finally:
        await conn.close()


async def rescore_seconds(url: str, workspace_id: int, triggers: bool) -> tuple[float, int]:
    """Score every lead under a new model in a transaction that is rolled back."""
    from tortoise import Tortoise
    from tortoise.transactions import in_transaction

    from api.settings import Settings
    from models.rescoring import Scope, rescore
    from models.scoring_model import ScoringModel

    await Tortoise.init(config=Settings(database_url=url).tortoise_config())
    try:
        async with in_transaction() as conn:
            if not triggers:  # user triggers only: foreign-key checks still run
                for table in LOGGED_TABLES:
                    await conn.execute_script(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            model = await ScoringModel.create(
                workspace_id=workspace_id,
                name="bench",
                sales_ready_threshold=1000,
                rules=[{"interaction_type": "UNSUBSCRIBED", "frequency": "NONE", "points": 7}],
                grades=[],
                using_db=conn,
            )
            started = time.monotonic()
            await rescore(conn, Scope(workspace_id), models=[model], now=datetime.now(UTC))
            seconds = time.monotonic() - started
            rows = await conn.execute_query_dict(
                "SELECT count(*) AS n FROM change_log "
                "WHERE txid = pg_current_xact_id()::text::bigint"
            )
            await conn.rollback()
    finally:
        await Tortoise.close_connections()
    return seconds, rows[0]["n"]


async def cost(url: str, workspace_id: int, seconds: float) -> None:
    key = await issue_key(url, workspace_id, Role.ADMIN)
    contacts = await contact_ids(url, workspace_id, 2000)
    for triggers in (True, False, True, False):
        await set_triggers(url, triggers)
        result = await update_rps(url, key, contacts, seconds)
        print(
            f"updateContact, triggers {'on ' if triggers else 'off'}: {result['rps']:.0f} req/s, "
            f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
            f"{result['errors']} errors",
            flush=True,
        )
    await set_triggers(url, True)
    for triggers in (True, False, True, False):
        took, logged = await rescore_seconds(url, workspace_id, triggers)
        print(
            f"whole-workspace re-score (new model), triggers {'on ' if triggers else 'off'}: "
            f"{took:.1f} s, {logged} change rows",
            flush=True,
        )


async def sync(url: str, workspace_id: int, pages: int) -> None:
    key = await issue_key(url, workspace_id, Role.READ_ONLY)
    query = (
        "query($since: String) { changes(since: $since, first: 1000) { "
        "changes { kind type id node { id } } nextToken hasMore } }"
    )
    # Pages of 1,000: over the default page-size limit (100), so this worker raises it.
    worker = uvicorn_worker(url, 11003, LEADGRAPH_MAX_PAGE_SIZE="1000")
    async with worker, httpx.AsyncClient(timeout=60) as client:
        token, total = None, 0
        started = time.monotonic()
        for _ in range(pages):
            page = (
                await gql(client, "http://127.0.0.1:11003/graphql", key, query, {"since": token})
            )["changes"]
            total += len(page["changes"])
            token = page["nextToken"]
            if not page["hasMore"]:
                break
        took = time.monotonic() - started
    print(
        f"changes: {total} changes in {took:.1f} s = {total / took:.0f} changes/s "
        "(pages of 1,000, node { id })",
        flush=True,
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("part", choices=["fanout", "cost", "sync"])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()
    async with scratch_copy(database_url()) as url:  # the parts write: keep the seed as it is
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
        workspace_id = await conn.fetchval("SELECT id FROM workspace WHERE slug = 'bench'")
        await conn.close()
        print(
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        if args.part == "fanout":
            await fanout(url, workspace_id, args.subscribers, args.rate, args.seconds)
        elif args.part == "cost":
            await cost(url, workspace_id, args.seconds)
        else:
            await sync(url, workspace_id, args.pages)


if __name__ == "__main__":
    asyncio.run(main())
