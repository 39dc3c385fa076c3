"""Capture benchmark: trackVisit (anonymous and known visitors) and submitForm over HTTP on
PostgreSQL, with a CAPTURE key, through one uvicorn worker and wrk.

    python bench/capture.py [--contacts 100000] [--duration 15] [--connections 16]

Uses the seeded `bench` workspace of the other benchmarks, on a scratch copy of the database.
Anonymous visits come from random visitor ids; known visits from 200 visitors linked to contacts
by a form first (each records a PAGE_VISITED interaction and re-scores the contact's leads);
forms use a new email each.
Per-address and per-key limits are off: throughput is measured, not the limits.
"""

import asyncio
import json
import os

import httpx
from common import (
    Role,
    bench_args,
    cpu_seconds,
    database_url,
    issue_key,
    prepare,
    run_wrk,
    scratch_copy,
    uvicorn_worker,
)

TRACK = "mutation($i: TrackVisitInput!) { trackVisit(input: $i) { accepted userErrors { code } } }"
SUBMIT = "mutation($i: SubmitFormInput!) { submitForm(input: $i) { accepted userErrors { code } } }"
KNOWN = 200
LUA = """math.randomseed(%d)
local template = [[%s]]
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  local id = tostring(math.random(%d)) .. "-" .. tostring(math.random(1000000000))
  local body = string.gsub(template, "RANDOM", id)
  return wrk.format(nil, nil, nil, body)
end
"""
LUA_KNOWN = """math.randomseed(11)
local template = [[%s]]
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
request = function()
  local body = string.gsub(template, "RANDOM", "known-" .. tostring(math.random(%d)))
  return wrk.format(nil, nil, nil, body)
end
"""


def body(query: str, input: dict) -> str:
    return json.dumps({"query": query, "variables": {"i": input}})


async def main() -> None:
    args = bench_args(connections=16, port=8767)
    os.environ["LEADGRAPH_CAPTURE_RATE_LIMIT_PER_ADDRESS"] = "0"
    seeded = database_url()
    workspace_id = await prepare(seeded, args.contacts)
    async with scratch_copy(seeded) as url:  # forms create contacts: keep them off the seed
        await measure(args, url, workspace_id)


async def measure(args, url: str, workspace_id: int) -> None:
    key = await issue_key(url, workspace_id, Role.CAPTURE)
    visit = {"visitorId": "RANDOM", "url": "https://shop.example/p", "utm": {"campaign": "b"}}
    workloads = {
        "trackVisit (anonymous visitor)": LUA % (1, body(TRACK, visit), key, 1000),
        "trackVisit (known visitor: PAGE_VISITED + re-score)": LUA_KNOWN
        % (body(TRACK, visit), key, KNOWN),
        "submitForm (new email: contact, lead, form, re-score)": LUA
        % (
            2,
            body(
                SUBMIT, {"email": "RANDOM@bench.example", "topic": "Bench", "visitorId": "RANDOM"}
            ),
            key,
            1000,
        ),
    }
    async with uvicorn_worker(url, args.port) as server, httpx.AsyncClient(timeout=60) as client:
        for n in range(1, KNOWN + 1):  # link the known visitors
            response = await client.post(
                f"http://127.0.0.1:{args.port}/graphql",
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                content=body(
                    SUBMIT,
                    {
                        "email": f"known-{n}@bench.example",
                        "topic": "Bench",
                        "visitorId": f"known-{n}",
                    },
                ),
            )
            assert response.json()["data"]["submitForm"]["accepted"], response.text
        for name, lua in workloads.items():
            run_wrk(args.port, lua, 2, args.connections)  # warm-up
            cpu_before = cpu_seconds(server.pid)
            result = run_wrk(args.port, lua, args.duration, args.connections)
            result["cpu_ms_per_request"] = round(
                (cpu_seconds(server.pid) - cpu_before) * 1000 / max(result["requests"], 1), 2
            )
            print(f"{name}: {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
