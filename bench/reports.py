"""Reporting benchmark: stats queries, account rollups and the CSV export on PostgreSQL.

    python bench/reports.py [--contacts 100000] [--runs 15] [--port 11150]

Uses the seeded `bench` workspace (LEADGRAPH_BENCH_DATABASE_URL; seeded once if missing) and
one uvicorn worker. Reports per query: latency over loopback (median and max of `--runs`
sequential requests after two warm-ups), the worker's CPU per request, and the SQL statements
per request (counted in-process). The export of all leads as CSV reports rows/s, the worker's
RSS when idle and its peak while exporting (sampled from /proc every 20 ms), and the latency of
a small query sent every 100 ms during the export (the event loop must stay free).
"""

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import httpx
from common import Role, cpu_seconds, database_url, issue_key, prepare, uvicorn_worker
from nested_reads import statements_per_request

LEAD_STATS = """{ leadStats(groupBy: [STATUS, GRADE]) {
  total { count score { sum avg min max } }
  groups { key { status grade } aggregate { count score { avg min max } } } } }"""
INTERACTION_STATS = """{ interactionStats(groupBy: [TYPE, OCCURRED_AT], interval: WEEK,
  timeZone: "Europe/Berlin") { count groups { key { type occurredAt } count } } }"""
ROLLUPS = """{ accounts(first: 50) { edges { node { name rollup { contacts leads openLeads
  salesReadyLeads qualifiedLeads score { sum avg min max } interactions(sinceDays: 30) } } } } }"""
PROBE = "{ leads(first: 1) { edges { node { id } } } }"


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def time_query(client: httpx.AsyncClient, pid: int, query: str, runs: int) -> dict:
    for _ in range(2):
        body = (await client.post("/graphql", json={"query": query})).json()
        assert "errors" not in body, body["errors"]
    latencies = []
    cpu_before = cpu_seconds(pid)
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.post("/graphql", json={"query": query})
        latencies.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and "errors" not in response.json()
    cpu = (cpu_seconds(pid) - cpu_before) / runs * 1000
    return {
        "median_ms": round(statistics.median(latencies), 1),
        "min_ms": round(min(latencies), 1),
        "max_ms": round(max(latencies), 1),
        "cpu_ms": round(cpu, 1),
    }


async def export_all_leads(client: httpx.AsyncClient, pid: int) -> dict:
    idle = rss_kb(pid)
    peak = idle
    probes: list[float] = []
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_kb(pid))
            await asyncio.sleep(0.02)

    async def probe() -> None:
        async with httpx.AsyncClient(base_url=client.base_url, headers=client.headers) as other:
            while not done.is_set():
                started = time.perf_counter()
                await other.post("/graphql", json={"query": PROBE})
                probes.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.1)

    tasks = [asyncio.create_task(sample()), asyncio.create_task(probe())]
    rows = size = 0
    previous = b""
    started = time.perf_counter()
    async with client.stream("GET", "/export/leads.csv", timeout=600) as response:
        assert response.status_code == 200
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            rows += (previous[-1:] + chunk).count(b"\r\n")  # a CRLF may span two chunks
            previous = chunk
    seconds = time.perf_counter() - started
    done.set()
    await asyncio.gather(*tasks)
    rows -= 1  # the header
    return {
        "rows": rows,
        "megabytes": round(size / 1e6, 1),
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "idle_rss_mb": round(idle / 1024, 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "rss_growth_mb": round((peak - idle) / 1024, 1),
        "probe_requests_during_export": len(probes),
        "probe_median_ms": round(statistics.median(probes), 1) if probes else None,
        "probe_max_ms": round(max(probes), 1) if probes else None,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--port", type=int, default=11150)
    args = parser.parse_args()
    url = database_url()
    workspace_id = await prepare(url, args.contacts)
    key = await issue_key(url, workspace_id, Role.READ_ONLY)
    workloads = {
        "leadStats by status x grade": LEAD_STATS,
        "interactionStats by type x week (Europe/Berlin)": INTERACTION_STATS,
        "50 accounts with rollups": ROLLUPS,
    }
    statements = await statements_per_request(
        url, key, {name: {"query": q} for name, q in workloads.items()}
    )
    results: dict = {}
    async with uvicorn_worker(url, args.port) as server:
        headers = {"Authorization": f"Bearer {key}"}
        base = f"http://127.0.0.1:{args.port}"
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:
            for name, query in workloads.items():
                results[name] = {
                    **await time_query(client, server.pid, query, args.runs),
                    "statements": statements[name],
                }
            results["export leads.csv"] = await export_all_leads(client, server.pid)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
