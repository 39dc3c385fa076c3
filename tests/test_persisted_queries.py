"""Automatic persisted queries (POST and GET), caching headers on GET, gzip responses."""

import dataclasses
import gzip
import hashlib
import json

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from models import Role

QUERY = "query Accounts { accounts(first: 5) { edges { node { name } } } }"
SHA = hashlib.sha256(QUERY.encode()).hexdigest()
EXTENSIONS = {"persistedQuery": {"version": 1, "sha256Hash": SHA}}


def auth(tenant, role=Role.READ_ONLY) -> dict:
    return {"Authorization": f"Bearer {tenant.keys[role]}"}


async def test_unknown_hash_then_register_then_hash_only_over_post_and_get(tenant):
    """A hash-only request for an unknown hash is PersistedQueryNotFound; sending query and
    hash stores it; then hash-only requests run it over POST and over GET."""
    await tenant.mutate("createAccount", {"name": "Acme"}, "account { id }")
    body = {"extensions": EXTENSIONS}
    response = await tenant.http.post("/graphql", json=body, headers=auth(tenant))
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    response = await tenant.http.post(
        "/graphql", json={"query": QUERY, **body}, headers=auth(tenant)
    )
    assert response.json()["data"]["accounts"]["edges"] == [{"node": {"name": "Acme"}}]

    response = await tenant.http.post("/graphql", json=body, headers=auth(tenant))
    assert response.json()["data"]["accounts"]["edges"] == [{"node": {"name": "Acme"}}]
    response = await tenant.http.get(
        "/graphql", params={"extensions": json.dumps(EXTENSIONS)}, headers=auth(tenant)
    )
    assert response.json()["data"]["accounts"]["edges"] == [{"node": {"name": "Acme"}}]
    assert response.headers["cache-control"].startswith("private")
    assert "Authorization" in response.headers["vary"]


async def test_a_query_not_matching_its_hash_is_refused(tenant):
    """Query and hash must agree, or nothing is stored and nothing runs."""
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}
    response = await tenant.http.post(
        "/graphql", json={"query": QUERY, "extensions": wrong}, headers=auth(tenant)
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_persisted_queries_need_a_key(tenant):
    """Storing and running persisted queries is for authenticated clients only."""
    response = await tenant.http.post("/graphql", json={"query": QUERY, "extensions": EXTENSIONS})
    assert response.status_code == 401


async def test_large_responses_are_gzipped_for_clients_that_accept_it(tenant):
    """A response over LEADGRAPH_GZIP_MIN_BYTES is gzip-encoded when the client accepts gzip,
    and plain otherwise."""
    for n in range(40):
        await tenant.mutate("createAccount", {"name": f"Account number {n:03}"}, "account { id }")
    query = {"query": "{ accounts(first: 40) { edges { node { id name industry city } } } }"}
    headers = {**auth(tenant), "Accept-Encoding": "gzip"}
    response = await tenant.http.post("/graphql", json=query, headers=headers)
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["data"]["accounts"]["edges"]) == 40  # httpx decodes it
    raw = await tenant.http.post(
        "/graphql", json=query, headers={**auth(tenant), "Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in raw.headers
    assert len(gzip.compress(raw.content)) < len(raw.content)


async def test_gzip_level_is_6_by_default_and_settable(tenant, settings, monkeypatch):
    """Answers are compressed at zlib's level 6 unless LEADGRAPH_GZIP_LEVEL says otherwise (the
    gzip header's XFL byte tells: 0 for the middle levels, 2 for 9, 4 for 1; Starlette's own
    default is 9); each decompresses to the identity answer. A level outside 1-9 stops the
    server at start-up."""
    for n in range(40):
        await tenant.mutate("createAccount", {"name": f"Account number {n:03}"}, "account { id }")
    query = {"query": "{ accounts(first: 40) { edges { node { id name industry city } } } }"}
    plain = await tenant.http.post(
        "/graphql", json=query, headers={**auth(tenant), "Accept-Encoding": "identity"}
    )
    flags = {}
    for level in (None, 1, 9):
        app = create_app(
            settings if level is None else dataclasses.replace(settings, gzip_level=level)
        )
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as client,
            client.stream(
                "POST", "/graphql", json=query, headers={**auth(tenant), "Accept-Encoding": "gzip"}
            ) as response,
        ):
            raw = b"".join([part async for part in response.aiter_raw()])
        assert response.headers["content-encoding"] == "gzip"
        assert gzip.decompress(raw) == plain.content
        flags[level] = raw[8]
    assert flags == {None: 0, 1: 4, 9: 2}
    monkeypatch.delenv("LEADGRAPH_GZIP_LEVEL", raising=False)
    assert settings.gzip_level == Settings.from_env().gzip_level == 6
    for bad in ("0", "10", "fast"):
        monkeypatch.setenv("LEADGRAPH_GZIP_LEVEL", bad)
        with pytest.raises(ValueError, match="LEADGRAPH_GZIP_LEVEL"):
            Settings.from_env()


async def test_plain_answers_say_they_vary_by_accept_encoding_when_large(tenant):
    """Without gzip, a response over the threshold is sent as is with `Vary: Accept-Encoding`
    (so caches keep the two forms apart), a small one without it, as Starlette's middleware
    does; the repeat of a read (answered before strawberry) is sent the same way."""
    for n in range(40):
        await tenant.mutate("createAccount", {"name": f"Account number {n:03}"}, "account { id }")
    plain = {**auth(tenant), "Accept-Encoding": "identity"}
    large = {"query": "{ accounts(first: 40) { edges { node { id name industry city } } } }"}
    answers = [await tenant.http.post("/graphql", json=large, headers=plain) for _ in range(2)]
    for answer in answers:
        assert answer.headers["vary"] == "Accept-Encoding"
        assert "content-encoding" not in answer.headers
    assert answers[0].content == answers[1].content
    small = await tenant.http.post("/graphql", json={"query": "{ __typename }"}, headers=plain)
    assert "vary" not in small.headers
