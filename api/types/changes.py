"""The change feed's types: record changes, lead status changes, the delta-sync page."""

from datetime import datetime
from enum import Enum

import strawberry
from strawberry import relay

from api.types.lead import Lead, LeadEvent
from api.types.records import RecordType


@strawberry.enum(description="What happened to a record.")
class ChangeKind(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


TYPE_NAMES = {
    RecordType.ACCOUNT: "Account",
    RecordType.CONTACT: "Contact",
    RecordType.LEAD: "Lead",
    RecordType.INTERACTION: "Interaction",
    RecordType.SCORING_MODEL: "ScoringModel",
}


@strawberry.type(description="One committed create, update or delete of a record.")
class RecordChange:
    kind: ChangeKind
    type: RecordType
    id: relay.GlobalID = strawberry.field(
        description="The record's global ID, also for a deleted record."
    )
    node: relay.Node | None = strawberry.field(
        description="The record's current state; null when it is deleted."
    )
    at: datetime = strawberry.field(description="When the change was made (its transaction).")


@strawberry.type(description="A lead moved from one status to another.")
class LeadStatusChange:
    lead: Lead = strawberry.field(description="The lead, as stored now.")
    event: LeadEvent = strawberry.field(description="The status change.")


@strawberry.type(description="A page of the delta-sync feed.")
class ChangeFeed:
    changes: list[RecordChange] = strawberry.field(
        description="Changes in commit order; a record changed several times in the page "
        "appears once, with its latest state."
    )
    next_token: str = strawberry.field(
        description="Pass as `since` to read what changed after this page."
    )
    has_more: bool = strawberry.field(
        description="True when more changes are already available: read again at once."
    )
