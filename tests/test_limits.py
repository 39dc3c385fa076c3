"""Abuse limits at and just past their bounds (defaults): depth, aliases, tokens, query cost,
body size, rate limit; introspection can be switched off. Each refusal does no work."""

import asyncio
import os
import time
import uuid

import pytest
import redis.asyncio as redis
from graphql import Lexer, Source, TokenKind, parse

from api.preflight import cost_of
from api.ratelimit import InProcessCounters, PostgresCounters, RateLimiter, RedisCounters
from api.schema import build_schema
from api.settings import Settings
from models import Role


def errors(response) -> list[dict]:
    return response.json().get("errors") or []


async def test_depth_limit(tenant):
    def nested(depth: int) -> str:  # accounts/edges/node + parentAccount chain (leaves not counted)
        inner = "name"
        for _ in range(depth - 3):
            inner = f"parentAccount {{ {inner} }}"
        return f"{{ accounts(first: 1) {{ edges {{ node {{ {inner} }} }} }} }}"

    assert errors(await tenant.post(nested(15))) == []
    refused = errors(await tenant.post(nested(16)))
    assert "exceeds maximum operation depth of 15" in refused[0]["message"]


async def test_alias_limit(tenant):
    def aliased(n: int) -> str:
        return (
            "{ " + " ".join(f"a{i}: accounts(first: 1) {{ totalCount }}" for i in range(n)) + " }"
        )

    assert errors(await tenant.post(aliased(30))) == []
    assert "aliases found. Allowed: 30" in errors(await tenant.post(aliased(31)))[0]["message"]


def token_count(document: str) -> int:
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


async def test_token_limit(tenant):
    def tokens(n: int) -> str:  # a long `in` list: one token per value
        base = "{ accounts(first: 1, filter: {name: {in: []}}) { totalCount } }"
        values = " ".join('"a"' for _ in range(n - token_count(base)))
        document = base.replace("in: []", f"in: [{values}]")
        assert token_count(document) == n
        return document

    assert errors(await tenant.post(tokens(5000))) == []
    assert "more than 5000 tokens" in errors(await tenant.post(tokens(5001)))[0]["message"]


async def test_query_cost_limit(tenant, count_statements):
    """Page sizes multiply: 100 accounts x 99 contacts x 9 leads = 100 + 9,900 + 89,100, plus
    9 x 100 leads = 100,000 is accepted; one more lead is refused before any SQL runs."""
    ids = "{ edges { node { id } } }"
    base = (
        "accounts(first: 100) { edges { node { contacts(first: 99) { edges { node { "
        f"leads(first: 9) {ids} }} }} }} }} }} }}"
    )
    extra = " ".join(f"l{i}: leads(first: 100) {ids}" for i in range(9))
    assert errors(await tenant.post(f"{{ {base} {extra} }}")) == []
    count_statements.statements.clear()
    refused = errors(await tenant.post(f"{{ {base} {extra} one: leads(first: 1) {ids} }}"))
    assert refused[0]["extensions"]["code"] == "QUERY_TOO_EXPENSIVE"
    assert "100001" in refused[0]["message"]
    assert count_statements.statements == []  # refused before any work


async def test_cost_counts_variables_and_default_page_sizes():
    """A page size from a variable counts after coercion; lists without `first` count the
    default page size."""
    doc = parse(
        "query($n: Int) { accounts(first: $n) { edges { node { contacts { edges { node { id } } } } } } }"
    )
    cost = cost_of(build_schema(Settings()), doc, {"n": 10}, Settings(default_page_size=20))
    assert cost == 10 + 10 * 20


async def test_body_size_limit(tenant):
    headers = {
        "Authorization": f"Bearer {tenant.keys[Role.ADMIN]}",
        "Content-Type": "application/json",
    }
    prefix, suffix = b'{"query": "{ __typename }", "extensions": {"pad": "', b'"}}'
    limit = 1_048_576
    at = prefix + b"x" * (limit - len(prefix) - len(suffix)) + suffix
    assert len(at) == limit
    ok = await tenant.http.post("/graphql", content=at, headers=headers)
    assert ok.status_code == 200
    past = prefix + b"x" * (limit + 1 - len(prefix) - len(suffix)) + suffix
    refused = await tenant.http.post("/graphql", content=past, headers=headers)
    assert refused.status_code == 413
    assert refused.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_rate_limit_answers_429_with_retry_after(tenant):
    query = "{ __typename }"
    left_in_window = 60 - time.time() % 60
    if left_in_window < 20:  # all 601 requests must fall into one one-minute window
        await asyncio.sleep(left_in_window + 0.5)
    for _ in range(600):
        response = await tenant.post(query, role=Role.SALES)
        assert response.status_code == 200
    limited = await tenant.post(query, role=Role.SALES)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    other_key = await tenant.post(query, role=Role.MARKETING)
    assert other_key.status_code == 200  # counted per key


async def test_rate_limiter_windows():
    limiter = RateLimiter(2, InProcessCounters())
    assert (await limiter.hit("k", now=120.0)).allowed
    assert (await limiter.hit("k", now=150.0)).allowed
    third = await limiter.hit("k", now=170.5)
    assert not third.allowed and third.retry_after == 10
    assert (await limiter.hit("k", now=180.0)).allowed  # a new minute


async def test_postgres_counters_are_shared(settings, app):
    if not settings.is_postgres:
        pytest.skip("PostgreSQL counters need PostgreSQL")
    a, b = RateLimiter(3, PostgresCounters()), RateLimiter(3, PostgresCounters())
    subject = f"test:{uuid.uuid4()}"
    results = await asyncio.gather(*(limiter.hit(subject, now=600.0) for limiter in (a, b, a, b)))
    assert sorted(r.allowed for r in results) == [False, True, True, True]


async def test_redis_counters_are_shared():
    url = os.environ.get("LEADGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    probe = redis.from_url(url)
    try:
        await probe.ping()
    except (OSError, redis.ConnectionError):
        pytest.skip("no Redis reachable")
    finally:
        await probe.aclose()
    a, b = RateLimiter(3, RedisCounters(url)), RateLimiter(3, RedisCounters(url))
    try:
        subject = f"test:{uuid.uuid4()}"
        results = [await limiter.hit(subject, now=600.0) for limiter in (a, b, a, b)]
        assert [r.allowed for r in results] == [True, True, True, False]
    finally:
        await a.aclose()
        await b.aclose()


async def test_introspection_can_be_switched_off(app):
    query = "{ __schema { queryType { name } } }"
    on = await build_schema(Settings()).execute(query)
    assert on.errors is None and on.data["__schema"]["queryType"]["name"] == "Query"
    off = await build_schema(Settings(introspection=False)).execute(query)
    assert off.data is None
    assert "introspection has been disabled" in off.errors[0].message


async def test_nul_characters_are_refused_cleanly(tenant):
    via_variable = await tenant.post(
        "mutation($i: CreateAccountInput!) { createAccount(input: $i) { account { id } } }",
        {"i": {"name": "a\x00b"}},
    )
    via_literal = await tenant.post('{ accounts(search: "a\\u0000b") { totalCount } }')
    for response in (via_variable, via_literal):
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "NUL" in error["message"]
    assert (await tenant.gql("{ accounts { totalCount } }"))["accounts"]["totalCount"] == 0
