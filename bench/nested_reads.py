"""Read benchmark: one uvicorn worker on PostgreSQL with demo data, loaded by wrk over HTTP.

    python bench/nested_reads.py [--contacts 100000] [--duration 15] [--connections 8]

Needs `wrk` (Debian package `wrk`). Seeds the `bench` workspace once (LEADGRAPH_BENCH_DATABASE_URL,
default postgres://postgres@127.0.0.1:5432/leadgraph_bench, created if missing), then reports per
workload: requests/s, p50/p99 latency, server CPU milliseconds per request (from /proc), and SQL
statements per request (counted in-process from tortoise's statement log). The nested read runs
twice: as wrk sends it (no compression), and gzip-compressed, as browsers and mobile HTTP
stacks ask for it (`Accept-Encoding: gzip`; the level is LEADGRAPH_GZIP_LEVEL's).
"""

import asyncio
import json
import logging

import httpx
from common import (
    Role,
    Settings,
    bench_args,
    cpu_seconds,
    database_url,
    issue_key,
    prepare,
    run_wrk,
    uvicorn_worker,
)
from strawberry import relay
from tortoise import Tortoise

NESTED = """{ accounts(first: 20) { edges { node { name
  contacts(first: 20) { edges { node { fullName email
    leads(first: 10) { edges { node { topic status score
      interactions(first: 5) { edges { node { type occurredAt } } } } } } } } } } } } }"""
LIST = """{ contacts(first: 50, filter: {account: {industry: {eq: "Retail"}},
  leads: {some: {topic: {eq: "Solar"}}}}, orderBy: [{field: LAST_NAME}]) {
  edges { cursor node { fullName email account { name } } } } }"""
LIST_COUNTED = LIST.replace("edges { cursor", "totalCount edges { cursor")
ONE = """query($id: ID!) { node(id: $id) { ... on Contact { fullName email jobTitle
  account { name industry }
  leads(first: 10) { edges { node { topic status source score } } } } } }"""
LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
wrk.body = [[%s]]
"""
GZIPPED = "the nested read, gzip-compressed (Accept-Encoding: gzip)"


async def statements_per_request(url: str, key: str, workloads: dict) -> dict[str, int]:
    """Runs each workload once in-process and counts the SQL statements tortoise sends."""
    from asgi_lifespan import LifespanManager

    from api.app import create_app

    sent: list[str] = []

    class Counter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().lstrip().upper().startswith(("SELECT", "WITH")):
                sent.append(record.getMessage())

    logger = logging.getLogger("tortoise.db_client")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(Counter())
    counts = {}
    # No background work: the webhook dispatcher's polls would be counted with a request that
    # overlaps one (a 250 ms stats query did every other run).
    app = create_app(
        Settings(
            database_url=url,
            api_key_cache_seconds=60,
            rescore_interval_seconds=0,
            webhook_dispatcher=False,
        )
    )
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            headers = {"Authorization": f"Bearer {key}"}
            await client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
            for name, body in workloads.items():
                sent.clear()
                await client.post("/graphql", json=body, headers=headers)
                counts[name] = len(sent)
    await Tortoise.close_connections()
    return counts


async def first_contact_id(url: str, workspace_id: int) -> str:
    from models import Contact

    await Tortoise.init(config=Settings(database_url=url).tortoise_config())
    try:
        contact = await Contact.filter(workspace_id=workspace_id, account_id__isnull=False).first()
        return relay.to_base64("Contact", contact.id)
    finally:
        await Tortoise.close_connections()


async def main() -> None:
    args = bench_args(connections=8, port=8765)
    url = database_url()
    workspace_id = await prepare(url, args.contacts)
    key = await issue_key(url, workspace_id, Role.READ_ONLY)
    workloads = {
        "nested read (20 accounts > contacts > leads > 5 interactions)": {"query": NESTED},
        GZIPPED: {"query": NESTED},
        "filtered, sorted page of 50 contacts": {"query": LIST},
        "the same page with its exact totalCount": {"query": LIST_COUNTED},
        "one contact with account and leads": {
            "query": ONE,
            "variables": {"id": await first_contact_id(url, workspace_id)},
        },
    }
    statements = await statements_per_request(url, key, workloads)
    async with uvicorn_worker(url, args.port) as server, httpx.AsyncClient() as client:
        for name, body in workloads.items():
            check = await client.post(
                f"http://127.0.0.1:{args.port}/graphql",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )
            assert "errors" not in check.json(), check.text
            lua = LUA % (key, json.dumps(body))
            if name == GZIPPED:
                lua += 'wrk.headers["Accept-Encoding"] = "gzip"\n'
            run_wrk(args.port, lua, 3, args.connections)  # warm-up
            cpu_before = cpu_seconds(server.pid)
            result = run_wrk(args.port, lua, args.duration, args.connections)
            n = max(result["requests"], 1)
            result["cpu_ms_per_request"] = round(
                (cpu_seconds(server.pid) - cpu_before) * 1000 / n, 2
            )
            result["sql_per_request"] = statements[name]
            result["response_bytes"] = (  # on the wire (httpx asked for gzip and decoded it)
                int(check.headers["content-length"]) if name == GZIPPED else len(check.content)
            )
            print(f"{name}: {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
