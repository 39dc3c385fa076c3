"""The webhook dispatcher: any server process may run it; deliveries are claimed, not shared.

Each round is one short task: fan the change log out into deliveries (per webhook, under a
row lock that other processes skip), claim due deliveries with a lease, POST them signed, record
the attempt (DELIVERED, retry with backoff, or FAILED). It also prunes the change log.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import orjson
from tortoise import connections
from tortoise.transactions import in_transaction

from api.settings import Settings
from models.changes import background, prune
from models.webhooks import UnsafeUrl, check_url, claim, fan_out, record_attempt, sign

logger = logging.getLogger("leadgraph.webhooks")
POLL_SECONDS = 0.5
CLAIM_BATCH = 50
PRUNE_EVERY_SECONDS = 3600


class Dispatcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds, follow_redirects=False
        )
        self._pruned_at = 0.0

    async def run(self) -> None:
        background.set(True)
        while True:
            try:
                busy = await asyncio.create_task(self.round())
            except Exception:  # the database may be back next round
                logger.exception("webhook dispatcher round failed")
                busy = False
            if not busy:
                await asyncio.sleep(POLL_SECONDS)

    async def round(self) -> bool:
        """One pass; True when there may be more work right away."""
        now = datetime.now(UTC)
        conn = connections.get("default")
        if time.monotonic() - self._pruned_at > PRUNE_EVERY_SECONDS:
            await prune(conn, timedelta(days=self.settings.change_retention_days), now)
            self._pruned_at = time.monotonic()
        read = 0
        for row in await conn.execute_query_dict("SELECT id FROM webhook WHERE active"):
            async with in_transaction() as tx:
                read += await fan_out(tx, row["id"], now)
        lease = timedelta(seconds=self.settings.webhook_timeout_seconds + 30)
        claimed = await claim(conn, datetime.now(UTC), lease, CLAIM_BATCH)
        if claimed:
            await asyncio.gather(*(self.send(conn, d) for d in claimed))
        return bool(claimed) or read > 0

    async def send(self, conn, delivery: dict) -> None:
        hook = (
            await conn.execute_query_dict(
                "SELECT url, secret FROM webhook WHERE id = "
                + ("$1" if conn.capabilities.dialect == "postgres" else "?"),
                [delivery["webhook_id"]],
            )
        )[0]
        payload = delivery["payload"]
        body = payload.encode() if isinstance(payload, str) else orjson.dumps(payload)
        attempts = delivery["attempts"] + 1
        status_code = error = None
        try:
            await check_url(hook["url"], allow_private=self.settings.webhook_allow_private)
            response = await self.client.post(
                hook["url"],
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "leadgraph-webhooks",
                    "Leadgraph-Event-Id": delivery["event_id"],
                    "Leadgraph-Signature": sign(hook["secret"], body, int(time.time())),
                },
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except UnsafeUrl as exc:
            error = str(exc)
        except httpx.TimeoutException:
            error = f"No answer within {self.settings.webhook_timeout_seconds} s."
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        await record_attempt(
            conn,
            delivery["id"],
            attempts=attempts,
            ok=error is None,
            status_code=status_code,
            error=error,
            now=datetime.now(UTC),
            max_attempts=self.settings.webhook_max_attempts,
            ceiling_seconds=self.settings.webhook_backoff_ceiling_seconds,
        )

    async def aclose(self) -> None:
        await self.client.aclose()


@contextlib.asynccontextmanager
async def webhook_dispatcher(settings: Settings) -> AsyncIterator[Dispatcher | None]:
    """Started by the app's lifespan unless LEADGRAPH_WEBHOOK_DISPATCHER is off."""
    if not settings.webhook_dispatcher:
        yield None
        return
    dispatcher = Dispatcher(settings)
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await dispatcher.aclose()
