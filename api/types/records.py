"""RecordType: the kinds of records a query or feed can name (shared by several features)."""

from enum import Enum

import strawberry


@strawberry.enum(description="A kind of record.")
class RecordType(Enum):
    ACCOUNT = "Account"
    CONTACT = "Contact"
    LEAD = "Lead"
    INTERACTION = "Interaction"
    SCORING_MODEL = "ScoringModel"
