"""Sort inputs. Every list adds an `id` tie-break after the requested keys."""

from enum import Enum

import strawberry


@strawberry.enum(description="Sort direction. Empty values sort last ascending, first descending.")
class OrderDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.enum
class AccountOrderField(Enum):
    NAME = "name"
    INDUSTRY = "industry"
    NUMBER_OF_EMPLOYEES = "number_of_employees"
    ANNUAL_REVENUE = "annual_revenue"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


@strawberry.enum
class ContactOrderField(Enum):
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    EMAIL = "email"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


@strawberry.enum
class LeadOrderField(Enum):
    TOPIC = "topic"
    STATUS = "status"
    SCORE = "score"
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


@strawberry.input(description="One sort key for accounts.")
class AccountOrder:
    field: AccountOrderField
    direction: OrderDirection = OrderDirection.ASC


@strawberry.input(description="One sort key for contacts.")
class ContactOrder:
    field: ContactOrderField
    direction: OrderDirection = OrderDirection.ASC


@strawberry.input(description="One sort key for leads.")
class LeadOrder:
    field: LeadOrderField
    direction: OrderDirection = OrderDirection.ASC
