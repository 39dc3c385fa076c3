from enum import Enum

import strawberry
from strawberry import relay


@strawberry.enum(description="Why a lead was disqualified.")
class DisqualifyReason(Enum):
    LOST = "LOST"
    CANNOT_CONTACT = "CANNOT_CONTACT"
    NO_LONGER_INTERESTED = "NO_LONGER_INTERESTED"
    CANCELED = "CANCELED"


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


@strawberry.input(description="A lead to move through its lifecycle, and why.")
class LeadTransitionInput:
    lead_id: relay.GlobalID
    reason: str | None = None


@strawberry.input(description="A lead to disqualify, and why.")
class DisqualifyLeadInput:
    lead_id: relay.GlobalID
    reason: DisqualifyReason


@strawberry.input(
    description="A lead to qualify into an opportunity. A sales-only lead is linked to the "
    "contact with its email (or a new one) and the account with its company name (or a new one)."
)
class QualifyLeadInput:
    lead_id: relay.GlobalID
    opportunity_name: str | None = None
    estimated_value: float | None = None
