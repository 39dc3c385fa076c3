"""The edge for CAPTURE keys: per-key browser origins (CORS for the capture calls only), and
rate limits per client address and per key, refused with 429 before the database."""

import asyncio
import logging
import os
import socket
import sys

import httpx
import pytest

from models import Role
from models.capture import AnonymousVisit

TRACK = (
    'mutation { trackVisit(input: {visitorId: "v", url: "https://shop.example/"}) { accepted } }'
)
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


async def capture_key(tenant, **settings) -> str:
    result = await tenant.mutate(
        "createApiKey",
        {"name": "landing page", "role": "CAPTURE", **settings},
        "secret apiKey { role allowedOrigins rateLimitPerMinute rateLimitPerAddress }",
    )
    assert result["userErrors"] == [], result
    return result["secret"]


async def post(http, key: str, query: str = TRACK, **headers):
    return await http.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {key}", **headers}
    )


async def test_capture_key_settings_are_validated_and_listed(tenant):
    """Origins must be bare origins; limits are positive; both belong to CAPTURE keys only."""
    await capture_key(
        tenant,
        allowedOrigins=["https://shop.example", "http://localhost:3000"],
        rateLimitPerMinute=100,
        rateLimitPerAddress=10,
    )
    keys = (await tenant.gql("{ apiKeys { role allowedOrigins rateLimitPerAddress } }"))["apiKeys"]
    assert {
        "role": "CAPTURE",
        "allowedOrigins": ["http://localhost:3000", "https://shop.example"],
        "rateLimitPerAddress": 10,
    } in keys
    bad = [
        ({"role": "ADMIN", "allowedOrigins": ["https://shop.example"]}, ["role"]),
        (
            {"role": "CAPTURE", "allowedOrigins": ["https://shop.example/path"]},
            ["allowedOrigins", "0"],
        ),
        ({"role": "CAPTURE", "allowedOrigins": ["*"]}, ["allowedOrigins", "0"]),
        ({"role": "CAPTURE", "rateLimitPerAddress": 0}, ["rateLimitPerAddress"]),
    ]
    for input, field in bad:
        result = await tenant.mutate("createApiKey", {"name": "x", **input}, "secret")
        assert result["secret"] is None
        assert [e["field"] for e in result["userErrors"]] == [field], result


async def test_preflight_answers_only_origins_of_active_capture_keys(tenant, http):
    """A preflight carries no key: it is answered for the origins some capture key allows,
    and stops once that key is revoked."""
    await capture_key(tenant, allowedOrigins=["https://shop.example"])
    allowed = await http.options(
        "/graphql", headers={**PREFLIGHT, "Origin": "https://shop.example"}
    )
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    other = await http.options("/graphql", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers

    keys = (await tenant.gql("{ apiKeys { id role } }"))["apiKeys"]
    [landing] = [k["id"] for k in keys if k["role"] == "CAPTURE" and k["id"]][-1:]
    await tenant.mutate("revokeApiKey", {"id": landing}, "deletedId")
    gone = await http.options("/graphql", headers={**PREFLIGHT, "Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in gone.headers


async def test_origins_are_enforced_per_key_and_for_capture_calls_only(tenant, http):
    """The key's origin gets the CORS header; another origin is refused with 403 and nothing
    is recorded; other keys get no CORS header from a capture origin."""
    key = await capture_key(tenant, allowedOrigins=["https://shop.example"])
    ok = await post(http, key, Origin="https://shop.example")
    assert ok.status_code == 200 and ok.json()["data"]["trackVisit"]["accepted"] is True
    assert ok.headers["access-control-allow-origin"] == "https://shop.example"
    refused = await post(http, key, Origin="https://evil.example")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "access-control-allow-origin" not in refused.headers
    server_side = await post(http, key)  # no Origin: not a browser, origins do not apply
    assert server_side.status_code == 200
    assert await AnonymousVisit.all().count() == 2

    admin = await post(
        http, tenant.keys[Role.ADMIN], "{ accounts { totalCount } }", Origin="https://shop.example"
    )
    assert admin.status_code == 200 and "access-control-allow-origin" not in admin.headers
    # The tenant's CAPTURE key has no origins at all: browsers may not use it.
    bare = await post(http, tenant.keys[Role.CAPTURE], Origin="https://shop.example")
    assert bare.status_code == 403


class AllStatements(logging.Handler):
    """Every SQL statement tortoise sends, except the API key lookup itself."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if '"api_key"' not in message.lower() and message.lstrip().upper().startswith(
            ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
        ):
            self.statements.append(message)


async def test_flood_from_one_address_is_refused_with_429_before_the_database(tenant, http):
    """Past the key's per-address budget: 429 with Retry-After, and not one statement runs
    (not even a rate-limit counter: those live in the process or in Redis)."""
    key = await capture_key(tenant, rateLimitPerAddress=3)
    for _ in range(3):
        assert (await post(http, key)).status_code == 200
    logger = logging.getLogger("tortoise.db_client")
    handler, previous = AllStatements(), logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        refused = await post(http, key)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert handler.statements == []
    assert await AnonymousVisit.all().count() == 3


async def test_per_key_limit(tenant, http):
    """A capture key's own per-minute limit counts every address together."""
    key = await capture_key(tenant, rateLimitPerMinute=2)
    assert [(await post(http, key)).status_code for _ in range(3)] == [200, 200, 429]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def serve(settings, **env):
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--port",
        str(port),
        env={
            **os.environ,
            "LEADGRAPH_DATABASE_URL": settings.database_url,
            "LEADGRAPH_LOG_LEVEL": "warning",
            "LEADGRAPH_RESCORE_INTERVAL_SECONDS": "0",
            "LEADGRAPH_API_KEY_CACHE_SECONDS": "0",
            **env,
        },
    )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient() as client:
        for _ in range(150):
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return url, process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    process.terminate()
    raise RuntimeError("uvicorn did not come up")


@pytest.mark.parametrize("trusted", [True, False])
async def test_client_address_behind_a_proxy(tenant, settings, trusted):
    """Through a real uvicorn: behind a trusted proxy each X-Forwarded-For address has its own
    budget (LEADGRAPH_CAPTURE_RATE_LIMIT_PER_ADDRESS); from an untrusted peer the header is
    ignored, so forging it does not escape the limit."""
    env = {"LEADGRAPH_CAPTURE_RATE_LIMIT_PER_ADDRESS": "3"}
    if not trusted:
        env["FORWARDED_ALLOW_IPS"] = "10.9.9.9"
    url, process = await serve(settings, **env)
    key = tenant.keys[Role.CAPTURE]
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:

            async def from_address(address: str) -> int:
                response = await post(client, key, **{"X-Forwarded-For": address})
                return response.status_code

            first = [await from_address("198.51.100.1") for _ in range(4)]
            second = [await from_address("198.51.100.2") for _ in range(2)]
    finally:
        process.terminate()
        await process.wait()
    assert first == [200, 200, 200, 429]
    assert second == ([200, 200] if trusted else [429, 429])
