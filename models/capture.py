"""Anonymous visitors and their page visits, until a form submission stitches them to a contact.

A `Visitor` is a browser's own id (kept in its localStorage) within a workspace; once linked to a
contact, its visits are recorded as that contact's PAGE_VISITED interactions instead."""

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.indexes import Index
from tortoise.models import Model
from tortoise.transactions import in_transaction

from models.interaction import Interaction, InteractionType
from models.sql import Sql, is_postgres

logger = logging.getLogger("leadgraph.capture")
# The newest visits a stitch turns into interactions; older ones of the same visitor are dropped.
MAX_STITCHED_VISITS = 1000


class Visitor(Model):
    """A browser known by the id it sent, linked to a contact once it submitted a form."""

    id = fields.IntField(primary_key=True)
    workspace = fields.ForeignKeyField("models.Workspace", related_name="visitors")
    external_id = fields.CharField(max_length=100)
    contact = fields.ForeignKeyField(
        "models.Contact",
        related_name="visitors",
        null=True,
        db_index=True,
        on_delete=fields.CASCADE,
    )
    last_seen_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "visitor"
        unique_together = (("workspace", "external_id"),)
        indexes = (Index(fields=("last_seen_at",)),)


class AnonymousVisit(Model):
    """A page visit of a visitor not yet linked to a contact, expiring if never stitched."""

    id = fields.IntField(primary_key=True)
    workspace = fields.ForeignKeyField("models.Workspace", related_name="anonymous_visits")
    visitor = fields.ForeignKeyField(
        "models.Visitor", related_name="visits", db_index=True, on_delete=fields.CASCADE
    )
    occurred_at = fields.DatetimeField()
    url = fields.CharField(max_length=2048)
    referrer = fields.CharField(max_length=2048, null=True)
    utm = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "anonymous_visit"
        indexes = (Index(fields=("occurred_at",)),)


def visit_metadata(
    url: str, referrer: str | None, utm: dict | None, visitor_id: str
) -> dict[str, object]:
    """What a PAGE_VISITED interaction keeps of a visit (attribution reads it back)."""
    return {"url": url, "referrer": referrer, "utm": utm or None, "visitorId": visitor_id}


async def upsert_visitor(
    conn: BaseDBAsyncClient, workspace_id: int, external_id: str, now: datetime
) -> tuple[int, int | None]:
    """(visitor id, linked contact id), creating the visitor if new. The row stays locked until
    the transaction ends, so a visit and a stitch of one visitor never interleave."""
    q = Sql(is_postgres(conn))
    rows = await conn.execute_query_dict(
        "INSERT INTO visitor (workspace_id, external_id, last_seen_at, created_at) "
        f"VALUES ({q.param(workspace_id)}, {q.param(external_id)}, {q.param(now)}, "
        f"{q.param(now)}) ON CONFLICT (workspace_id, external_id) "
        "DO UPDATE SET last_seen_at = excluded.last_seen_at RETURNING id, contact_id",
        q.params,
    )
    return rows[0]["id"], rows[0]["contact_id"]


async def stitch(
    conn: BaseDBAsyncClient,
    *,
    workspace_id: int,
    visitor_pk: int,
    external_id: str,
    contact_id: int,
    since: datetime,
) -> int:
    """Turn the visitor's unexpired anonymous visits into the contact's PAGE_VISITED
    interactions at their original times, and link the visitor. Returns how many."""
    visits = (
        await AnonymousVisit.filter(visitor_id=visitor_pk, occurred_at__gte=since)
        .using_db(conn)
        .order_by("-occurred_at", "-id")
        .limit(MAX_STITCHED_VISITS)
    )
    if visits:
        await Interaction.bulk_create(
            [
                Interaction(
                    workspace_id=workspace_id,
                    type=InteractionType.PAGE_VISITED,
                    occurred_at=v.occurred_at,
                    contact_id=contact_id,
                    metadata=visit_metadata(v.url, v.referrer, v.utm, external_id),
                )
                for v in reversed(visits)
            ],
            using_db=conn,
        )
    await AnonymousVisit.filter(visitor_id=visitor_pk).using_db(conn).delete()
    await Visitor.filter(id=visitor_pk).using_db(conn).update(contact_id=contact_id)
    return len(visits)


async def expire_visits(conn: BaseDBAsyncClient, *, retention_days: int, now: datetime) -> int:
    """Delete anonymous visits older than the retention, and visitors never linked and not seen
    since. Returns how many visits went."""
    cutoff = now - timedelta(days=retention_days)
    gone = await AnonymousVisit.filter(occurred_at__lt=cutoff).using_db(conn).delete()
    await Visitor.filter(contact_id__isnull=True, last_seen_at__lt=cutoff).using_db(conn).delete()
    return gone


async def expire_visits_periodically(settings, interval_seconds: int = 3600) -> None:
    """Runs until cancelled: one short transaction per round; a failed round is logged."""
    while True:
        await asyncio.sleep(interval_seconds)
        try:
            async with in_transaction() as conn:
                gone = await expire_visits(
                    conn, retention_days=settings.visit_retention_days, now=datetime.now(UTC)
                )
            logger.info("expired %d anonymous visits", gone)
        except Exception:  # keep the loop alive: the database may be back next round
            logger.exception("visit expiry failed")
