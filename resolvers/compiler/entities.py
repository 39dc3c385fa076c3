"""What each GraphQL object type reads: one line per scalar column, relation or child list.

A new scalar field is one line in `scalars` (its column and kind); the compiler and both SQL
dialects render it. Fields that need more than a column (scores, history, rules) are compiled
in `resolvers/compiler/scores.py` and named in `computed`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from models.sql import Sql
from resolvers.filtering import (
    account_condition,
    account_search,
    contact_condition,
    contact_search,
    interaction_condition,
    lead_condition,
    lead_search,
)
from resolvers.pagination import SortKey

TEXT, INT, FLOAT, BOOL, DATETIME, JSON = "text", "int", "float", "bool", "datetime", "json"
JSON_TEXT = "json_text"  # a text value inside a JSON column, at `path`


@dataclass(frozen=True)
class Column:
    """A stored column (`kind` says how it becomes JSON) or an SQL template over `{t}`."""

    column: str
    kind: str = TEXT
    template: str | None = None
    path: tuple[str, ...] = ()

    def sql(self, t: str, dialect: Any) -> str:
        if self.template is not None:
            return dialect.scalar(self.template.format(t=t))
        expr = f'{t}."{self.column}"'
        if self.kind == DATETIME:
            return dialect.scalar(
                f"CASE WHEN {expr} IS NULL THEN NULL ELSE {dialect.datetime(expr)} END"
            )
        if self.kind == BOOL:
            return dialect.boolean(expr)
        if self.kind == JSON:
            return dialect.json_column(expr)
        if self.kind == FLOAT:
            return dialect.float(expr)
        if self.kind == JSON_TEXT:
            return dialect.scalar(dialect.json_text(expr, self.path))
        return dialect.scalar(expr)


@dataclass(frozen=True)
class ToOne:
    """A to-one relation: the target type and the column holding its id (on the parent), or
    with `reverse`, the column on the target that points back at the parent."""

    target: str
    column: str
    reverse: bool = False


@dataclass(frozen=True)
class Children:
    """A nested connection: the child type and the child column pointing at the parent.
    `parent_column` None means the lead's interactions (its own plus contact-level ones)."""

    target: str
    parent_column: str | None
    default_order: tuple[SortKey, ...] = ()


@dataclass(frozen=True)
class ListOf:
    """A plain list of child rows (not paged): the child type, its column pointing at the
    parent, and the order (columns of the child table)."""

    target: str
    parent_column: str
    order: str


@dataclass(frozen=True)
class Entity:
    type_name: str
    table: str
    scalars: dict[str, Column]
    to_one: dict[str, ToOne] = field(default_factory=dict)
    children: dict[str, Children] = field(default_factory=dict)
    lists: dict[str, ListOf] = field(default_factory=dict)
    computed: frozenset[str] = frozenset()
    condition: Callable[[Any, str, Sql], str] | None = None
    search: Callable[[str | None, str, Sql], str] | None = None


NEWEST_FIRST = (SortKey("occurred_at", True, True), SortKey("id", True))
CREATED = {"createdAt": Column("created_at", DATETIME), "updatedAt": Column("updated_at", DATETIME)}
FULL_NAME = (
    "(CASE WHEN COALESCE({t}.first_name, '') <> '' "
    "THEN {t}.first_name || ' ' || {t}.last_name ELSE {t}.last_name END)"
)

ENTITIES: dict[str, Entity] = {
    "Account": Entity(
        "Account",
        "account",
        {
            "name": Column("name"),
            "industry": Column("industry"),
            "website": Column("website"),
            "city": Column("city"),
            "country": Column("country"),
            "numberOfEmployees": Column("number_of_employees", INT),
            "annualRevenue": Column("annual_revenue", FLOAT),
            **CREATED,
        },
        to_one={
            "parentAccount": ToOne("Account", "parent_account_id"),
            "primaryContact": ToOne("Contact", "primary_contact_id"),
        },
        children={
            "childAccounts": Children("Account", "parent_account_id"),
            "contacts": Children("Contact", "account_id"),
            "leads": Children("Lead", "account_id"),
        },
        computed=frozenset({"rollup"}),
        condition=account_condition,
        search=account_search,
    ),
    "Contact": Entity(
        "Contact",
        "contact",
        {
            "firstName": Column("first_name"),
            "lastName": Column("last_name"),
            "email": Column("email"),
            "phone": Column("phone"),
            "jobTitle": Column("job_title"),
            "fullName": Column("full_name", template=FULL_NAME),
            **CREATED,
        },
        to_one={"account": ToOne("Account", "account_id")},
        children={
            "leads": Children("Lead", "contact_id"),
            "interactions": Children("Interaction", "contact_id", NEWEST_FIRST),
        },
        computed=frozenset({"firstTouch"}),
        condition=contact_condition,
        search=contact_search,
    ),
    "Lead": Entity(
        "Lead",
        "lead",
        {
            "topic": Column("topic"),
            "source": Column("source"),
            "status": Column("status"),
            "firstName": Column("first_name"),
            "lastName": Column("last_name"),
            "email": Column("email"),
            "companyName": Column("company_name"),
            "score": Column("score", INT),
            "grade": Column("grade"),
            "salesReady": Column("sales_ready", BOOL),
            **CREATED,
        },
        to_one={
            "contact": ToOne("Contact", "contact_id"),
            "account": ToOne("Account", "account_id"),
            "opportunity": ToOne("Opportunity", "lead_id", reverse=True),
        },
        children={"interactions": Children("Interaction", None, NEWEST_FIRST)},
        lists={"history": ListOf("LeadEvent", "lead_id", "at, id")},
        computed=frozenset({"scores", "firstTouch", "lastTouch"}),
        condition=lead_condition,
        search=lead_search,
    ),
    "Interaction": Entity(
        "Interaction",
        "interaction",
        {
            "type": Column("type"),
            "occurredAt": Column("occurred_at", DATETIME),
            "metadata": Column("metadata", JSON),
        },
        to_one={"contact": ToOne("Contact", "contact_id"), "lead": ToOne("Lead", "lead_id")},
        condition=interaction_condition,
    ),
    "Opportunity": Entity(
        "Opportunity",
        "opportunity",
        {"name": Column("name"), "estimatedValue": Column("estimated_value", FLOAT)},
        to_one={
            "lead": ToOne("Lead", "lead_id"),
            "contact": ToOne("Contact", "contact_id"),
            "account": ToOne("Account", "account_id"),
        },
    ),
    "ScoringModel": Entity(
        "ScoringModel",
        "scoring_model",
        {
            "name": Column("name"),
            "primary": Column("primary", BOOL),
            "active": Column("active", BOOL),
            "salesReadyThreshold": Column("sales_ready_threshold", INT),
            "appliesTo": Column("applies_to", JSON),
            **CREATED,
        },
        computed=frozenset({"rules", "grades"}),
    ),
    "ApiKey": Entity(
        "ApiKey",
        "api_key",
        {
            "name": Column("name"),
            "role": Column("role"),
            "createdAt": Column("created_at", DATETIME),
            "lastUsedAt": Column("last_used_at", DATETIME),
            "revokedAt": Column("revoked_at", DATETIME),
            "allowedOrigins": Column("allowed_origins", JSON),
            "rateLimitPerMinute": Column("rate_limit_per_minute", INT),
            "rateLimitPerAddress": Column("rate_limit_per_address", INT),
        },
    ),
    # A PAGE_VISITED interaction as an attribution touch (resolvers/compiler/touches.py).
    "Touch": Entity(
        "Touch",
        "interaction",
        {
            "at": Column("occurred_at", DATETIME),
            "url": Column("metadata", JSON_TEXT, path=("url",)),
            "referrer": Column("metadata", JSON_TEXT, path=("referrer",)),
            "utmSource": Column("metadata", JSON_TEXT, path=("utm", "source")),
            "utmMedium": Column("metadata", JSON_TEXT, path=("utm", "medium")),
            "utmCampaign": Column("metadata", JSON_TEXT, path=("utm", "campaign")),
            "utmTerm": Column("metadata", JSON_TEXT, path=("utm", "term")),
            "utmContent": Column("metadata", JSON_TEXT, path=("utm", "content")),
        },
    ),
    "LeadEvent": Entity(
        "LeadEvent",
        "lead_event",
        {
            "at": Column("at", DATETIME),
            "fromStatus": Column("from_status"),
            "toStatus": Column("to_status"),
            "reason": Column("reason"),
            "apiKeyName": Column("api_key_name"),
        },
    ),
}
ENTITIES["Webhook"] = Entity(
    "Webhook",
    "webhook",
    {
        "url": Column("url"),
        "events": Column("events", JSON),
        "active": Column("active", BOOL),
        "createdAt": Column("created_at", DATETIME),
    },
    computed=frozenset({"deliveries"}),
)
ENTITIES["WebhookDelivery"] = Entity(
    "WebhookDelivery",
    "webhook_delivery",
    {
        "eventId": Column("event_id"),
        "event": Column("event"),
        "status": Column("status"),
        "attempts": Column("attempts", INT),
        "lastStatusCode": Column("last_status_code", INT),
        "lastError": Column("last_error"),
        "createdAt": Column("created_at", DATETIME),
        "deliveredAt": Column("delivered_at", DATETIME),
    },
)
# The connections at the root of Query, by field name.
ROOT_LISTS = {"accounts": "Account", "contacts": "Contact", "leads": "Lead"}
# Types `node(id:)` finds. ApiKey, Webhook and WebhookDelivery are listed through their ADMIN
# root fields only: node() answers null for them, as strawberry does.
NODE_TYPES = ("Account", "Contact", "Lead", "Interaction", "Opportunity", "ScoringModel")
