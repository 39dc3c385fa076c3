"""RecordType: the kinds of records a query or feed can name (shared by the change feed and
`duplicates`). Each value is the record's table, which is what the change log stores."""

from enum import Enum

import strawberry


@strawberry.enum(description="A kind of record.")
class RecordType(Enum):
    ACCOUNT = "account"
    CONTACT = "contact"
    LEAD = "lead"
    INTERACTION = "interaction"
    SCORING_MODEL = "scoring_model"
