from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from api.context import Info
from api.inputs.filters import InteractionTypeEnum
from api.types.common import UserError
from models.sql import parse_datetime, parse_json

if TYPE_CHECKING:
    from api.types.contact import Contact
    from api.types.lead import Lead
    from api.types.scoring import ScoreChange

ContactRef = Annotated["Contact", strawberry.lazy("api.types.contact")]
LeadRef = Annotated["Lead", strawberry.lazy("api.types.lead")]
ScoreChangeRef = Annotated["ScoreChange", strawberry.lazy("api.types.scoring")]


@strawberry.type(description="Something a contact did: opened an email, visited a page, ...")
class Interaction(relay.Node):
    id: relay.NodeID[int]
    type: InteractionTypeEnum
    occurred_at: datetime
    metadata: JSON | None
    contact_id: strawberry.Private[int | None]
    lead_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: dict) -> "Interaction":
        return cls(
            id=row["id"],
            type=InteractionTypeEnum(row["type"]),
            occurred_at=parse_datetime(row["occurred_at"]),
            metadata=parse_json(row["metadata"]),
            contact_id=row["contact_id"],
            lead_id=row["lead_id"],
        )

    @classmethod
    def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return info.context.loaders.load_nodes("interaction", node_ids)

    @strawberry.field(description="Who did it.")
    def contact(self, info: Info) -> ContactRef | None:
        if self.contact_id is None:
            return None
        return info.context.loaders.contact_by_id.load(self.contact_id)

    @strawberry.field(description="The lead it was recorded on; null for a contact-level one.")
    def lead(self, info: Info) -> LeadRef | None:
        if self.lead_id is None:
            return None
        return info.context.loaders.lead_by_id.load(self.lead_id)


@strawberry.type(
    description="The recorded interaction and the new scores of every lead it touched."
)
class RecordInteractionPayload:
    interaction: Interaction | None
    score_changes: list[ScoreChangeRef] = strawberry.field(
        description="One per affected lead and active scoring model."
    )
    user_errors: list[UserError]


@strawberry.type(description="The recorded interactions and the score changes they caused.")
class RecordInteractionsPayload:
    interactions: list[Interaction]
    score_changes: list[ScoreChangeRef]
    user_errors: list[UserError]
