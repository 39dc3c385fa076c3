import strawberry

from api.types.webhook import WebhookEventEnum


@strawberry.input(description="A new webhook: where to POST and for which events.")
class CreateWebhookInput:
    url: str
    events: list[WebhookEventEnum]
