"""The periodic re-score: one short transaction per workspace per round."""

import asyncio
import logging

from tortoise.transactions import in_transaction

from models.rescoring import rescore_workspace
from models.workspace import Workspace

logger = logging.getLogger("leadgraph.rescore")


async def rescore_all(slug: str | None = None) -> dict[str, bool]:
    """Re-score every workspace (or one); returns {slug: done} (False: another process had it)."""
    query = Workspace.all().order_by("id")
    if slug is not None:
        query = query.filter(slug=slug)
    done = {}
    for workspace in await query:
        async with in_transaction() as conn:
            done[workspace.slug] = await rescore_workspace(conn, workspace.id)
    return done


async def run_periodically(interval_seconds: int) -> None:
    """Runs until cancelled; a failed round is logged and the next one tried."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            done = await rescore_all()
            logger.info("periodic re-score: %s", done)
        except Exception:  # keep the loop alive: the database may be back next round
            logger.exception("periodic re-score failed")
