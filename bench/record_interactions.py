"""Write benchmark: recordInteraction throughput and latency over HTTP on PostgreSQL, and the time
to re-score every lead after a scoring-model change.

    python bench/record_interactions.py [--contacts 100000] [--duration 15] [--connections 16]

Uses the same seeded `bench` workspace as nested_reads.py, on a scratch copy of the database made
for the run (every run starts from the seeded rows). Each request records a contact-level
EMAIL_OPENED for a contact drawn at random from 2,000, so it locks, re-scores and reports that
contact's leads under every active model, as clients see it. Prints the worker's CPU and the
local PostgreSQL processes' CPU per request (0 when the database runs on another machine), and
the WAL written per request.
"""

import asyncio
import json
import time
from pathlib import Path

import asyncpg
import httpx
from common import (
    Role,
    Settings,
    bench_args,
    cpu_seconds,
    database_url,
    issue_key,
    prepare,
    random_contact_script,
    round_trip_proxy,
    run_wrk,
    scratch_copy,
    uvicorn_worker,
)
from strawberry import relay
from tortoise import Tortoise

RECORD = """mutation($i: RecordInteractionInput!) { recordInteraction(input: $i) {
  interaction { id }
  scoreChanges { lead { id } previousScore score grade salesReady becameSalesReady }
  userErrors { code } } }"""
BODY = json.dumps(
    {"query": RECORD, "variables": {"i": {"contactId": "CONTACT_ID", "type": "EMAIL_OPENED"}}}
)
WAL_POSITION = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint"


def wrk_script(contact_ids: list[str], key: str) -> str:
    """wrk's script: BODY for a contact drawn at random from `contact_ids`, sent with `key`."""
    return random_contact_script(BODY, contact_ids, key, seed=7)


async def sample(url: str, workspace_id: int) -> tuple[list[str], str, int]:
    from models import Contact, Lead, ScoringModel

    await Tortoise.init(config=Settings(database_url=url).tortoise_config())
    try:
        ids = (
            await Contact.filter(workspace_id=workspace_id)
            .order_by("id")
            .limit(2000)
            .values_list("id", flat=True)
        )
        model = await ScoringModel.get(workspace_id=workspace_id, primary=True)
        leads = await Lead.filter(workspace_id=workspace_id).count()
        return (
            [relay.to_base64("Contact", i) for i in ids],
            relay.to_base64("ScoringModel", model.id),
            leads,
        )
    finally:
        await Tortoise.close_connections()


def database_cpu_seconds(url: str) -> float:
    """CPU of the PostgreSQL processes serving the bench database (backends, autovacuum)."""
    name, total = url.rsplit("/", 1)[1].encode(), 0.0
    for proc in Path("/proc").iterdir():
        try:
            command = (proc / "cmdline").read_bytes() if proc.name.isdigit() else b""
            if command.startswith(b"postgres") and name in command:
                total += cpu_seconds(int(proc.name))
        except OSError:  # gone meanwhile
            pass
    return total


async def fetch_value(url: str, sql: str, *args):
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def round_trips_per_request(url: str, port: int, key: str, bodies: list[str]) -> dict:
    """What PostgreSQL receives per recordInteraction and per `{ __typename }` (one compiled
    statement), through a counting proxy on a second worker after a warm-up: the pool's reset
    on release included, the worker's background traffic (change feed) measured while idle
    and taken out."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with (
        round_trip_proxy(url) as (proxied, counter),
        uvicorn_worker(proxied, port),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as client,
    ):
        for body in bodies[:10]:  # statements prepared, keys cached
            await client.post("/graphql", content=body)
        before, started = counter.count, time.monotonic()
        await asyncio.sleep(2)
        background = (counter.count - before) / (time.monotonic() - started)
        result = {}
        for name, sample in (("recordInteraction", bodies[10:]), ("__typename", None)):
            sample = sample or ['{"query": "{ __typename }"}'] * 20
            before, started = counter.count, time.monotonic()
            for body in sample:
                assert (await client.post("/graphql", content=body)).status_code == 200
            idle = background * (time.monotonic() - started)
            result[name] = round((counter.count - before - idle) / len(sample), 2)
        return result


async def main() -> None:
    args = bench_args(connections=16, port=8766)
    seeded = database_url()
    workspace_id = await prepare(seeded, args.contacts)
    async with scratch_copy(seeded) as url:
        await measure(args, url, workspace_id)


async def measure(args, url: str, workspace_id: int) -> None:
    key = await issue_key(url, workspace_id, Role.MARKETING)
    contact_ids, model_id, lead_count = await sample(url, workspace_id)
    lua = wrk_script(contact_ids, key)
    async with uvicorn_worker(url, args.port) as server, httpx.AsyncClient(timeout=600) as client:
        run_wrk(args.port, lua, 3, args.connections)  # warm-up
        cpu_before, database_before = cpu_seconds(server.pid), database_cpu_seconds(url)
        # WAL written meanwhile, by the whole server (run on a quiet one): every commit waits
        # for its WAL to be flushed. Read from positions, not pg_stat_wal, whose counters get
        # the scratch copy's own WAL seconds later, when its idle connection reports.
        wal_start = await fetch_value(url, WAL_POSITION)
        result = run_wrk(args.port, lua, args.duration, args.connections)
        wal = await fetch_value(url, WAL_POSITION) - wal_start
        done = max(result["requests"], 1)
        result["cpu_ms_per_request"] = round(
            (cpu_seconds(server.pid) - cpu_before) * 1000 / done, 2
        )
        result["database_cpu_ms_per_request"] = round(
            (database_cpu_seconds(url) - database_before) * 1000 / done, 2
        )
        result["wal_bytes_per_request"] = round(wal / done)
        print(f"recordInteraction: {json.dumps(result)}", flush=True)
        bodies = [BODY.replace("CONTACT_ID", contact_ids[i]) for i in range(50)]
        trips = await round_trips_per_request(url, args.port + 1, key, bodies)
        print(f"round trips per request: {json.dumps(trips)}", flush=True)

        headers = {"Authorization": f"Bearer {key}"}
        timings = []
        for threshold in (31, 30, 29):
            started = time.monotonic()
            response = await client.post(
                f"http://127.0.0.1:{args.port}/graphql",
                headers=headers,
                json={
                    "query": "mutation($i: UpdateScoringModelInput!) { "
                    "updateScoringModel(input: $i) { userErrors { message } } }",
                    "variables": {"i": {"id": model_id, "salesReadyThreshold": threshold}},
                },
            )
            timings.append(time.monotonic() - started)
            data = response.json().get("data") or {}
            assert (data.get("updateScoringModel") or {}).get("userErrors") == [], response.text
        print(
            f"re-score {lead_count} leads after a model change: "
            f"{json.dumps({'seconds': [round(t, 2) for t in timings]})}",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
