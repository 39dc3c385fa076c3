"""Tenant isolation under abuse: while one workspace sends the worst queries the limits accept,
in a loop from many connections, another workspace's simple read should keep its p99 within 3x
of its idle p99.

    LEADGRAPH_BENCH_DATABASE_URL=postgres://.../leadgraph_bench python bench/isolation.py

The noisy workspace is the seeded `bench` one (100,000 contacts); the quiet one is small and is
created in a scratch copy of the seeded database, dropped after the run. Both load generators
are httpx clients in this process (one uvicorn worker serves): the noisy one closed loops, the
quiet one paced at ISOLATION_QUIET_RATE requests/s over two connections (100 by default, a
workspace going about its day; 0: closed loops as fast as the server answers, which makes the
quiet workspace a second heavy one: on 2 cores both then compete for the same CPU).
"""

import asyncio
import os
import statistics
import sys
import time
from collections import Counter

import httpx
from common import ROOT, database_url, issue_key, prepare, scratch_copy, uvicorn_worker
from graphql import parse
from tortoise import Tortoise

sys.path.insert(0, str(ROOT))

from api.preflight import cost_of  # noqa: E402
from api.schema import build_schema  # noqa: E402
from api.settings import Settings  # noqa: E402
from models import Account, Role, Workspace  # noqa: E402

QUIET_READ = "{ accounts(first: 5, orderBy: [{field: NAME}]) { edges { node { name city } } } }"


def worst_queries() -> list[str]:
    """Expensive shapes, each just under the cost limit (checked below)."""
    words = "a e i o u y q z k"
    ors = ", ".join(f'{{lastName: {{contains: "x{i}"}}}}' for i in range(50))
    hops = '{account: {contacts: {some: {lastName: {contains: "a"}}}}}'
    page = "totalCount edges { node { id } }"
    return [
        f'{{ contacts(first: 100, search: "{words}") {{ {page} }} }}',
        f"{{ contacts(first: 100, filter: {{or: [{ors}]}}) {{ {page} }} }}",
        f"{{ contacts(first: 100, filter: {hops}) {{ {page} }} }}",
        '{ leads(first: 100, search: "a e i o u") { totalCount edges { node { topic '
        "contact { account { name } } } } } }",
    ]


async def quiet_workspace(url: str) -> int:
    await Tortoise.init(config=Settings(database_url=url).tortoise_config())
    try:
        workspace = await Workspace.filter(slug="quiet").first()
        if workspace is None:
            workspace = await Workspace.create(name="Quiet", slug="quiet")
            for i in range(50):
                await Account.create(workspace_id=workspace.id, name=f"Quiet {i}", city="Oslo")
        return workspace.id
    finally:
        await Tortoise.close_connections()


async def loop(
    client,
    query: str | list[str],
    until: float,
    latencies: list,
    outcomes: Counter,
    rate: float = 0,
):
    """Sends `query` (or each of a list in turn) until `until`: back to back, or `rate` per
    second on a fixed schedule (a late answer is not made up for by a burst)."""
    queries = query if isinstance(query, list) else [query]
    n = 0
    due = time.monotonic()
    while time.monotonic() < until:
        if rate:
            due = max(due + 1 / rate, time.monotonic())
            await asyncio.sleep(due - time.monotonic())
        started = time.monotonic()
        response = await client.post("/graphql", json={"query": queries[n % len(queries)]})
        latencies.append((time.monotonic() - started) * 1000)
        errors = response.json().get("errors") or []
        outcomes[errors[0].get("extensions", {}).get("code") if errors else "ok"] += 1
        n += 1


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 2 else float("nan")


async def phase(port, quiet_key, noisy_key, seconds, noisy_connections, quiet_rate):
    base = f"http://127.0.0.1:{port}"
    until = time.monotonic() + seconds
    quiet_lat, noisy_lat = [], []
    quiet_out, noisy_out = Counter(), Counter()
    limits = httpx.Limits(max_connections=64)
    async with (
        httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {quiet_key}"}, timeout=60
        ) as quiet,
        httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {noisy_key}"},
            timeout=60,
            limits=limits,
        ) as noisy,
    ):
        tasks = [
            loop(quiet, QUIET_READ, until, quiet_lat, quiet_out, quiet_rate / 2) for _ in range(2)
        ]
        tasks += [
            loop(noisy, worst_queries()[i:] + worst_queries()[:i], until, noisy_lat, noisy_out)
            for i in range(noisy_connections)
        ]
        await asyncio.gather(*tasks)
    return quiet_lat, quiet_out, noisy_lat, noisy_out


async def main() -> None:
    seconds = int(os.environ.get("ISOLATION_SECONDS", "8"))
    noisy_connections = int(os.environ.get("ISOLATION_NOISY_CONNECTIONS", "12"))
    port = int(os.environ.get("ISOLATION_PORT", "9731"))
    quiet_rate = float(os.environ.get("ISOLATION_QUIET_RATE", "100"))
    seeded = database_url()
    noisy_id = await prepare(seeded, 100_000)
    async with scratch_copy(seeded) as url:
        await measure(url, noisy_id, seconds, noisy_connections, port, quiet_rate)


async def measure(
    url: str, noisy_id: int, seconds: int, noisy_connections: int, port: int, quiet_rate: float
):
    quiet_id = await quiet_workspace(url)
    settings = Settings()
    schema = build_schema(settings)
    for query in worst_queries():
        cost = cost_of(schema, parse(query), {}, settings)
        assert cost <= settings.max_query_cost, (cost, query)
        print(f"noisy query cost {cost:>6}: {query[:90]}")
    noisy_key = await issue_key(url, noisy_id, Role.READ_ONLY)
    quiet_key = await issue_key(url, quiet_id, Role.READ_ONLY)
    cap = os.environ.get("LEADGRAPH_MAX_EXPENSIVE_READS_PER_WORKSPACE", "1")
    print(f"expensive-read slots per workspace: {cap}")
    pace = f"{quiet_rate:g} requests/s" if quiet_rate else "closed loops, as fast as answered"
    print(f"quiet workspace: 2 connections, {pace}")
    async with uvicorn_worker(url, port, LEADGRAPH_MAX_EXPENSIVE_READS_PER_WORKSPACE=cap):
        await phase(port, quiet_key, noisy_key, 2, 0, quiet_rate)  # warm-up
        idle, _, _, _ = await phase(port, quiet_key, noisy_key, seconds, 0, quiet_rate)
        loaded, quiet_out, noisy_lat, noisy_out = await phase(
            port, quiet_key, noisy_key, seconds, noisy_connections, quiet_rate
        )
    ratio = p(loaded, 99) / p(idle, 99)
    print(f"quiet read idle:   n={len(idle)} p50={p(idle, 50):.1f} ms p99={p(idle, 99):.1f} ms")
    print(
        f"quiet read loaded: n={len(loaded)} p50={p(loaded, 50):.1f} ms "
        f"p99={p(loaded, 99):.1f} ms outcomes={dict(quiet_out)}"
    )
    print(f"noisy ({noisy_connections} connections): n={len(noisy_lat)} outcomes={dict(noisy_out)}")
    print(f"p99 loaded / idle = {ratio:.2f} (target <= 3)")


if __name__ == "__main__":
    asyncio.run(main())
