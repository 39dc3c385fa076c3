"""The PostgreSQL pool's connection reset, without a round trip per request.

asyncpg's default reset sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
every time a connection goes back to the pool: a second round trip for every request. leadgraph
sets no session state on pooled connections (advisory locks are transaction-scoped, LISTEN runs
on dedicated connections, settings go in `server_settings` or `SET LOCAL`), so nothing is left
to reset. asyncpg still rolls back an open transaction and drops listeners itself
(`Connection._reset`) before it calls this.
"""

from typing import Any


async def keep_session(connection: Any) -> None:
    """The pool's `reset` hook: nothing to undo (see the module docstring)."""
