"""createWebhook, deleteWebhook, webhooks and their deliveries (ADMIN only)."""

import secrets
from collections.abc import Iterable

from strawberry import relay
from tortoise.transactions import in_transaction

from api.context import Info
from api.errors import BadUserInput
from api.inputs.account import DeleteInput
from api.inputs.webhook import CreateWebhookInput
from api.types.common import DeletePayload
from api.types.webhook import (
    CreateWebhookPayload,
    DeliveryStatusEnum,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryConnection,
    WebhookEventEnum,
)
from models.errors import DomainError, ErrorCode
from models.webhooks import UnsafeUrl, check_url, start_position
from models.webhooks import Webhook as WebhookRow
from models.webhooks import WebhookDelivery as DeliveryRow
from resolvers.mutations import fetch_in_workspace, user_errors
from resolvers.pagination import SortKey, decode_cursor, encode_cursor

MAX_URL_LENGTH = 2000
MAX_DELIVERIES_PAGE = 100


def webhook_from_row(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        url=row.url,
        events=[WebhookEventEnum(e) for e in row.events],
        active=row.active,
        created_at=row.created_at,
    )


def delivery_from_row(row: DeliveryRow) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        event_id=row.event_id,
        event=WebhookEventEnum(row.event),
        status=DeliveryStatusEnum(row.status),
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
    )


async def webhooks(info: Info) -> list[Webhook]:
    """The workspace's webhooks, oldest first."""
    rows = await WebhookRow.filter(workspace_id=info.context.workspace_id).order_by("id")
    return [webhook_from_row(r) for r in rows]


def _ids(node_ids: Iterable[str]) -> list[int | None]:
    return [int(i) if str(i).isdigit() else None for i in node_ids]


async def webhooks_by_ids(info: Info, node_ids: Iterable[str]) -> list[Webhook | None]:
    ids = _ids(node_ids)
    rows = await WebhookRow.filter(
        workspace_id=info.context.workspace_id, id__in=[i for i in ids if i is not None]
    )
    found = {r.id: webhook_from_row(r) for r in rows}
    return [found.get(i) if i is not None else None for i in ids]


async def deliveries_by_ids(info: Info, node_ids: Iterable[str]) -> list[WebhookDelivery | None]:
    ids = _ids(node_ids)
    rows = await DeliveryRow.filter(
        webhook__workspace_id=info.context.workspace_id, id__in=[i for i in ids if i is not None]
    )
    found = {r.id: delivery_from_row(r) for r in rows}
    return [found.get(i) if i is not None else None for i in ids]


# Delivery cursors have the shape of every other list's (the preflight checks that shape).
DELIVERY_ORDER = (SortKey("id", descending=True),)


def delivery_cursor(id_: int) -> str:
    return encode_cursor(DELIVERY_ORDER, {"id": id_})


def after_id(after: str | None) -> int | None:
    if after is None:
        return None
    return decode_cursor(DELIVERY_ORDER, after)[0]


async def deliveries(
    info: Info, webhook_id: int, first: int | None, after: str | None
) -> WebhookDeliveryConnection:
    """Newest first, keyset-paginated by id."""
    size = MAX_DELIVERIES_PAGE if first is None else first
    if not 0 <= size <= MAX_DELIVERIES_PAGE:
        raise BadUserInput(f"first must be between 0 and {MAX_DELIVERIES_PAGE}.")
    query = DeliveryRow.filter(webhook_id=webhook_id).order_by("-id")
    before = after_id(after)
    if before is not None:
        query = query.filter(id__lt=before)
    rows = await query.limit(size + 1)
    page = rows[:size]
    edges = [relay.Edge(node=delivery_from_row(r), cursor=delivery_cursor(r.id)) for r in page]
    return WebhookDeliveryConnection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=len(rows) > size,
            has_previous_page=before is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


async def create_webhook(info: Info, input: CreateWebhookInput) -> CreateWebhookPayload:
    """Create a webhook; its signing secret is returned this once."""
    url = input.url.strip()
    errors = []
    if not url or len(url) > MAX_URL_LENGTH:
        errors.append(
            DomainError(
                ErrorCode.INVALID, f"url must be 1 to {MAX_URL_LENGTH} characters.", ["url"]
            )
        )
    else:
        try:
            await check_url(url, allow_private=info.context.settings.webhook_allow_private)
        except UnsafeUrl as exc:
            errors.append(DomainError(ErrorCode.INVALID, str(exc), ["url"]))
    events = sorted({e.value for e in input.events})
    if not events:
        errors.append(DomainError(ErrorCode.INVALID, "Choose at least one event.", ["events"]))
    if errors:
        return CreateWebhookPayload(webhook=None, secret=None, user_errors=user_errors(errors))
    secret = "whsec_" + secrets.token_urlsafe(32)
    async with in_transaction() as conn:
        txid, change_id = await start_position(conn)
        row = await WebhookRow.create(
            workspace_id=info.context.workspace_id,
            url=url,
            events=events,
            secret=secret,
            cursor_txid=txid,
            cursor_id=change_id,
            using_db=conn,
        )
    return CreateWebhookPayload(webhook=webhook_from_row(row), secret=secret, user_errors=[])


async def delete_webhook(info: Info, input: DeleteInput) -> DeletePayload:
    """Delete a webhook and its delivery history; pending deliveries are not sent."""
    try:
        row = await fetch_in_workspace(WebhookRow, input.id, info.context.workspace_id, "id")
    except DomainError as error:
        return DeletePayload(deleted_id=None, user_errors=user_errors([error]))
    await row.delete()
    return DeletePayload(deleted_id=input.id, user_errors=[])
