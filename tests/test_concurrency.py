"""Exactness under concurrency, on PostgreSQL through a real uvicorn on loopback: no lost
update, no double count, and the (previousScore, score) pairs form one unbroken chain."""

import asyncio
import os
import socket
import sys
import time
from collections import defaultdict

import httpx
import pytest
from scoring_helpers import contact_with_leads, lead_state, only_model

from models import Interaction, Role

pytestmark = pytest.mark.skipif(
    not os.environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="SQLite runs one writer at a time; concurrency is proven on PostgreSQL",
)

RECORD = """mutation($i: RecordInteractionInput!) { recordInteraction(input: $i) {
  interaction { id } scoreChanges { lead { id } previousScore score } userErrors { code } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def server(settings):
    port = free_port()
    env = {
        **os.environ,
        "LEADGRAPH_DATABASE_URL": settings.database_url,
        "LEADGRAPH_DB_POOL_MAX": "30",
        "LEADGRAPH_LOG_LEVEL": "warning",
        "LEADGRAPH_RESCORE_INTERVAL_SECONDS": "0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "api.cli", "serve", "--port", str(port), env=env
    )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(150):
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        else:
            raise RuntimeError("uvicorn did not come up")
    yield url, process
    if process.returncode is None:
        process.terminate()
    await process.wait()


async def test_200_concurrent_records_lose_nothing(tenant, server):
    server, _ = server
    await only_model(
        tenant, threshold=10_000, rules=[{"interactionType": "EMAIL_OPENED", "points": 1}]
    )
    contact_id, leads = await contact_with_leads(tenant, topics=["A", "B", "C"])
    inputs = [{"contactId": contact_id, "type": "EMAIL_OPENED"} for _ in range(150)]
    inputs += [{"leadId": leads[0], "type": "EMAIL_OPENED"} for _ in range(50)]
    headers = {"Authorization": f"Bearer {tenant.keys[Role.MARKETING]}"}
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(
        base_url=server, headers=headers, limits=limits, timeout=120
    ) as client:
        responses = await asyncio.gather(
            *(
                client.post("/graphql", json={"query": RECORD, "variables": {"i": i}})
                for i in inputs
            )
        )
    chains = defaultdict(list)
    for response in responses:
        assert response.status_code == 200, response.text
        payload = response.json()["data"]["recordInteraction"]
        assert payload["userErrors"] == []
        for change in payload["scoreChanges"]:
            chains[change["lead"]["id"]].append((change["previousScore"], change["score"]))

    expected = {leads[0]: 200, leads[1]: 150, leads[2]: 150}
    assert await Interaction.filter(workspace_id=tenant.workspace.id).count() == 200
    for lead_id, final in expected.items():
        assert (await lead_state(tenant, lead_id))["score"] == final
        pairs = sorted(chains[lead_id])
        assert len(pairs) == final
        assert pairs == [(n, n + 1) for n in range(final)]  # one unbroken chain


async def test_concurrent_retries_with_one_idempotency_key_record_once(tenant, server):
    server, _ = server
    await only_model(tenant, rules=[{"interactionType": "EMAIL_OPENED", "points": 1}])
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["A"])
    body = {
        "query": RECORD,
        "variables": {
            "i": {"contactId": contact_id, "type": "EMAIL_OPENED", "idempotencyKey": "retry-1"}
        },
    }
    headers = {"Authorization": f"Bearer {tenant.keys[Role.MARKETING]}"}
    async with httpx.AsyncClient(base_url=server, headers=headers, timeout=60) as client:
        responses = await asyncio.gather(*(client.post("/graphql", json=body) for _ in range(20)))
    ids = {r.json()["data"]["recordInteraction"]["interaction"]["id"] for r in responses}
    assert len(ids) == 1
    assert await Interaction.filter(workspace_id=tenant.workspace.id).count() == 1
    assert (await lead_state(tenant, lead))["score"] == 1


BULK = """mutation($i: RecordInteractionsInput!) { recordInteractions(input: $i) {
  interactions { id } userErrors { code } } }"""


async def test_shutdown_drains_in_flight_requests(tenant, server):
    url, process = server
    contact_id, _ = await contact_with_leads(tenant, topics=["A", "B", "C"])
    items = [{"contactId": contact_id, "type": "EMAIL_OPENED"} for _ in range(1000)]
    headers = {"Authorization": f"Bearer {tenant.keys[Role.MARKETING]}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        started = time.monotonic()
        in_flight = asyncio.create_task(
            client.post(
                "/graphql", json={"query": BULK, "variables": {"i": {"interactions": items}}}
            )
        )
        await asyncio.sleep(0.3)  # the request is being served
        process.terminate()  # SIGTERM: uvicorn's graceful shutdown
        response = await in_flight
        elapsed = time.monotonic() - started
    assert elapsed > 0.3, "the request finished before the signal; the test proved nothing"
    assert response.status_code == 200
    assert len(response.json()["data"]["recordInteractions"]["interactions"]) == 1000
    # uvicorn re-raises the signal once it has shut down cleanly
    assert await process.wait() in (0, -15)
    assert await Interaction.filter(workspace_id=tenant.workspace.id).count() == 1000
