from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from api.context import Info
from api.inputs.filters import ContactFilter, LeadFilter
from api.inputs.ordering import ContactOrder, LeadOrder
from api.types.common import Connection, UserError
from models.sql import parse_datetime

if TYPE_CHECKING:
    from api.types.contact import Contact
    from api.types.lead import Lead
    from api.types.reports import AccountRollup

ContactRef = Annotated["Contact", strawberry.lazy("api.types.contact")]
LeadRef = Annotated["Lead", strawberry.lazy("api.types.lead")]
RollupRef = Annotated["AccountRollup", strawberry.lazy("api.types.reports")]


@strawberry.type(description="A company. Accounts may have a parent account and child accounts.")
class Account(relay.Node):
    id: relay.NodeID[int]
    name: str
    industry: str | None
    website: str | None
    city: str | None
    country: str | None
    number_of_employees: int | None = strawberry.field(
        description="How many people the company employs."
    )
    annual_revenue: float | None = strawberry.field(
        description="The company's yearly revenue, in the workspace's currency."
    )
    created_at: datetime
    updated_at: datetime
    parent_account_id: strawberry.Private[int | None]
    primary_contact_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: dict) -> "Account":
        return cls(
            id=row["id"],
            name=row["name"],
            industry=row["industry"],
            website=row["website"],
            city=row["city"],
            country=row["country"],
            number_of_employees=row["number_of_employees"],
            annual_revenue=row["annual_revenue"],
            created_at=parse_datetime(row["created_at"]),
            updated_at=parse_datetime(row["updated_at"]),
            parent_account_id=row["parent_account_id"],
            primary_contact_id=row["primary_contact_id"],
        )

    @classmethod
    def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return info.context.loaders.load_nodes("account", node_ids)

    @strawberry.field(description="The account this one belongs to, if any.")
    def parent_account(self, info: Info) -> "Account | None":
        if self.parent_account_id is None:
            return None
        return info.context.loaders.account_by_id.load(self.parent_account_id)

    @strawberry.field(description="The main person to talk to at this account.")
    def primary_contact(self, info: Info) -> ContactRef | None:
        if self.primary_contact_id is None:
            return None
        return info.context.loaders.contact_by_id.load(self.primary_contact_id)

    @strawberry.field(description="Accounts whose parent is this one, by id.")
    def child_accounts(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection["Account"]:
        return info.context.loaders.child_accounts.load(self.id, first=first, after=after)

    @strawberry.field(description="The people at this account.")
    def contacts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ContactFilter | None = None,
        order_by: list[ContactOrder] | None = None,
    ) -> Connection[ContactRef]:
        return info.context.loaders.account_contacts.load(
            self.id, first=first, after=after, filter=filter, order_by=order_by
        )

    @strawberry.field(description="Leads of this account.")
    def leads(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: LeadFilter | None = None,
        order_by: list[LeadOrder] | None = None,
    ) -> Connection[LeadRef]:
        return info.context.loaders.account_leads.load(
            self.id, first=first, after=after, filter=filter, order_by=order_by
        )

    @strawberry.field(
        description="Totals over this account and, by default, its whole hierarchy below."
    )
    def rollup(self, info: Info, include_child_accounts: bool | None = True) -> RollupRef:
        return info.context.loaders.reports.rollup(self.id, include_child_accounts is not False)


@strawberry.type(description="The result of creating or updating an account.")
class AccountPayload:
    account: Account | None
    user_errors: list[UserError]
