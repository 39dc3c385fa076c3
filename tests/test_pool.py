"""The PostgreSQL pool gives connections back without asyncpg's reset round trip."""

import pytest
from tortoise import connections


async def test_no_reset_statement_after_a_request(tenant, settings):
    """A read sends its one statement and nothing else: no `RESET ALL`/`UNLISTEN *` on
    release (models/pool.py)."""
    if not settings.is_postgres:
        pytest.skip("the pool reset is asyncpg's (PostgreSQL)")
    await tenant.gql("{ accounts { totalCount } }")
    pool = connections.get("default")._pool
    sent: list[str] = []
    for holder in pool._holders:
        if holder._con is not None:
            holder._con.add_query_logger(lambda record: sent.append(record.query))
    try:
        await tenant.gql("{ accounts { totalCount } }")
    finally:
        for holder in pool._holders:
            if holder._con is not None:
                holder._con._query_loggers.clear()
    assert any("account" in q for q in sent), sent
    assert not any("RESET ALL" in q or "UNLISTEN" in q for q in sent), sent
