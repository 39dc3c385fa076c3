from datetime import datetime

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api.inputs.filters import InteractionTypeEnum


@strawberry.input(
    description="An interaction to record: give contactId, leadId or both. With a lead it counts "
    "for that lead only; without, for every lead of the contact."
)
class RecordInteractionInput:
    type: InteractionTypeEnum
    contact_id: relay.GlobalID | None = None
    lead_id: relay.GlobalID | None = None
    occurred_at: datetime | None = strawberry.field(
        default=None, description="Defaults to now; may not lie in the future."
    )
    metadata: JSON | None = None
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Unique per workspace: a retry with the same key and payload is answered "
        "with the original interaction and changes nothing.",
    )


@strawberry.input(description="Up to 1,000 interactions, recorded all or nothing.")
class RecordInteractionsInput:
    interactions: list[RecordInteractionInput]
