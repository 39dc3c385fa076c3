"""The longer statement timeout for work that re-scores a whole workspace.

Requests run under the pool's `statement_timeout` (LEADGRAPH_STATEMENT_TIMEOUT_MS); scoring-model
changes and the periodic re-score may take longer and raise it for their own transaction only.
"""

from tortoise.backends.base.client import BaseDBAsyncClient

from models.sql import is_postgres

# Set at startup from LEADGRAPH_LONG_STATEMENT_TIMEOUT_MS; 0 leaves the session's timeout alone.
long_statement_timeout_ms = 120_000


def configure(milliseconds: int) -> None:
    global long_statement_timeout_ms
    long_statement_timeout_ms = max(int(milliseconds), 0)


async def allow_long_statements(conn: BaseDBAsyncClient) -> None:
    """Raise the statement timeout until the end of the caller's transaction (PostgreSQL)."""
    if long_statement_timeout_ms and is_postgres(conn):
        await conn.execute_script(f"SET LOCAL statement_timeout = {long_statement_timeout_ms}")
