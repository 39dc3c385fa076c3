"""Issue 7 findings that need PostgreSQL's concurrency and its statement_timeout, through a real
uvicorn on loopback (findings 1, 2, 7) or the ASGI app with concurrent requests (8, 9)."""

import asyncio
import contextlib
import os
import socket
import sys

import asyncpg
import httpx
import pytest
from scoring_helpers import contact_with_leads, only_model

from models import Account, Contact, Interaction, Role

pytestmark = pytest.mark.skipif(
    not os.environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="statement_timeout, row locks and real concurrency are PostgreSQL's",
)

# Nine search words and an exact count over every contact: an "expensive read" (scan 10,900).
SLOW = '{ contacts(first: 100, search: "a e i o u y q z k") { totalCount } }'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def uvicorn(settings, **env: str):
    """`leadgraph serve` on a free port with extra LEADGRAPH_* settings."""
    port = free_port()
    environment = {
        **os.environ,
        "LEADGRAPH_DATABASE_URL": settings.database_url,
        "LEADGRAPH_DB_POOL_MAX": "10",  # the PostgreSQL server is shared: be a good neighbour
        "LEADGRAPH_LOG_LEVEL": "warning",
        "LEADGRAPH_RESCORE_INTERVAL_SECONDS": "0",
        "LEADGRAPH_RATE_LIMIT_PER_MINUTE": "0",
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "serve", "--port", str(port), env=environment
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(150):
                try:
                    if (await client.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise RuntimeError("uvicorn did not come up")
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


async def many_contacts(settings, workspace_id: int, n: int) -> None:
    conn = await asyncpg.connect(settings.database_url.replace("postgres://", "postgresql://"))
    try:
        await conn.execute(
            "INSERT INTO contact (workspace_id, first_name, last_name, email, email_normalized, "
            "job_title, created_at, updated_at) SELECT $1, 'first' || g, 'last' || g, "
            "'p' || g || '@example.com', 'p' || g || '@example.com', 'title ' || g, now(), now() "
            "FROM generate_series(1, $2) g",
            workspace_id,
            n,
        )
        await conn.execute("ANALYZE contact")
    finally:
        await conn.close()


async def active_backends(settings) -> list[str]:
    """Queries other backends of this database are running right now."""
    conn = await asyncpg.connect(settings.database_url.replace("postgres://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
            "AND state = 'active' AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [r["query"] for r in rows]


async def send(url: str, key: str, query: str, variables: dict | None = None) -> httpx.Response:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as client:
        return await client.post("/graphql", json={"query": query, "variables": variables or {}})


def code(response: httpx.Response) -> str | None:
    errors = response.json().get("errors") or []
    return errors[0].get("extensions", {}).get("code", errors[0]["message"]) if errors else None


async def test_1_2_statement_timeout_stops_the_backend(settings, tenant):
    """A read that outlasts LEADGRAPH_STATEMENT_TIMEOUT_MS (here 100 ms) answers QUERY_TIMEOUT,
    and afterwards no backend of the database is still running it (pg_stat_activity)."""
    await many_contacts(settings, tenant.workspace.id, 200_000)
    async with uvicorn(settings, LEADGRAPH_STATEMENT_TIMEOUT_MS="100") as url:
        response = await send(url, tenant.keys[Role.READ_ONLY], SLOW)
        assert response.status_code == 200, response.text
        assert code(response) == "QUERY_TIMEOUT", response.text
        assert response.json()["data"] is None
        assert [q for q in await active_backends(settings) if "contact" in q] == []
        # the server and its pool are fine afterwards
        fine = await send(url, tenant.keys[Role.READ_ONLY], "{ accounts { totalCount } }")
        assert fine.json() == {"data": {"accounts": {"totalCount": 0}}}


async def test_2_expensive_reads_are_capped_per_workspace(settings, make_tenant):
    """With one expensive-read slot per workspace, four concurrent expensive reads from one
    workspace cannot all run: those that wait longer than the statement timeout get
    RATE_LIMITED. Another workspace's expensive read has its own slot and runs meanwhile."""
    ours, theirs = await make_tenant("Noisy"), await make_tenant("Quiet")
    await many_contacts(settings, ours.workspace.id, 200_000)
    await many_contacts(settings, theirs.workspace.id, 200_000)
    async with uvicorn(
        settings,
        LEADGRAPH_STATEMENT_TIMEOUT_MS="150",
        LEADGRAPH_MAX_EXPENSIVE_READS_PER_WORKSPACE="1",
    ) as url:
        noisy = [send(url, ours.keys[Role.READ_ONLY], SLOW) for _ in range(4)]
        quiet = send(url, theirs.keys[Role.READ_ONLY], SLOW)
        *noisy_answers, quiet_answer = await asyncio.gather(*noisy, quiet)
    noisy_codes = [code(r) for r in noisy_answers]
    assert set(noisy_codes) <= {"QUERY_TIMEOUT", "RATE_LIMITED"}, noisy_codes
    assert "RATE_LIMITED" in noisy_codes
    assert code(quiet_answer) == "QUERY_TIMEOUT"  # it ran (and hit the budget), not refused


RECORD = """mutation($i: RecordInteractionInput!) { recordInteraction(input: $i) {
  interaction { id } userErrors { code } } }"""
UPDATE_MODEL = """mutation($i: UpdateScoringModelInput!) { updateScoringModel(input: $i) {
  scoringModel { id } userErrors { code } } }"""


async def test_7_deadlocks_are_retried(settings, tenant):
    """120 concurrent recordInteraction with 3 concurrent updateScoringModel (which re-score
    every lead): every request succeeds; none surfaces a deadlock as "Unexpected error."."""
    model = await only_model(tenant, rules=[{"interactionType": "EMAIL_OPENED", "points": 1}])
    contacts = [await contact_with_leads(tenant, topics=["A", "B"]) for _ in range(6)]
    records = [{"i": {"contactId": contacts[n % 6][0], "type": "EMAIL_OPENED"}} for n in range(120)]
    updates = [{"i": {"id": model["id"], "salesReadyThreshold": 40 + n}} for n in range(3)]
    # A generous budget: this test is about deadlocks, and lock waits count toward the budget.
    async with uvicorn(settings, LEADGRAPH_STATEMENT_TIMEOUT_MS="60000") as url:
        answers = await asyncio.gather(
            *(send(url, tenant.keys[Role.MARKETING], RECORD, v) for v in records),
            *(send(url, tenant.keys[Role.MARKETING], UPDATE_MODEL, v) for v in updates),
        )
    for answer in answers:
        assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
    assert await Interaction.filter(workspace_id=tenant.workspace.id).count() == 120


QUALIFY = """mutation($i: QualifyLeadInput!) { qualifyLead(input: $i) {
  contact { id } account { id } userErrors { code message } } }"""


async def sales_only_leads(tenant, n: int, **fields) -> list[str]:
    leads = []
    for i in range(n):
        lead = await tenant.mutate(
            "createLead", {"topic": f"T{i}", "lastName": f"L{i}", **fields}, "lead { id }"
        )
        leads.append(lead["lead"]["id"])
    return leads


async def test_8_same_email_qualified_at_once_shares_one_contact(tenant):
    """Two sales-only leads with one email, qualified concurrently: both succeed and are
    linked to one contact (no unique-violation "Unexpected error.")."""
    leads = await sales_only_leads(tenant, 2, email="same@example.com")
    answers = await asyncio.gather(
        *(tenant.gql(QUALIFY, {"i": {"leadId": lead}}) for lead in leads)
    )
    payloads = [a["qualifyLead"] for a in answers]
    assert all(p["userErrors"] == [] for p in payloads), payloads
    assert len({p["contact"]["id"] for p in payloads}) == 1
    assert await Contact.filter(workspace_id=tenant.workspace.id).count() == 1


async def test_9_same_company_qualified_at_once_shares_one_account(tenant):
    """Five sales-only leads naming one new company, qualified concurrently, create one
    account, as the README promises (matching ignores case)."""
    leads = await sales_only_leads(tenant, 3, companyName="NewCo")
    leads += await sales_only_leads(tenant, 2, companyName="newco")
    answers = await asyncio.gather(
        *(tenant.gql(QUALIFY, {"i": {"leadId": lead}}) for lead in leads)
    )
    payloads = [a["qualifyLead"] for a in answers]
    assert all(p["userErrors"] == [] for p in payloads), payloads
    assert len({p["account"]["id"] for p in payloads}) == 1
    assert await Account.filter(workspace_id=tenant.workspace.id).count() == 1


async def test_every_pooled_session_carries_the_time_budget(app):
    """The server's pool sets statement_timeout and idle_in_transaction_session_timeout from
    the settings (defaults 5 s and 15 s) on each session it opens, and turns JIT off (it costs
    compiled reads more than it saves)."""
    from tortoise import connections

    conn = connections.get("default")
    statement = await conn.execute_query_dict("SHOW statement_timeout")
    idle = await conn.execute_query_dict("SHOW idle_in_transaction_session_timeout")
    assert statement[0]["statement_timeout"] == "5s"
    assert idle[0]["idle_in_transaction_session_timeout"] == "15s"
    assert (await conn.execute_query_dict("SHOW jit"))[0]["jit"] == "off"
