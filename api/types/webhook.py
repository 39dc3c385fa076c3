"""Webhooks and their deliveries."""

from collections.abc import Iterable
from datetime import datetime

import strawberry
from strawberry import relay

from api.context import Info
from api.types.common import UserError
from models.webhooks import DeliveryStatus, WebhookEvent

WebhookEventEnum = strawberry.enum(
    WebhookEvent,
    description="What a webhook can be called for. LEAD_SALES_READY: a lead became "
    "SALES_READY; SCORE_CHANGED: a score, grade or readiness moved; LEAD_STATUS_CHANGED: any "
    "status change; RECORD_CHANGED: any create, update or delete.",
)
DeliveryStatusEnum = strawberry.enum(
    DeliveryStatus, description="PENDING (retrying), DELIVERED (2xx) or FAILED (gave up)."
)


@strawberry.type(description="One event sent (or being sent) to a webhook.")
class WebhookDelivery(relay.Node):
    id: relay.NodeID[int]
    event_id: str = strawberry.field(
        description="Stable across retries: receivers de-duplicate on it."
    )
    event: WebhookEventEnum
    status: DeliveryStatusEnum
    attempts: int = strawberry.field(description="How many times it was sent so far.")
    last_status_code: int | None = strawberry.field(
        description="The HTTP status of the last attempt; null when no answer came."
    )
    last_error: str | None = strawberry.field(description="Why the last attempt failed.")
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        from resolvers.webhooks import deliveries_by_ids

        return deliveries_by_ids(info, node_ids)


@strawberry.type(description="A page of webhook deliveries, newest first.")
class WebhookDeliveryConnection(relay.Connection[WebhookDelivery]):
    pass


@strawberry.type(description="An HTTP endpoint called, signed, for the events it chose.")
class Webhook(relay.Node):
    id: relay.NodeID[int]
    url: str
    events: list[WebhookEventEnum]
    active: bool
    created_at: datetime

    @classmethod
    def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        from resolvers.webhooks import webhooks_by_ids

        return webhooks_by_ids(info, node_ids)

    @strawberry.field(description="Its deliveries, newest first, with every attempt counted.")
    async def deliveries(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> WebhookDeliveryConnection:
        from resolvers.webhooks import deliveries

        return await deliveries(info, self.id, first, after)


@strawberry.type(description="The new webhook and its signing secret (shown this once only).")
class CreateWebhookPayload:
    webhook: Webhook | None
    secret: str | None = strawberry.field(
        description="Verify `Leadgraph-Signature` with it; it is never shown again."
    )
    user_errors: list[UserError]
