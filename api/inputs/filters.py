"""Filter inputs. Each is compiled into the SQL of the list query by `resolvers.filtering`."""

from datetime import datetime

import strawberry
from strawberry import relay

from models import InteractionType, LeadStatus

LeadStatusEnum = strawberry.enum(LeadStatus, description="Where a lead stands in its lifecycle.")
InteractionTypeEnum = strawberry.enum(InteractionType, description="What a contact did.")


@strawberry.input(
    description="Conditions on a text field. `contains` and `startsWith` ignore case."
)
class StringFilter:
    eq: str | None = None
    neq: str | None = strawberry.field(
        default=None, description="Different from the value; rows where the field is empty match."
    )
    in_: list[str] | None = strawberry.field(name="in", default=None)
    contains: str | None = None
    starts_with: str | None = None
    is_null: bool | None = None


@strawberry.input(description="Conditions on an integer field.")
class IntFilter:
    eq: int | None = None
    neq: int | None = None
    gt: int | None = None
    gte: int | None = None
    lt: int | None = None
    lte: int | None = None
    in_: list[int] | None = strawberry.field(name="in", default=None)
    is_null: bool | None = None


@strawberry.input(description="Conditions on a decimal number field.")
class FloatFilter:
    eq: float | None = None
    neq: float | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    is_null: bool | None = None


@strawberry.input(description="Conditions on a timestamp.")
class DateTimeFilter:
    eq: datetime | None = None
    gt: datetime | None = None
    gte: datetime | None = None
    lt: datetime | None = None
    lte: datetime | None = None
    is_null: bool | None = None


@strawberry.input(description="Conditions on a global ID or a reference.")
class IDFilter:
    eq: relay.GlobalID | None = None
    in_: list[relay.GlobalID] | None = strawberry.field(name="in", default=None)
    is_null: bool | None = None


@strawberry.input(description="Conditions on a lead's status.")
class LeadStatusFilter:
    eq: LeadStatusEnum | None = None
    in_: list[LeadStatusEnum] | None = strawberry.field(name="in", default=None)


@strawberry.input(description="Conditions on an interaction's type.")
class InteractionTypeFilter:
    eq: InteractionTypeEnum | None = None
    in_: list[InteractionTypeEnum] | None = strawberry.field(name="in", default=None)


@strawberry.input(description="Accounts matching every condition given.")
class AccountFilter:
    id: IDFilter | None = None
    name: StringFilter | None = None
    industry: StringFilter | None = None
    city: StringFilter | None = None
    country: StringFilter | None = None
    number_of_employees: IntFilter | None = None
    annual_revenue: FloatFilter | None = None
    created_at: DateTimeFilter | None = None
    parent_account: "AccountFilter | None" = strawberry.field(
        default=None, description="The parent account matches (accounts without one never do)."
    )
    contacts: "ContactListFilter | None" = None
    leads: "LeadListFilter | None" = None
    and_: "list[AccountFilter] | None" = strawberry.field(name="and", default=None)
    or_: "list[AccountFilter] | None" = strawberry.field(name="or", default=None)
    not_: "AccountFilter | None" = strawberry.field(name="not", default=None)


@strawberry.input(description="Contacts matching every condition given.")
class ContactFilter:
    id: IDFilter | None = None
    first_name: StringFilter | None = None
    last_name: StringFilter | None = None
    email: StringFilter | None = None
    job_title: StringFilter | None = None
    created_at: DateTimeFilter | None = None
    account: AccountFilter | None = strawberry.field(
        default=None, description="The contact's account matches (contacts without one never do)."
    )
    leads: "LeadListFilter | None" = None
    and_: "list[ContactFilter] | None" = strawberry.field(name="and", default=None)
    or_: "list[ContactFilter] | None" = strawberry.field(name="or", default=None)
    not_: "ContactFilter | None" = strawberry.field(name="not", default=None)


@strawberry.input(description="Leads matching every condition given.")
class LeadFilter:
    id: IDFilter | None = None
    topic: StringFilter | None = None
    source: StringFilter | None = None
    status: LeadStatusFilter | None = None
    score: IntFilter | None = strawberry.field(
        default=None, description="The score under the primary scoring model."
    )
    sales_ready: bool | None = strawberry.field(
        default=None, description="Sales-ready under any active scoring model (or not)."
    )
    created_at: DateTimeFilter | None = None
    contact: ContactFilter | None = None
    account: AccountFilter | None = None
    and_: "list[LeadFilter] | None" = strawberry.field(name="and", default=None)
    or_: "list[LeadFilter] | None" = strawberry.field(name="or", default=None)
    not_: "LeadFilter | None" = strawberry.field(name="not", default=None)


@strawberry.input(description="Conditions on a list of contacts.")
class ContactListFilter:
    some: ContactFilter | None = strawberry.field(
        default=None, description="At least one contact matches."
    )
    none: ContactFilter | None = strawberry.field(default=None, description="No contact matches.")


@strawberry.input(description="Conditions on a list of leads.")
class LeadListFilter:
    some: LeadFilter | None = strawberry.field(
        default=None, description="At least one lead matches."
    )
    none: LeadFilter | None = strawberry.field(default=None, description="No lead matches.")


@strawberry.input(description="Conditions on interactions.")
class InteractionFilter:
    type: InteractionTypeFilter | None = None
    occurred_at: DateTimeFilter | None = None
    contact: ContactFilter | None = strawberry.field(
        default=None, description="Who did it matches (interactions without a contact never do)."
    )
    lead: LeadFilter | None = strawberry.field(
        default=None,
        description="The lead it was recorded on matches (contact-level ones never do).",
    )
