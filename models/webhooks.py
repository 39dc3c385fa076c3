"""Webhooks: the tables, the signature, the fan-out from the change log and the claim.

Deliveries are created from the change log by `fan_out` (each webhook keeps its own position
in the log, read below the transaction horizon like `changes`), then claimed by `claim` with
`FOR UPDATE SKIP LOCKED` and a lease, so two server processes never send one delivery at once.
"""

import asyncio
import hashlib
import hmac
import ipaddress
import socket
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

import orjson
from strawberry.relay import to_base64
from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.indexes import Index
from tortoise.models import Model

from models.changes import (
    RECORD_ENTITIES,
    SCORE_ENTITY,
    STATUS_ENTITY,
    Change,
    Position,
    current_horizon,
    read_changes,
)
from models.sql import Sql, is_postgres

TYPE_NAMES = {
    "account": "Account",
    "contact": "Contact",
    "lead": "Lead",
    "interaction": "Interaction",
    "scoring_model": "ScoringModel",
}
FAN_OUT_BATCH = 500


class WebhookEvent(StrEnum):
    SCORE_CHANGED = "SCORE_CHANGED"
    LEAD_SALES_READY = "LEAD_SALES_READY"
    LEAD_STATUS_CHANGED = "LEAD_STATUS_CHANGED"
    RECORD_CHANGED = "RECORD_CHANGED"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class Webhook(Model):
    """An HTTPS endpoint that receives signed POSTs for the events it subscribed to."""

    id = fields.IntField(primary_key=True)
    workspace = fields.ForeignKeyField("models.Workspace", related_name="webhooks")
    url = fields.CharField(max_length=2000)
    events = fields.JSONField(default=list)
    secret = fields.CharField(max_length=100)
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # How far the fan-out has read the change log for this webhook.
    cursor_txid = fields.BigIntField(default=0)
    cursor_id = fields.BigIntField(default=0)

    class Meta:
        table = "webhook"


class WebhookDelivery(Model):
    """One event for one webhook, with every attempt counted."""

    id = fields.IntField(primary_key=True)
    webhook = fields.ForeignKeyField(
        "models.Webhook", related_name="deliveries", on_delete=fields.CASCADE
    )
    event_id = fields.CharField(max_length=64)
    event = fields.CharField(max_length=24)
    payload = fields.JSONField()
    status = fields.CharField(max_length=10, default=DeliveryStatus.PENDING.value)
    attempts = fields.IntField(default=0)
    last_status_code = fields.IntField(null=True)
    last_error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    delivered_at = fields.DatetimeField(null=True)
    next_attempt_at = fields.DatetimeField()
    locked_until = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_delivery"
        unique_together = (("webhook", "event_id"),)
        indexes = (
            Index(fields=("status", "next_attempt_at")),
            Index(fields=("webhook_id", "created_at")),
        )


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` (Stripe's scheme)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def backoff(attempts: int, ceiling_seconds: int) -> timedelta:
    """1 s after the first failure, then doubling up to the ceiling."""
    return timedelta(seconds=min(ceiling_seconds, 2 ** max(attempts - 1, 0)))


class UnsafeUrl(ValueError):
    pass


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse what is not http(s), and (SSRF) hosts resolving to loopback or private networks."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("The URL must be an absolute http:// or https:// URL.")
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname,
            parts.port or (443 if parts.scheme == "https" else 80),
            type=socket.SOCK_STREAM,
        )
    except OSError as exc:
        raise UnsafeUrl(f"The host {parts.hostname} does not resolve.") from exc
    if not infos or not all(_is_public(info[4][0]) for info in infos):
        raise UnsafeUrl(
            "The URL points to a loopback, private or reserved address; webhooks only call "
            "public hosts (LEADGRAPH_WEBHOOK_ALLOW_PRIVATE=1 lifts this)."
        )


def _gid(type_name: str, id_: int) -> str:
    return to_base64(type_name, id_)


def events_for(change: Change) -> list[tuple[WebhookEvent, dict]]:
    """The webhook events a change is, each with its `data` (global IDs of the records)."""
    d = change.detail or {}
    if change.entity == SCORE_ENTITY:
        data = {
            "lead": _gid("Lead", change.record_id),
            "scoringModel": _gid("ScoringModel", d["model"]),
            "previousScore": d.get("previous"),
            "score": d["score"],
            "grade": d.get("grade"),
            "salesReady": bool(d.get("sales_ready")),
        }
        return [(WebhookEvent.SCORE_CHANGED, data)]
    if change.entity == STATUS_ENTITY:
        data = {
            "lead": _gid("Lead", change.record_id),
            "fromStatus": d.get("from"),
            "toStatus": d["to"],
            "reason": d.get("reason"),
        }
        found = [(WebhookEvent.LEAD_STATUS_CHANGED, data)]
        if d["to"] == "SALES_READY":
            found.append((WebhookEvent.LEAD_SALES_READY, data))
        return found
    data = {
        "kind": change.kind,
        "type": TYPE_NAMES[change.entity].upper().replace("SCORINGMODEL", "SCORING_MODEL"),
        "id": _gid(TYPE_NAMES[change.entity], change.record_id),
    }
    return [(WebhookEvent.RECORD_CHANGED, data)]


def entities_for(events: list[str]) -> list[str]:
    wanted: list[str] = []
    if WebhookEvent.SCORE_CHANGED in events:
        wanted.append(SCORE_ENTITY)
    if {WebhookEvent.LEAD_STATUS_CHANGED, WebhookEvent.LEAD_SALES_READY} & set(events):
        wanted.append(STATUS_ENTITY)
    if WebhookEvent.RECORD_CHANGED in events:
        wanted.extend(RECORD_ENTITIES)
    return wanted


async def start_position(conn: BaseDBAsyncClient) -> tuple[int, int]:
    """A new webhook's cursor: after everything already finished in the log."""
    if is_postgres(conn):
        return await current_horizon(conn) - 1, 2**62
    rows = await conn.execute_query_dict("SELECT COALESCE(MAX(id), 0) AS id FROM change_log")
    return 0, rows[0]["id"]


async def fan_out(conn: BaseDBAsyncClient, webhook_id: int, now: datetime) -> int:
    """Turn the webhook's new change rows into deliveries; run inside a transaction.

    Returns how many change rows were read (0: nothing new, or another process has it)."""
    q = Sql(is_postgres(conn))
    lock = " FOR UPDATE SKIP LOCKED" if q.postgres else ""
    rows = await conn.execute_query_dict(
        "SELECT id, workspace_id, events, cursor_txid, cursor_id FROM webhook "
        f"WHERE id = {q.param(webhook_id)} AND active{lock}",
        q.params,
    )
    if not rows:
        return 0
    hook = rows[0]
    events = orjson.loads(hook["events"]) if isinstance(hook["events"], str) else hook["events"]
    position = Position(hook["cursor_txid"], hook["cursor_id"], now)
    changes = await read_changes(
        conn, hook["workspace_id"], position, entities_for(events), FAN_OUT_BATCH
    )
    if not changes:
        return 0
    values = []
    for change in changes:
        for event, data in events_for(change):
            if event.value not in events:
                continue
            event_id = f"evt_{change.id}_{event.value.lower()}"
            body = {
                "id": event_id,
                "event": event.value,
                "createdAt": change.at.isoformat(),
                "data": data,
            }
            values.append((event_id, event.value, orjson.dumps(body).decode()))
    if values:
        q = Sql(q.postgres)
        rows_sql = ", ".join(
            f"({q.param(webhook_id)}, {q.param(eid)}, {q.param(ev)}, {q.typed(body, 'jsonb')}, "
            f"'PENDING', 0, {q.param(now)}, {q.param(now)})"
            for eid, ev, body in values
        )
        await conn.execute_query(
            "INSERT INTO webhook_delivery (webhook_id, event_id, event, payload, status, attempts, "
            f"created_at, next_attempt_at) VALUES {rows_sql} "
            "ON CONFLICT (webhook_id, event_id) DO NOTHING",
            q.params,
        )
    last = changes[-1]
    q = Sql(q.postgres)
    await conn.execute_query(
        f"UPDATE webhook SET cursor_txid = {q.param(last.txid)}, cursor_id = {q.param(last.id)} "
        f"WHERE id = {q.param(webhook_id)}",
        q.params,
    )
    return len(changes)


async def claim(conn: BaseDBAsyncClient, now: datetime, lease: timedelta, limit: int) -> list[dict]:
    """Take up to `limit` due deliveries for `lease`: one short statement, skipping rows another
    process is claiming at the same moment."""
    q = Sql(is_postgres(conn))
    skip = " FOR UPDATE SKIP LOCKED" if q.postgres else ""
    rows = await conn.execute_query_dict(
        f"UPDATE webhook_delivery SET locked_until = {q.param(now + lease)} WHERE id IN ("
        "SELECT id FROM webhook_delivery WHERE status = 'PENDING' "
        f"AND next_attempt_at <= {q.param(now)} "
        f"AND (locked_until IS NULL OR locked_until < {q.param(now)}) "
        f"ORDER BY next_attempt_at, id LIMIT {int(limit)}{skip}) "
        "RETURNING id, webhook_id, event_id, event, payload, attempts",
        q.params,
    )
    return rows


async def record_attempt(
    conn: BaseDBAsyncClient,
    delivery_id: int,
    *,
    attempts: int,
    ok: bool,
    status_code: int | None,
    error: str | None,
    now: datetime,
    max_attempts: int,
    ceiling_seconds: int,
) -> None:
    if ok:
        status, next_at = DeliveryStatus.DELIVERED, now
    elif attempts >= max_attempts:
        status, next_at = DeliveryStatus.FAILED, now
    else:
        status, next_at = DeliveryStatus.PENDING, now + backoff(attempts, ceiling_seconds)
    q = Sql(is_postgres(conn))
    await conn.execute_query(
        f"UPDATE webhook_delivery SET status = {q.param(status.value)}, "
        f"attempts = {q.param(attempts)}, last_status_code = {q.param(status_code)}, "
        f"last_error = {q.param(error[:500] if error else None)}, "
        f"delivered_at = {q.param(now if ok else None)}, next_attempt_at = {q.param(next_at)}, "
        f"locked_until = NULL WHERE id = {q.param(delivery_id)}",
        q.params,
    )
