import strawberry
from strawberry import relay


@strawberry.input(
    description="A new lead: give `contactId`, or for a sales-only lead its own `lastName`, "
    "`email` or `companyName`. Without `accountId` the lead takes its contact's account."
)
class CreateLeadInput:
    topic: str
    source: str | None = None
    contact_id: relay.GlobalID | None = None
    account_id: relay.GlobalID | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    company_name: str | None = None


@strawberry.input(description="Changes to a lead: omitted fields stay, null clears a field.")
class UpdateLeadInput:
    id: relay.GlobalID
    topic: str | None = strawberry.UNSET
    source: str | None = strawberry.UNSET
    contact_id: relay.GlobalID | None = strawberry.UNSET
    account_id: relay.GlobalID | None = strawberry.UNSET
    first_name: str | None = strawberry.UNSET
    last_name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    company_name: str | None = strawberry.UNSET
