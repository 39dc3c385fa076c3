"""Per-API-key rate limits in fixed one-minute windows.

Counters live in Redis when LEADGRAPH_REDIS_URL is set, else in PostgreSQL (one upsert per
request), so every server process shares them; on SQLite they are kept in-process."""

import time
from dataclasses import dataclass

from tortoise import connections

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int


def _window(now: float) -> tuple[int, int]:
    window = int(now // WINDOW_SECONDS)
    return window, max(1, int((window + 1) * WINDOW_SECONDS - now + 0.999))


class InProcessCounters:
    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}

    async def increment(self, subject: str, window: int) -> int:
        if len(self._counts) > 100_000:
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
        key = (subject, window)
        self._counts[key] = self._counts.get(key, 0) + 1
        return self._counts[key]


class PostgresCounters:
    async def increment(self, subject: str, window: int) -> int:
        conn = connections.get("default")
        rows = await conn.execute_query_dict(
            "INSERT INTO rate_limit_counter (subject, window_start, count) VALUES ($1, $2, 1) "
            "ON CONFLICT (subject, window_start) DO UPDATE "
            "SET count = rate_limit_counter.count + 1 RETURNING count",
            [subject, window],
        )
        if rows[0]["count"] == 1:  # first hit of a window: drop windows long gone
            await conn.execute_query(
                "DELETE FROM rate_limit_counter WHERE window_start < $1", [window - 2]
            )
        return rows[0]["count"]


class RedisCounters:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self.client = redis.from_url(url)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def increment(self, subject: str, window: int) -> int:
        key = f"leadgraph:rate:{subject}:{window}"
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, WINDOW_SECONDS * 2)
            count, _ = await pipe.execute()
        return int(count)


class RateLimiter:
    def __init__(self, per_minute: int, counters) -> None:
        self.per_minute = per_minute
        self.counters = counters

    async def aclose(self) -> None:
        close = getattr(self.counters, "aclose", None)
        if close is not None:
            await close()

    async def hit(
        self, subject: str, now: float | None = None, limit: int | None = None
    ) -> Verdict:
        """Counts a request; `limit` overrides the per-minute limit for this subject."""
        window, retry_after = _window(time.time() if now is None else now)
        count = await self.counters.increment(subject, window)
        return Verdict(count <= (self.per_minute if limit is None else limit), retry_after)


def counters_for(settings):
    if settings.redis_url:
        return RedisCounters(settings.redis_url)
    if settings.is_postgres:
        return PostgresCounters()
    return InProcessCounters()
