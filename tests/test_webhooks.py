"""Webhooks: management, SSRF refusal, signed at-least-once delivery with retries, claiming."""

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn
from live import free_port, live_server
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tortoise import connections
from tortoise.transactions import in_transaction

from models import Role
from models.webhooks import UnsafeUrl, Webhook, WebhookDelivery, backoff, check_url, claim

CREATE = "webhook { id url events active } secret"
LIST = """{ webhooks { id url events deliveries(first: 10) { edges { node {
  eventId event status attempts lastStatusCode lastError deliveredAt } } } } }"""


async def test_admin_creates_lists_and_deletes_webhooks(tenant):
    """createWebhook returns the secret once (never listed); non-admins are FORBIDDEN;
    deleteWebhook removes it."""
    result = await tenant.mutate(
        "createWebhook",
        {"url": "https://93.184.216.34/hook", "events": ["LEAD_SALES_READY", "SCORE_CHANGED"]},
        CREATE,
    )
    assert result["userErrors"] == [] and result["secret"].startswith("whsec_")
    webhook = result["webhook"]
    assert webhook["events"] == ["LEAD_SALES_READY", "SCORE_CHANGED"] and webhook["active"]
    listed = (await tenant.gql(LIST))["webhooks"]
    assert [w["id"] for w in listed] == [webhook["id"]] and "secret" not in listed[0]
    response = await tenant.post(LIST, role=Role.MARKETING)
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    deleted = await tenant.mutate("deleteWebhook", {"id": webhook["id"]}, "deletedId")
    assert deleted["deletedId"] == webhook["id"]
    assert (await tenant.gql(LIST))["webhooks"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "ftp://93.184.216.34/hook",
        "not a url",
    ],
)
async def test_loopback_private_and_non_http_urls_are_refused(tenant, url):
    """SSRF: URLs resolving to loopback, private, link-local addresses (or not http) are
    refused with an INVALID userError on `url`, and nothing is created."""
    result = await tenant.mutate("createWebhook", {"url": url, "events": ["SCORE_CHANGED"]}, CREATE)
    assert [(e["field"], e["code"]) for e in result["userErrors"]] == [(["url"], "INVALID")]
    assert result["webhook"] is None and result["secret"] is None
    with pytest.raises(UnsafeUrl):
        await check_url(url, allow_private=False)


def test_backoff_starts_at_a_second_and_doubles_to_the_ceiling():
    """1 s, 2 s, 4 s ... capped: a receiver failing twice is served about 3 s later."""
    assert [backoff(n, 60).total_seconds() for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


async def test_concurrent_claims_never_take_the_same_delivery(tenant):
    """Two dispatchers claiming at the same moment get disjoint deliveries (SKIP LOCKED on
    PostgreSQL, plus a lease), and together all that are due."""
    hook = await Webhook.create(
        workspace_id=tenant.workspace.id, url="https://93.184.216.34/", events=[], secret="s"
    )
    now = datetime.now(UTC)
    for n in range(40):
        await WebhookDelivery.create(
            webhook=hook, event_id=f"e{n}", event="SCORE_CHANGED", payload={}, next_attempt_at=now
        )

    async def one_claim() -> set[int]:
        async with in_transaction() as conn:
            return {r["id"] for r in await claim(conn, now, timedelta(minutes=1), 25)}

    first, second = await asyncio.gather(one_claim(), one_claim())
    assert not first & second
    assert len(first | second) == 40


class Receiver:
    """A webhook receiver on loopback answering from a script of status codes."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[tuple[dict, bytes]] = []
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        self.requests.append((dict(request.headers), await request.body()))
        status = self.statuses[min(len(self.requests), len(self.statuses)) - 1]
        return Response(status_code=status)


@contextlib.asynccontextmanager
async def serving(receiver: Receiver):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(receiver.app, port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        server.should_exit = True
        await task


def verify(secret: str, headers: dict, body: bytes) -> bool:
    """What a receiver does (the README's snippet)."""
    parts = dict(item.split("=", 1) for item in headers["leadgraph-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    fresh = abs(time.time() - int(parts["t"])) < 300
    return fresh and hmac.compare_digest(expected.hexdigest(), parts["v1"])


async def test_sales_ready_lead_is_posted_signed_and_retried_until_delivered(settings, tenant):
    """A real server process (LEADGRAPH_WEBHOOK_ALLOW_PRIVATE=1) runs the dispatcher: a lead
    becoming sales-ready is POSTed to a loopback receiver that answers 500, 500, 200; the
    receiver gets the same eventId three times, each correctly signed, and the delivery ends
    DELIVERED with 3 attempts. A rolled-back status change sends nothing."""
    receiver = Receiver([500, 500, 200])
    async with (
        serving(receiver) as url,
        live_server(settings.database_url, LEADGRAPH_WEBHOOK_ALLOW_PRIVATE="1") as server,
    ):
        key = tenant.keys[Role.ADMIN]
        created = await server.gql(
            key,
            f"mutation($i: CreateWebhookInput!) {{ createWebhook(input: $i) {{ {CREATE} }} }}",
            {"i": {"url": url, "events": ["LEAD_SALES_READY"]}},
        )
        secret = created["createWebhook"]["secret"]
        lead = await server.gql(
            key, 'mutation { createLead(input: {topic: "Solar", email: "a@b.io"}) { lead { id } } }'
        )
        lead_id = lead["createLead"]["lead"]["id"]
        items = [{"leadId": lead_id, "type": t} for t in ["MEETING"] + ["FORM_SUBMITTED"] * 3]
        await server.gql(
            key,
            "mutation($i: RecordInteractionsInput!) { recordInteractions(input: $i) { "
            "scoreChanges { becameSalesReady } } }",
            {"i": {"interactions": items}},
        )
        for _ in range(150):
            if len(receiver.requests) >= 3:
                break
            await asyncio.sleep(0.1)
        assert len(receiver.requests) == 3
        bodies = [json.loads(body) for _, body in receiver.requests]
        assert {b["id"] for b in bodies} == {receiver.requests[0][0]["leadgraph-event-id"]}
        assert all(verify(secret, headers, body) for headers, body in receiver.requests)
        assert not verify("whsec_wrong", *receiver.requests[0])
        assert bodies[0]["event"] == "LEAD_SALES_READY"
        assert bodies[0]["data"]["lead"] == lead_id
        assert bodies[0]["data"]["toStatus"] == "SALES_READY"

        for _ in range(50):
            hooks = (await server.gql(key, LIST))["webhooks"]
            (delivery,) = [e["node"] for e in hooks[0]["deliveries"]["edges"]]
            if delivery["status"] == "DELIVERED":
                break
            await asyncio.sleep(0.1)
        assert (delivery["status"], delivery["attempts"], delivery["lastStatusCode"]) == (
            "DELIVERED",
            3,
            200,
        )
        assert delivery["eventId"] == bodies[0]["id"]

        class Abort(Exception):
            pass

        p = "$1" if settings.is_postgres else "?"
        with pytest.raises(Abort):
            async with in_transaction() as conn:
                await conn.execute_query(
                    "INSERT INTO lead_event (workspace_id, lead_id, at, to_status) "
                    f"SELECT workspace_id, id, CURRENT_TIMESTAMP, 'SALES_READY' FROM lead "
                    f"WHERE workspace_id = {p}",
                    [tenant.workspace.id],
                )
                raise Abort
        await asyncio.sleep(2)
        assert len(receiver.requests) == 3
        rows = await connections.get("default").execute_query_dict(
            "SELECT COUNT(*) AS n FROM webhook_delivery"
        )
        assert rows[0]["n"] == 1
