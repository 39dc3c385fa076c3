from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from api.context import Info
from api.inputs.filters import InteractionFilter, LeadStatusEnum
from api.types.capture import Touch
from api.types.common import Connection, UserError
from models.sql import parse_datetime

if TYPE_CHECKING:
    from api.types.account import Account
    from api.types.contact import Contact
    from api.types.interaction import Interaction
    from api.types.opportunity import Opportunity
    from api.types.scoring import LeadScore

AccountRef = Annotated["Account", strawberry.lazy("api.types.account")]
ContactRef = Annotated["Contact", strawberry.lazy("api.types.contact")]
InteractionRef = Annotated["Interaction", strawberry.lazy("api.types.interaction")]
LeadScoreRef = Annotated["LeadScore", strawberry.lazy("api.types.scoring")]
OpportunityRef = Annotated["Opportunity", strawberry.lazy("api.types.opportunity")]


@strawberry.type(description="One status change of a lead.")
class LeadEvent:
    at: datetime
    from_status: LeadStatusEnum | None
    to_status: LeadStatusEnum
    reason: str | None
    api_key_name: str | None = strawberry.field(description="The API key that made the change.")


@strawberry.type(
    description="Interest in a topic or product. A lead normally belongs to a contact; a "
    "sales-only lead has no contact and carries its own name, email and company."
)
class Lead(relay.Node):
    id: relay.NodeID[int]
    topic: str
    source: str | None
    status: LeadStatusEnum
    first_name: str | None = strawberry.field(description="Sales-only leads: the person's name.")
    last_name: str | None
    email: str | None
    company_name: str | None
    score: int = strawberry.field(
        description="The score under the primary scoring model; 0 when the lead is outside that "
        "model's entry criteria (appliesTo)."
    )
    grade: str | None = strawberry.field(
        description="The grade under the primary scoring model; null when the lead is outside "
        "that model's entry criteria."
    )
    sales_ready: bool = strawberry.field(description="True when any active model says so.")
    created_at: datetime
    updated_at: datetime
    contact_id: strawberry.Private[int | None]
    account_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: dict) -> "Lead":
        return cls(
            id=row["id"],
            topic=row["topic"],
            source=row["source"],
            status=LeadStatusEnum(row["status"]),
            first_name=row["first_name"],
            last_name=row["last_name"],
            email=row["email"],
            company_name=row["company_name"],
            score=row["score"],
            grade=row["grade"],
            sales_ready=bool(row["sales_ready"]),
            created_at=parse_datetime(row["created_at"]),
            updated_at=parse_datetime(row["updated_at"]),
            contact_id=row["contact_id"],
            account_id=row["account_id"],
        )

    @classmethod
    def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return info.context.loaders.load_nodes("lead", node_ids)

    @strawberry.field(description="The contact the lead belongs to; null for a sales-only lead.")
    def contact(self, info: Info) -> ContactRef | None:
        if self.contact_id is None:
            return None
        return info.context.loaders.contact_by_id.load(self.contact_id)

    @strawberry.field(description="The account the lead belongs to.")
    def account(self, info: Info) -> AccountRef | None:
        if self.account_id is None:
            return None
        return info.context.loaders.account_by_id.load(self.account_id)

    @strawberry.field(
        description="The interactions that count for this lead, newest first: those recorded "
        "on the lead, plus its contact's interactions that name no lead."
    )
    def interactions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: InteractionFilter | None = None,
    ) -> Connection[InteractionRef]:
        return info.context.loaders.lead_interactions.load(
            self.id, first=first, after=after, filter=filter
        )

    @strawberry.field(
        description="One score per active scoring model whose entry criteria the lead meets, "
        "each with its breakdown."
    )
    def scores(self, info: Info) -> list[LeadScoreRef]:
        return info.context.loaders.lead_scores.load(self.id)

    @strawberry.field(description="Every status change, oldest first.")
    def history(self, info: Info) -> list[LeadEvent]:
        return info.context.loaders.lead_history.load(self.id)

    @strawberry.field(
        description="Attribution: the first page visit that counts for the lead (its contact's "
        "tracked and stitched visits), with its URL, referrer and UTM."
    )
    async def first_touch(self, info: Info) -> Touch | None:
        touches = await info.context.loaders.lead_touches.load(self.id)
        return touches[0] if touches else None

    @strawberry.field(description="Attribution: the last page visit that counts for the lead.")
    async def last_touch(self, info: Info) -> Touch | None:
        touches = await info.context.loaders.lead_touches.load(self.id)
        return touches[1] if touches else None

    @strawberry.field(description="The opportunity the lead was qualified into.")
    def opportunity(self, info: Info) -> OpportunityRef | None:
        return info.context.loaders.opportunity_by_lead.load(self.id)


@strawberry.type(description="The result of creating, updating or moving a lead.")
class LeadPayload:
    lead: Lead | None
    user_errors: list[UserError]


@strawberry.type(description="The qualified lead and the records it created or linked.")
class QualifyLeadPayload:
    lead: Lead | None
    opportunity: OpportunityRef | None
    contact: ContactRef | None
    account: AccountRef | None
    user_errors: list[UserError]
