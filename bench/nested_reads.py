"""Read benchmark: one uvicorn worker on PostgreSQL with demo data, loaded by wrk over HTTP.

    python bench/nested_reads.py [--contacts 100000] [--duration 15] [--connections 16]

Needs `wrk` (Debian package `wrk`). Seeds the `bench` workspace once (LEADGRAPH_BENCH_DATABASE_URL,
default postgres://postgres@127.0.0.1:5432/leadgraph_bench, created if missing), then reports per
workload: requests/s, p50/p99 latency, server CPU milliseconds per request (from /proc), and SQL
statements per request (counted in-process from tortoise's statement log).
"""

import argparse
import asyncio
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
from tortoise import Tortoise

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.settings import Settings  # noqa: E402
from models import ApiKey, Role, Workspace  # noqa: E402

NESTED = """{ accounts(first: 20) { edges { node { name
  contacts(first: 20) { edges { node { fullName email
    leads(first: 10) { edges { node { topic status
      interactions(first: 5) { edges { node { type occurredAt } } } } } } } } } } } } }"""
LIST = """{ contacts(first: 50, filter: {account: {industry: {eq: "Retail"}},
  leads: {some: {topic: {eq: "Solar"}}}}, orderBy: [{field: LAST_NAME}]) {
  edges { cursor node { fullName email account { name } } } } }"""
LIST_COUNTED = LIST.replace("edges { cursor", "totalCount edges { cursor")
ONE = """query($id: ID!) { node(id: $id) { ... on Contact { fullName email jobTitle
  account { name industry } leads(first: 10) { edges { node { topic status source } } } } } }"""

LUA = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
wrk.body = [[%s]]
"""


async def prepare(url: str, contacts: int) -> tuple[str, str]:
    admin = await asyncpg.connect(
        url.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
    )
    name = url.rsplit("/", 1)[1]
    if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
        await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    env = {**os.environ, "LEADGRAPH_DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "api.cli", "migrate"], check=True, env=env, cwd=ROOT)
    settings = Settings(database_url=url)
    await Tortoise.init(config=settings.tortoise_config())
    try:
        if not await Workspace.filter(slug="bench").exists():
            started = time.monotonic()
            print(f"seeding {contacts} contacts ...", flush=True)
            from models.demo import seed_demo

            workspace = await Workspace.create(name="Bench", slug="bench")
            await workspace.add_default_scoring_model()
            print(await seed_demo(workspace, contacts=contacts), flush=True)
            print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)
        workspace = await Workspace.get(slug="bench")
        _, secret = await ApiKey.issue(workspace_id=workspace.id, role=Role.READ_ONLY, name="bench")
        from models import Contact

        contact = await Contact.filter(workspace_id=workspace.id, account_id__isnull=False).first()
        from strawberry import relay

        return secret, relay.to_base64("Contact", contact.id)
    finally:
        await Tortoise.close_connections()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    app = create_app(Settings(database_url=url, api_key_cache_seconds=60))
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


def run_wrk(port: int, key: str, body: dict, duration: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % (key, json.dumps(body)))
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            script.name,
            f"http://127.0.0.1:{port}/graphql",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    os.unlink(script.name)

    def latency(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    requests = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency("50%"),
        "p99_ms": latency("99%"),
        "errors": int(non_2xx.group(1)) if non_2xx else 0,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    url = os.environ.get(
        "LEADGRAPH_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/leadgraph_bench"
    )
    key, contact_id = await prepare(url, args.contacts)
    env = {
        **os.environ,
        "LEADGRAPH_DATABASE_URL": url,
        "LEADGRAPH_LOG_LEVEL": "warning",
        "LEADGRAPH_DB_POOL_MAX": "20",
        "LEADGRAPH_API_KEY_CACHE_SECONDS": "60",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(args.port), "--workers", "1"],
        env=env,
        cwd=ROOT,
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(100):
                try:
                    if (
                        await client.get(f"http://127.0.0.1:{args.port}/readyz")
                    ).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            workloads = {
                "nested read (20 accounts > contacts > leads > 5 interactions)": {"query": NESTED},
                "filtered, sorted page of 50 contacts": {"query": LIST},
                "the same page with its exact totalCount": {"query": LIST_COUNTED},
                "one contact with account and leads": {
                    "query": ONE,
                    "variables": {"id": contact_id},
                },
            }
            statements = await statements_per_request(url, key, workloads)
            for name, body in workloads.items():
                check = await client.post(
                    f"http://127.0.0.1:{args.port}/graphql",
                    json=body,
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=60,
                )
                assert "errors" not in check.json(), check.text
                run_wrk(args.port, key, body, 3, args.connections)  # warm-up
                cpu_before = cpu_seconds(server.pid)
                result = run_wrk(args.port, key, body, args.duration, args.connections)
                n = max(result["requests"], 1)
                result["cpu_ms_per_request"] = round(
                    (cpu_seconds(server.pid) - cpu_before) * 1000 / n, 2
                )
                result["sql_per_request"] = statements[name]
                result["response_bytes"] = len(check.content)
                print(f"{name}: {json.dumps(result)}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    asyncio.run(main())
