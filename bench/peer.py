"""leadgraph side by side with PostGraphile v5 on the same database, same queries, one run.

    BENCH_ROUNDS=5 BENCH_SECONDS=4 python bench/peer.py [--connections 16]   (the defaults)

Needs `wrk` and `npm install` in bench/postgraphile (Node >= 22 comes from the npm package
`node`; `make bench-peer` does both). Uses the seeded bench database
(LEADGRAPH_BENCH_DATABASE_URL, see bench/common.py). Each workload has a plain form and the same
query with one fragment per type, as Apollo or Relay send it; every round runs leadgraph and
PostGraphile on the plain form, then on the fragment form, so all four see the same machine
noise (five rounds by default: with two or three, the nested read's fragment form / plain form,
the same statement, measured anywhere from 0.84 to 1.12). The table gives requests/s per server
(min-max over rounds), leadgraph / PostGraphile (median of the rounds' ratios) and leadgraph's
fragment form / plain form. Both servers' answers carry the same rows (checked once before
timing). The last read workload asks for a different contact on every request (2,000 contacts
in turn), as a screen of contacts does. Then leadgraph's `recordInteraction` runs as many rounds
on a scratch copy of the database (bench/record_interactions.py's requests), so one run prints
every target of the compiled read path: each read >= 1.5x PostGraphile (a one-contact lookup
>= 1.0x), each fragment form within 10 % of its plain form, `recordInteraction` >= 1,000/s
(the median of its rounds). The table's last column says which held; the run exits 1 when one
did not.
"""

# ruff: noqa: E501 (the GraphQL documents are written as clients write them)
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import httpx
from common import (
    Role,
    bench_args,
    database_url,
    issue_key,
    prepare,
    run_wrk,
    scratch_copy,
    uvicorn_worker,
)
from nested_reads import LUA, first_contact_id
from record_interactions import sample, wrk_script
from strawberry import relay

PEER = Path(__file__).resolve().parent / "postgraphile"

# leadgraph query, PostGraphile query; {ws} is the workspace id, {contact} a contact's row id.
NESTED_LG = """{ accounts(first: 20) { edges { node { name
  contacts(first: 20) { edges { node { firstName lastName email
    leads(first: 10) { edges { node { topic status score } } }
    interactions(first: 5) { edges { node { type occurredAt } } } } } } } } } }"""
NESTED_PG = """{ allAccounts(first: 20, orderBy: PRIMARY_KEY_ASC, condition: {workspaceId: {ws}}) {
  edges { node { name
  contactsByAccountId(first: 20, orderBy: PRIMARY_KEY_ASC) { edges { node { firstName lastName email
    leadsByContactId(first: 10, orderBy: PRIMARY_KEY_ASC) { edges { node { topic status score } } }
    interactionsByContactId(first: 5, orderBy: [OCCURRED_AT_DESC, PRIMARY_KEY_DESC]) {
      edges { node { type occurredAt } } } } } } } } } }"""
NESTED_LG_FRAGMENTS = """query Accounts { accounts(first: 20) { edges { node { ...A } } } }
fragment A on Account { name contacts(first: 20) { edges { node { ...C } } } }
fragment C on Contact { firstName lastName email
  leads(first: 10) { edges { node { ...L } } }
  interactions(first: 5) { edges { node { ...I } } } }
fragment L on Lead { topic status score }
fragment I on Interaction { type occurredAt }"""
NESTED_PG_FRAGMENTS = """query Accounts { allAccounts(first: 20, orderBy: PRIMARY_KEY_ASC, condition: {workspaceId: {ws}}) {
  edges { node { ...A } } } }
fragment A on Account { name contactsByAccountId(first: 20, orderBy: PRIMARY_KEY_ASC) {
  edges { node { ...C } } } }
fragment C on Contact { firstName lastName email
  leadsByContactId(first: 10, orderBy: PRIMARY_KEY_ASC) { edges { node { ...L } } }
  interactionsByContactId(first: 5, orderBy: [OCCURRED_AT_DESC, PRIMARY_KEY_DESC]) {
    edges { node { ...I } } } }
fragment L on Lead { topic status score }
fragment I on Interaction { type occurredAt }"""
LIST_LG = """{ contacts(first: 50, filter: {account: {industry: {eq: "Retail"}},
  leads: {some: {topic: {eq: "Solar"}}}}, orderBy: [{field: LAST_NAME}]) {
  edges { node { firstName lastName email account { name } } } } }"""
LIST_PG = """{ allContacts(first: 50, condition: {workspaceId: {ws}}, filter: {
  accountByAccountId: {industry: {equalTo: "Retail"}},
  leadsByContactId: {some: {topic: {equalTo: "Solar"}}}}, orderBy: [LAST_NAME_ASC, PRIMARY_KEY_ASC]) {
  edges { node { firstName lastName email accountByAccountId { name } } } } }"""
LIST_LG_FRAGMENTS = """query Contacts { contacts(first: 50, filter: {account: {industry: {eq: "Retail"}},
  leads: {some: {topic: {eq: "Solar"}}}}, orderBy: [{field: LAST_NAME}]) {
  edges { node { ...C } } } }
fragment C on Contact { firstName lastName email account { ...A } }
fragment A on Account { name }"""
LIST_PG_FRAGMENTS = """query Contacts { allContacts(first: 50, condition: {workspaceId: {ws}}, filter: {
  accountByAccountId: {industry: {equalTo: "Retail"}},
  leadsByContactId: {some: {topic: {equalTo: "Solar"}}}}, orderBy: [LAST_NAME_ASC, PRIMARY_KEY_ASC]) {
  edges { node { ...C } } } }
fragment C on Contact { firstName lastName email accountByAccountId { ...A } }
fragment A on Account { name }"""
ONE_LG = """query($id: ID!) { node(id: $id) { ... on Contact { firstName lastName email jobTitle
  account { name industry } leads(first: 10) { edges { node { topic status source score } } } } } }"""
ONE_PG = """query($id: Int!) { contactByRowId(rowId: $id) { firstName lastName email jobTitle
  accountByAccountId { name industry }
  leadsByContactId(first: 10, orderBy: PRIMARY_KEY_ASC) { edges { node { topic status source score } } } } }"""
ONE_LG_FRAGMENTS = """query Contact($id: ID!) { node(id: $id) { ...C } }
fragment C on Contact { firstName lastName email jobTitle account { ...A }
  leads(first: 10) { edges { node { ...L } } } }
fragment A on Account { name industry }
fragment L on Lead { topic status source score }"""
ONE_PG_FRAGMENTS = """query Contact($id: Int!) { contactByRowId(rowId: $id) { ...C } }
fragment C on Contact { firstName lastName email jobTitle accountByAccountId { ...A }
  leadsByContactId(first: 10, orderBy: PRIMARY_KEY_ASC) { edges { node { ...L } } } }
fragment A on Account { name industry }
fragment L on Lead { topic status source score }"""

# (name, (leadgraph, PostGraphile) plain, the same with one fragment per type, a different
# contact on every request, the least leadgraph / PostGraphile the target allows): each form and
# server runs in turn within every round.
WORKLOADS = [
    (
        "20 accounts > 20 contacts > 10 leads + 5 interactions",
        (NESTED_LG, NESTED_PG),
        (NESTED_LG_FRAGMENTS, NESTED_PG_FRAGMENTS),
        False,
        1.5,
    ),
    (
        "50 contacts filtered by related rows, sorted",
        (LIST_LG, LIST_PG),
        (LIST_LG_FRAGMENTS, LIST_PG_FRAGMENTS),
        False,
        1.5,
    ),
    (
        "one contact by id with account and leads",
        (ONE_LG, ONE_PG),
        (ONE_LG_FRAGMENTS, ONE_PG_FRAGMENTS),
        False,
        1.0,
    ),
    (
        "one contact by id, a different contact on every request",
        (ONE_LG, ONE_PG),
        (ONE_LG_FRAGMENTS, ONE_PG_FRAGMENTS),
        True,
        1.0,
    ),
]
VARIED = 2000  # contacts the varying workloads cycle through
FRAGMENT_TARGET = 0.9  # the fragment form's requests/s at least this share of the plain form's
WRITES_TARGET = 1000  # recordInteraction requests/s on one worker

CYCLE = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%s
bodies = {
%s
}
i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""


def cycle_lua(bodies: list[dict], key: str | None) -> str:
    """wrk script sending `bodies` in turn (a different variable value on every request)."""
    header = f'wrk.headers["Authorization"] = "Bearer {key}"' if key else ""
    return CYCLE % (header, ",\n".join(f"[[{json.dumps(b)}]]" for b in bodies))


async def contact_rows(url: str, workspace_id: int, count: int) -> list[int]:
    """`count` contacts of the workspace with an account, spread over the table."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT id FROM contact WHERE workspace_id = $1 AND account_id IS NOT NULL "
            "ORDER BY md5(id::text) LIMIT $2",
            workspace_id,
            count,
        )
    finally:
        await conn.close()
    return [r["id"] for r in rows]


@contextlib.asynccontextmanager
async def postgraphile(url: str, port: int):
    node = PEER / "node_modules" / ".bin" / "node"
    env = {**os.environ, "DATABASE_URL": url, "PORT": str(port), "NODE_ENV": "production"}
    server = subprocess.Popen([str(node), "server.mjs"], cwd=PEER, env=env)
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(150):
                with contextlib.suppress(httpx.TransportError):
                    body = {"query": "{ __typename }"}
                    if (
                        await client.post(f"http://127.0.0.1:{port}/graphql", json=body)
                    ).status_code == 200:
                        break
                await asyncio.sleep(0.2)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def rows(value) -> list:
    """The leaf values of an answer in order, whatever the field names (to compare peers)."""
    if isinstance(value, dict):
        return [x for k, v in value.items() if k not in ("__typename", "id") for x in rows(v)]
    if isinstance(value, list):
        return [x for v in value for x in rows(v)]
    return [value]


async def scripts(client, ports, key, workspace_id, lg_query, pg_query, contact, varied):
    """The wrk scripts of one form for (leadgraph, PostGraphile), after checking that both
    answers carry the same rows; and what was checked."""
    lg_port, pg_port = ports
    pg_query = pg_query.replace("{ws}", str(workspace_id))
    gid = relay.to_base64("Contact", contact)
    lg_body = {"query": lg_query, "variables": {"id": gid}}
    pg_body = {"query": pg_query, "variables": {"id": contact}}
    if "$id" not in lg_query:
        lg_body.pop("variables")
        pg_body.pop("variables")
    lg = await client.post(
        f"http://127.0.0.1:{lg_port}/graphql",
        json=lg_body,
        headers={"Authorization": f"Bearer {key}"},
    )
    pg = await client.post(f"http://127.0.0.1:{pg_port}/graphql", json=pg_body)
    assert "errors" not in lg.json(), lg.text[:500]
    assert "errors" not in pg.json(), pg.text[:500]
    lg_rows, pg_rows = rows(lg.json()["data"]), rows(pg.json()["data"])
    same = "same rows" if lg_rows == pg_rows else f"rows differ ({len(lg_rows)} vs {len(pg_rows)})"
    checked = f"{same}; {len(lg.content)} vs {len(pg.content)} bytes"
    if varied:
        lg_bodies = [
            {"query": lg_query, "variables": {"id": relay.to_base64("Contact", row)}}
            for row in varied
        ]
        pg_bodies = [{"query": pg_query, "variables": {"id": row}} for row in varied]
        return cycle_lua(lg_bodies, key), cycle_lua(pg_bodies, None), checked
    lg_lua = LUA % (key, json.dumps(lg_body))
    pg_lua = LUA.replace('wrk.headers["Authorization"] = "Bearer %s"\n', "") % json.dumps(pg_body)
    return lg_lua, pg_lua, checked


def span(values: list[float]) -> str:
    return f"{min(values):,.0f}–{max(values):,.0f}"


def verdict(value: float, target: float) -> str:
    return "held" if value >= target else "MISSED"


async def record_rounds(
    url: str, workspace_id: int, port: int, rounds: int, duration: int, connections: int
) -> list[float]:
    """recordInteraction requests/s over `rounds` runs of one worker, on a scratch copy of the
    seeded database (the reads above see the seeded rows unchanged, run after run)."""
    async with scratch_copy(url, "peer") as copy:
        key = await issue_key(copy, workspace_id, Role.MARKETING)
        contact_ids, _, _ = await sample(copy, workspace_id)
        lua = wrk_script(contact_ids, key)
        async with uvicorn_worker(copy, port):
            run_wrk(port, lua, 1, connections)  # warm-up
            return [run_wrk(port, lua, duration, connections)["rps"] for _ in range(rounds)]


async def main() -> int:
    args = bench_args(connections=16, port=9820)
    rounds = int(os.environ.get("BENCH_ROUNDS", "5"))
    duration = min(args.duration, int(os.environ.get("BENCH_SECONDS", "4")))
    url = database_url()
    workspace_id = await prepare(url, args.contacts)
    key = await issue_key(url, workspace_id, Role.READ_ONLY)
    contact_gid = await first_contact_id(url, workspace_id)
    contact_row = int(__import__("base64").b64decode(contact_gid).decode().split(":")[1])
    varied = await contact_rows(url, workspace_id, VARIED)
    ports = (args.port, args.port + 1)
    table = []
    async with (
        uvicorn_worker(url, ports[0]),
        postgraphile(url, ports[1]),
        httpx.AsyncClient(timeout=60) as client,
    ):
        for name, plain, fragments, vary, target in WORKLOADS:
            forms = [
                await scripts(
                    client, ports, key, workspace_id, lg, pg, contact_row, varied if vary else None
                )
                for lg, pg in (plain, fragments)
            ]
            for lg_lua, pg_lua, _ in forms:  # warm-up
                run_wrk(ports[0], lg_lua, 1, args.connections)
                run_wrk(ports[1], pg_lua, 1, args.connections)
            rps = [([], []), ([], [])]  # per form: leadgraph, PostGraphile
            for _ in range(rounds):
                for (lg_lua, pg_lua, _), (lg_rps, pg_rps) in zip(forms, rps, strict=True):
                    lg_rps.append(run_wrk(ports[0], lg_lua, duration, args.connections)["rps"])
                    pg_rps.append(run_wrk(ports[1], pg_lua, duration, args.connections)["rps"])
            (lg_plain, pg_plain), (lg_frag, pg_frag) = rps
            fragment_cost = statistics.median(f / p for f, p in zip(lg_frag, lg_plain, strict=True))
            for label, (lg_rps, pg_rps), (_, _, checked) in zip(
                (name, "  the same, one fragment per type"), rps, forms, strict=True
            ):
                ratio = statistics.median(a / b for a, b in zip(lg_rps, pg_rps, strict=True))
                held = f"≥ {target}×: {verdict(ratio, target)}"
                table.append((label, span(lg_rps), span(pg_rps), f"{ratio:.2f}×", held))
                print(
                    f"{label}: leadgraph {span(lg_rps)} req/s, PostGraphile {span(pg_rps)} req/s, "
                    f"ratio {ratio:.2f} ({checked})",
                    flush=True,
                )
            print(f"  leadgraph's fragment form / plain form: {fragment_cost:.2f}", flush=True)
            held = f"{table[-1][4]}; fragment ÷ plain {fragment_cost:.2f} ≥ {FRAGMENT_TARGET}: "
            table[-1] = (*table[-1][:4], held + verdict(fragment_cost, FRAGMENT_TARGET))
    writes = await record_rounds(url, workspace_id, ports[0], rounds, duration, args.connections)
    print(f"recordInteraction (a scratch copy): leadgraph {span(writes)} req/s", flush=True)
    held = f"median {statistics.median(writes):,.0f} ≥ {WRITES_TARGET:,}: "
    table.append(
        (
            "recordInteraction: re-scores the contact's leads, returns the changes",
            span(writes),
            "–",
            "–",
            held + verdict(statistics.median(writes), WRITES_TARGET),
        )
    )
    print(
        "\n| workload | leadgraph req/s | PostGraphile req/s | leadgraph ÷ PostGraphile | target |"
    )
    print("|---|---|---|---|---|")
    for label, *cells in table:
        print(f"| {label.strip()} | {' | '.join(cells)} |")
    missed = [label.strip() for label, *cells in table if "MISSED" in cells[-1]]
    print("\nevery target held" if not missed else f"\ntargets missed: {'; '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
