import strawberry
from strawberry import relay


@strawberry.input(description="A new account.")
class CreateAccountInput:
    name: str
    industry: str | None = None
    website: str | None = None
    city: str | None = None
    country: str | None = None
    number_of_employees: int | None = None
    annual_revenue: float | None = None
    parent_account_id: relay.GlobalID | None = None
    primary_contact_id: relay.GlobalID | None = None


@strawberry.input(description="Changes to an account: omitted fields stay, null clears a field.")
class UpdateAccountInput:
    id: relay.GlobalID
    name: str | None = strawberry.UNSET
    industry: str | None = strawberry.UNSET
    website: str | None = strawberry.UNSET
    city: str | None = strawberry.UNSET
    country: str | None = strawberry.UNSET
    number_of_employees: int | None = strawberry.UNSET
    annual_revenue: float | None = strawberry.UNSET
    parent_account_id: relay.GlobalID | None = strawberry.UNSET
    primary_contact_id: relay.GlobalID | None = strawberry.UNSET


@strawberry.input(description="The record to delete.")
class DeleteInput:
    id: relay.GlobalID
