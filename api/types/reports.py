"""Reporting types: grouped aggregates, the lead funnel, score buckets and account rollups."""

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.context import Info
from api.inputs.filters import InteractionTypeEnum, LeadStatusEnum

if TYPE_CHECKING:
    from api.types.account import Account
    from api.types.contact import Contact
    from api.types.lead import Lead

AccountRef = Annotated["Account", strawberry.lazy("api.types.account")]
ContactRef = Annotated["Contact", strawberry.lazy("api.types.contact")]
LeadRef = Annotated["Lead", strawberry.lazy("api.types.lead")]

SCORE_SOURCE = (
    "Scores are the stored lead scores (lead_score rows) of the chosen scoring model: `modelId`, "
    "or the primary model. Leads without a score under that model count in `count` but not in "
    "the score statistics."
)


@strawberry.enum(description="How time dimensions are bucketed, in the caller's time zone.")
class TimeInterval(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@strawberry.enum(description="What leads can be grouped by.")
class LeadDimension(Enum):
    STATUS = "status"
    SOURCE = "source"
    TOPIC = "topic"
    GRADE = "grade"
    SALES_READY = "sales_ready"
    ACCOUNT = "account"
    CREATED_AT = "created_at"


@strawberry.enum(description="What contacts can be grouped by.")
class ContactDimension(Enum):
    ACCOUNT = "account"
    JOB_TITLE = "job_title"
    CREATED_AT = "created_at"


@strawberry.enum(description="What interactions can be grouped by.")
class InteractionDimension(Enum):
    TYPE = "type"
    OCCURRED_AT = "occurred_at"
    CONTACT = "contact"
    LEAD = "lead"


@strawberry.type(description="Sum, average, minimum and maximum of integers; null when none.")
class IntStats:
    sum: int | None = strawberry.field(description="The total.")
    avg: float | None = strawberry.field(description="The mean.")
    min: int | None = strawberry.field(description="The smallest value.")
    max: int | None = strawberry.field(description="The largest value.")


@strawberry.type(description="How many leads, and statistics of their scores. " + SCORE_SOURCE)
class LeadAggregate:
    count: int = strawberry.field(description="How many leads.")
    score: IntStats = strawberry.field(description="Their scores under the chosen model.")


@strawberry.type(
    description="The values a lead group shares; only the dimensions grouped by are set. "
    "`createdAt` is the start of the bucket in the requested time zone."
)
class LeadGroupKey:
    status: LeadStatusEnum | None = strawberry.field(default=None, description="STATUS.")
    source: str | None = strawberry.field(default=None, description="SOURCE.")
    topic: str | None = strawberry.field(default=None, description="TOPIC.")
    grade: str | None = strawberry.field(
        default=None, description="The grade under the chosen scoring model."
    )
    sales_ready: bool | None = strawberry.field(default=None, description="SALES_READY.")
    created_at: datetime | None = strawberry.field(
        default=None, description="CREATED_AT: the bucket's local start, with its UTC offset."
    )
    account_id: strawberry.Private[int | None] = None

    @strawberry.field(description="The account of the group (null: leads without an account).")
    def account(self, info: Info) -> AccountRef | None:
        if self.account_id is None:
            return None
        return info.context.loaders.account_by_id.load(self.account_id)


@strawberry.type(description="Leads sharing one combination of the grouped dimensions.")
class LeadGroup:
    key: LeadGroupKey = strawberry.field(description="What the group's leads share.")
    aggregate: LeadAggregate = strawberry.field(description="The group's figures.")


@strawberry.type(description="Lead counts and score statistics, in total and per group.")
class LeadStats:
    total: LeadAggregate = strawberry.field(description="Over every matching lead.")
    groups: list[LeadGroup] = strawberry.field(description="Ordered by key; empty values last.")


@strawberry.type(
    description="The values an interaction group shares; only the dimensions grouped by are "
    "set. `occurredAt` is the start of the bucket in the requested time zone."
)
class InteractionGroupKey:
    type: InteractionTypeEnum | None = strawberry.field(default=None, description="TYPE.")
    occurred_at: datetime | None = strawberry.field(
        default=None, description="OCCURRED_AT: the bucket's local start, with its UTC offset."
    )
    contact_id: strawberry.Private[int | None] = None
    lead_id: strawberry.Private[int | None] = None

    @strawberry.field(description="Who did it (null: interactions without a contact).")
    def contact(self, info: Info) -> ContactRef | None:
        if self.contact_id is None:
            return None
        return info.context.loaders.contact_by_id.load(self.contact_id)

    @strawberry.field(description="The lead it was recorded on (null: contact-level ones).")
    def lead(self, info: Info) -> LeadRef | None:
        if self.lead_id is None:
            return None
        return info.context.loaders.lead_by_id.load(self.lead_id)


@strawberry.type(description="Interactions sharing one combination of the grouped dimensions.")
class InteractionGroup:
    key: InteractionGroupKey = strawberry.field(description="What the group shares.")
    count: int = strawberry.field(description="How many interactions.")


@strawberry.type(description="Interaction counts, in total and per group.")
class InteractionStats:
    count: int = strawberry.field(description="Every matching interaction.")
    groups: list[InteractionGroup] = strawberry.field(
        description="Ordered by key; empty values last."
    )


@strawberry.type(
    description="The values a contact group shares; only the dimensions grouped by are set. "
    "`createdAt` is the start of the bucket in the requested time zone."
)
class ContactGroupKey:
    job_title: str | None = strawberry.field(default=None, description="JOB_TITLE.")
    created_at: datetime | None = strawberry.field(
        default=None, description="CREATED_AT: the bucket's local start, with its UTC offset."
    )
    account_id: strawberry.Private[int | None] = None

    @strawberry.field(description="The account of the group (null: contacts without one).")
    def account(self, info: Info) -> AccountRef | None:
        if self.account_id is None:
            return None
        return info.context.loaders.account_by_id.load(self.account_id)


@strawberry.type(description="Contacts sharing one combination of the grouped dimensions.")
class ContactGroup:
    key: ContactGroupKey = strawberry.field(description="What the group shares.")
    count: int = strawberry.field(description="How many contacts.")


@strawberry.type(description="Contact counts, in total and per group.")
class ContactStats:
    count: int = strawberry.field(description="Every matching contact.")
    groups: list[ContactGroup] = strawberry.field(description="Ordered by key; empty values last.")


@strawberry.type(description="One lead status in the funnel, over the requested period.")
class FunnelStage:
    status: LeadStatusEnum = strawberry.field(description="The status of this stage.")
    entered: int = strawberry.field(
        description="Leads that entered the status in the period (creating a lead enters NEW)."
    )
    still_there: int = strawberry.field(
        description="Of those, the leads whose status is still this one now."
    )
    median_hours_to_next: float | None = strawberry.field(
        description="Median hours from entering the status (in the period) to the lead's next "
        "status change; null when none of them has moved on."
    )


@strawberry.type(description="How leads moved through their statuses in a period.")
class LeadFunnel:
    stages: list[FunnelStage] = strawberry.field(description="One per status, in lifecycle order.")
    conversion_rate: float = strawberry.field(
        description="Leads that entered QUALIFIED in the period divided by the leads that "
        "entered NEW in it (0 when none entered NEW)."
    )


@strawberry.type(description="Leads whose score lies in [from, to).")
class ScoreBucket:
    from_: int = strawberry.field(name="from", description="Lowest score of the bucket.")
    to: int = strawberry.field(description="First score above the bucket.")
    count: int = strawberry.field(description="Leads with a score in the bucket.")


@strawberry.type(
    description="Totals over an account and, unless asked otherwise, every account below it "
    "(children, their children, ...). Leads and contacts count where they belong by their "
    "account; scores are the primary scoring model's stored lead scores."
)
class AccountRollup:
    contacts: int = strawberry.field(description="Contacts at the accounts.")
    leads: int = strawberry.field(description="Leads of the accounts.")
    open_leads: int = strawberry.field(
        description="Leads in NEW, SALES_READY, SALES_ACCEPTED or NURTURING."
    )
    sales_ready_leads: int = strawberry.field(
        description="Leads that are sales-ready (`Lead.salesReady`), whatever their status."
    )
    qualified_leads: int = strawberry.field(description="Leads in QUALIFIED.")
    score: IntStats = strawberry.field(
        description="The leads' stored scores under the primary scoring model."
    )
    account_id: strawberry.Private[int]
    include_child_accounts: strawberry.Private[bool]

    @strawberry.field(
        description="Interactions of the accounts' contacts (and, for sales-only leads, "
        "recorded on the accounts' leads) in the last `sinceDays` days."
    )
    def interactions(self, info: Info, since_days: int | None = 30) -> int:
        return info.context.loaders.reports.rollup_interactions(
            self.account_id, self.include_child_accounts, 30 if since_days is None else since_days
        )
