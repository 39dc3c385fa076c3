"""A database outage mid-traffic: clean errors, /readyz not ready, recovery without restart."""

import asyncpg
import pytest

from models import Role

pytestmark = pytest.mark.skipif(
    not __import__("os").environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="outages are staged on PostgreSQL",
)
QUERY = "{ accounts { totalCount } }"


async def admin_connection(settings) -> tuple[asyncpg.Connection, str]:
    base, name = settings.database_url.rsplit("/", 1)
    conn = await asyncpg.connect(base.replace("postgres://", "postgresql://", 1) + "/postgres")
    return conn, name


async def cut_connections(conn: asyncpg.Connection, name: str) -> None:
    await conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
    )


def assert_clean(response) -> None:
    """A clean failure: a typed error, no stack trace, no 500."""
    assert response.status_code in (200, 503), response.text
    for error in response.json().get("errors") or []:
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", error
        assert "Traceback" not in response.text and "asyncpg" not in response.text


async def test_killed_connections_fail_cleanly_then_recover(tenant, settings):
    conn, name = await admin_connection(settings)
    try:
        assert (await tenant.post(QUERY, role=Role.READ_ONLY)).status_code == 200
        await cut_connections(conn, name)
        responses = [await tenant.post(QUERY, role=Role.READ_ONLY) for _ in range(25)]
        for response in responses:
            assert_clean(response)
        assert responses[-1].status_code == 200 and "errors" not in responses[-1].json()
    finally:
        await conn.close()


async def test_refused_connections_make_readyz_unready_until_back(tenant, settings, http):
    conn, name = await admin_connection(settings)
    try:
        await conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        await cut_connections(conn, name)
        for _ in range(25):  # drain the pool's dead connections
            ready = await http.get("/readyz")
            if ready.status_code == 503:
                break
        assert ready.status_code == 503 and ready.json() == {"status": "unavailable"}
        response = await tenant.post(QUERY, role=Role.READ_ONLY)
        assert_clean(response)
        assert response.json().get("errors")
    finally:
        await conn.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        await conn.close()
    for _ in range(25):
        if (await http.get("/readyz")).status_code == 200:
            break
    assert (await http.get("/readyz")).status_code == 200
    recovered = await tenant.post(QUERY, role=Role.READ_ONLY)
    assert recovered.status_code == 200 and "errors" not in recovered.json()
