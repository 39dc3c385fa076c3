from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from api.context import Info
from api.inputs.filters import InteractionFilter, LeadFilter
from api.inputs.ordering import LeadOrder
from api.types.capture import Touch
from api.types.common import Connection, UserError
from models.sql import parse_datetime

if TYPE_CHECKING:
    from api.types.account import Account
    from api.types.interaction import Interaction
    from api.types.lead import Lead

AccountRef = Annotated["Account", strawberry.lazy("api.types.account")]
LeadRef = Annotated["Lead", strawberry.lazy("api.types.lead")]
InteractionRef = Annotated["Interaction", strawberry.lazy("api.types.interaction")]


@strawberry.type(description="A person, optionally working at an account.")
class Contact(relay.Node):
    id: relay.NodeID[int]
    first_name: str | None
    last_name: str
    email: str | None
    phone: str | None
    job_title: str | None
    created_at: datetime
    updated_at: datetime
    account_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: dict) -> "Contact":
        return cls(
            id=row["id"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            email=row["email"],
            phone=row["phone"],
            job_title=row["job_title"],
            created_at=parse_datetime(row["created_at"]),
            updated_at=parse_datetime(row["updated_at"]),
            account_id=row["account_id"],
        )

    @classmethod
    def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return info.context.loaders.load_nodes("contact", node_ids)

    @strawberry.field(description="First and last name.")
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.first_name else self.last_name

    @strawberry.field(description="The account the contact works at.")
    def account(self, info: Info) -> AccountRef | None:
        if self.account_id is None:
            return None
        return info.context.loaders.account_by_id.load(self.account_id)

    @strawberry.field(description="The contact's leads.")
    def leads(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: LeadFilter | None = None,
        order_by: list[LeadOrder] | None = None,
    ) -> Connection[LeadRef]:
        return info.context.loaders.contact_leads.load(
            self.id, first=first, after=after, filter=filter, order_by=order_by
        )

    @strawberry.field(
        description="Everything the contact did, newest first (including lead-level interactions)."
    )
    def interactions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: InteractionFilter | None = None,
    ) -> Connection[InteractionRef]:
        return info.context.loaders.contact_interactions.load(
            self.id, first=first, after=after, filter=filter
        )

    @strawberry.field(
        description="Attribution: the contact's first page visit (tracked or stitched), with "
        "its URL, referrer and UTM."
    )
    async def first_touch(self, info: Info) -> Touch | None:
        return await info.context.loaders.contact_first_touch.load(self.id)


@strawberry.type(description="The result of creating or updating a contact.")
class ContactPayload:
    contact: Contact | None
    user_errors: list[UserError]
