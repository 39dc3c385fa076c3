from datetime import datetime

import strawberry

from api.types.common import UserError
from models.sql import parse_datetime, parse_json


@strawberry.type(
    description="The answer to a capture call: accepted or not, and nothing about what the "
    "workspace already knew (e.g. whether the email belonged to a contact)."
)
class CapturePayload:
    accepted: bool
    user_errors: list[UserError]


@strawberry.type(description="A page visit used for attribution: where it was and what brought it.")
class Touch:
    at: datetime
    url: str | None
    referrer: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None

    @classmethod
    def from_row(cls, row: dict) -> "Touch":
        """From a PAGE_VISITED interaction row (its metadata as `visit_metadata` wrote it)."""
        metadata = parse_json(row["metadata"]) or {}
        utm = metadata.get("utm") or {}
        return cls(
            at=parse_datetime(row["occurred_at"]),
            url=metadata.get("url"),
            referrer=metadata.get("referrer"),
            utm_source=utm.get("source"),
            utm_medium=utm.get("medium"),
            utm_campaign=utm.get("campaign"),
            utm_term=utm.get("term"),
            utm_content=utm.get("content"),
        )
