from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from api.context import Info

if TYPE_CHECKING:
    from api.types.account import Account
    from api.types.contact import Contact
    from api.types.lead import Lead

AccountRef = Annotated["Account", strawberry.lazy("api.types.account")]
ContactRef = Annotated["Contact", strawberry.lazy("api.types.contact")]
LeadRef = Annotated["Lead", strawberry.lazy("api.types.lead")]


@strawberry.type(description="A deal that a qualified lead became.")
class Opportunity(relay.Node):
    id: relay.NodeID[int]
    name: str
    estimated_value: float | None
    lead_id: strawberry.Private[int]
    contact_id: strawberry.Private[int | None]
    account_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: dict) -> "Opportunity":
        return cls(
            id=row["id"],
            name=row["name"],
            estimated_value=row["estimated_value"],
            lead_id=row["lead_id"],
            contact_id=row["contact_id"],
            account_id=row["account_id"],
        )

    @classmethod
    def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return info.context.loaders.load_nodes("opportunity", node_ids)

    @strawberry.field(description="The lead that was qualified.")
    def lead(self, info: Info) -> LeadRef:
        return info.context.loaders.lead_by_id.load(self.lead_id)

    @strawberry.field
    def contact(self, info: Info) -> ContactRef | None:
        if self.contact_id is None:
            return None
        return info.context.loaders.contact_by_id.load(self.contact_id)

    @strawberry.field
    def account(self, info: Info) -> AccountRef | None:
        if self.account_id is None:
            return None
        return info.context.loaders.account_by_id.load(self.account_id)
