"""Prometheus metrics at /metrics (LEADGRAPH_METRICS=true), read back with prometheus-client's
own parser: requests by operation and outcome, latency, fast path, pool, rate-limit refusals."""

from dataclasses import replace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api import metrics
from api.app import create_app
from models import Role

TOKEN = "scrape-secret"


@pytest.fixture
async def observed(settings, app):
    """A second app on the suite's database with metrics on (5 requests a minute per key)."""
    application = create_app(
        replace(settings, metrics=True, metrics_token=TOKEN, rate_limit_per_minute=5)
    )
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://metrics") as client:
        yield client


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset], float]:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_metrics_count_requests_outcomes_latency_fast_path_pool_and_refusals(
    tenant, observed, settings
):
    """After a handful of requests the exposition holds each counter with the right increase."""
    admin = {"Authorization": f"Bearer {tenant.keys[Role.ADMIN]}"}
    reader = {"Authorization": f"Bearer {tenant.keys[Role.READ_ONLY]}"}
    before = await scrape(observed)

    top = "query TopAccounts { accounts(first: 3) { totalCount edges { node { name } } } }"
    for _ in range(2):
        assert (await observed.post("/graphql", json={"query": top}, headers=admin)).json()["data"]
    invalid = await observed.post("/graphql", json={"query": "{ nope }"}, headers=admin)
    assert invalid.json()["errors"]
    fragment = (
        "query WithFragment { accounts(first: 1) { ...Count } } "
        "fragment Count on AccountConnection { totalCount }"
    )
    await observed.post("/graphql", json={"query": fragment}, headers=admin)
    assert (await observed.post("/graphql", json={"query": top})).status_code == 401
    ping = "query Ping { accounts(first: 1) { totalCount } }"
    statuses = [
        (await observed.post("/graphql", json={"query": ping}, headers=reader)).status_code
        for _ in range(6)
    ]
    assert statuses == [200] * 5 + [429]

    after = await scrape(observed)
    requests = "leadgraph_graphql_requests_total"
    assert delta(before, after, requests, operation="TopAccounts", outcome="ok") == 2
    assert delta(before, after, requests, operation="", outcome="invalid") == 1
    assert delta(before, after, requests, operation="WithFragment", outcome="ok") == 1
    assert delta(before, after, requests, operation="", outcome="unauthenticated") == 1
    assert delta(before, after, requests, operation="Ping", outcome="ok") == 5
    assert delta(before, after, requests, operation="", outcome="rate_limited") == 1
    assert delta(before, after, "leadgraph_rate_limit_refusals_total") == 1

    latency = "leadgraph_graphql_request_duration_seconds"
    assert delta(before, after, f"{latency}_count", operation="TopAccounts") == 2
    assert delta(before, after, f"{latency}_bucket", operation="TopAccounts", le="+Inf") == 2
    assert delta(before, after, f"{latency}_sum", operation="TopAccounts") > 0

    fast_path = "leadgraph_sql_fast_path_total"
    # the compiled read path answers every read here, the fragment spread too, on both databases
    assert delta(before, after, fast_path, result="answered") == 2 + 1 + 5
    assert delta(before, after, fast_path, result="declined") == 0

    pool = "leadgraph_db_pool_connections"
    in_use, idle = (
        after[(pool, frozenset({("state", "in_use")}))],
        after[(pool, frozenset({("state", "idle")}))],
    )
    assert in_use >= 0 and idle >= 0
    if settings.is_postgres:
        assert 1 <= in_use + idle <= settings.db_pool_max
    else:
        assert in_use + idle == 1  # the one SQLite connection


async def test_subscription_gauge_hook(observed):
    """The open-subscriptions gauge is exported and moves with the hooks subscriptions call."""
    before = await scrape(observed)
    metrics.subscription_opened()
    during = await scrape(observed)
    metrics.subscription_closed()
    after = await scrape(observed)
    name = "leadgraph_subscriptions_open"
    assert delta(before, during, name) == 1
    assert delta(before, after, name) == 0


async def test_metrics_need_the_token_and_are_off_by_default(observed, http):
    """With a token set, a scrape without it is 401; with metrics off there is no /metrics."""
    assert (await observed.get("/metrics")).status_code == 401
    wrong = await observed.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert (await http.get("/metrics")).status_code == 404
