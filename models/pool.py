"""The PostgreSQL pool's reset on release, without its round trip when nothing can need it.

asyncpg resets every connection it takes back (`SELECT pg_advisory_unlock_all(); CLOSE ALL;
UNLISTEN *; RESET ALL`): a second round trip for every request. Before that query it has already
waited for any cancelled statement to end and rolled back an open transaction
(`PoolConnectionHolder.release`, `Connection._reset`). The query is skipped for one kind of
checkout only: the connection ran exactly one statement, a compiled read through `fetch_read`,
which returned, and the connection is idle outside a transaction. A SELECT written by the read
compiler takes no advisory lock, opens no cursor, listens to nothing and sets nothing, so there
is nothing to undo. Every other checkout (ORM statements, transactions, a statement cancelled
mid-protocol) gets asyncpg's full reset, and asyncpg terminates a connection whose reset fails.

The second kind: a recordInteraction write (models/recording.py) that committed: its one
statement returned (the server commits it as it ends), or its COMMIT did. Its statements set
only `SET LOCAL` settings and take only transaction-level advisory locks
(`pg_advisory_xact_lock`), both gone at the commit; the plan_cache_mode its lock-and-read
function sets lasts only while the function runs; they open no cursor and listen to nothing,
and its tables' triggers send NOTIFY (transactional) but set no session state.
`mark_committed` records the statement count right after that commit: any statement after it,
or an open transaction, brings the full reset back.
"""

from typing import Any
from weakref import WeakKeyDictionary

# Connection -> its statement count when its one compiled read returned (see fetch_read) or its
# recordInteraction write committed (mark_committed).
_clean_after: WeakKeyDictionary[Any, int] = WeakKeyDictionary()


async def reset_unless_clean(connection: Any) -> None:
    """The pool's `reset` hook: asyncpg's reset query unless this checkout was one clean read."""
    if (
        _clean_after.pop(connection, None) == connection._protocol.queries_count
        and not connection.is_in_transaction()
    ):
        return
    query = connection.get_reset_query()
    if query:
        await connection.execute(query)


def mark_committed(proxy: Any) -> None:
    """The checkout (a pool proxy) just committed a recordInteraction write: nothing to reset."""
    connection = proxy._con
    _clean_after[connection] = connection._protocol.queries_count


async def fetch_read(pool: Any, sql: str, params: tuple | list) -> Any:
    """The one row of a compiled read, on a connection of its own."""
    async with pool.acquire() as proxy:
        connection = proxy._con
        before = connection._protocol.queries_count
        row = await proxy.fetchrow(sql, *params)
        if connection._protocol.queries_count == before + 1:
            _clean_after[connection] = before + 1
        return row
