from datetime import datetime

import strawberry

from api.types.common import UserError
from models.sql import parse_datetime, parse_json


@strawberry.type(
    description="The answer to a capture call: accepted or not, and nothing about what the "
    "workspace already knew (e.g. whether the email belonged to a contact)."
)
class CapturePayload:
    accepted: bool = strawberry.field(description="True when the call was recorded.")
    user_errors: list[UserError] = strawberry.field(
        description="Problems with the input (nothing was recorded)."
    )


@strawberry.type(description="A page visit used for attribution: where it was and what brought it.")
class Touch:
    at: datetime = strawberry.field(description="When the visit happened.")
    url: str | None = strawberry.field(description="The page visited.")
    referrer: str | None = strawberry.field(description="The page the visitor came from.")
    utm_source: str | None = strawberry.field(description="utm_source of the visit.")
    utm_medium: str | None = strawberry.field(description="utm_medium of the visit.")
    utm_campaign: str | None = strawberry.field(description="utm_campaign of the visit.")
    utm_term: str | None = strawberry.field(description="utm_term of the visit.")
    utm_content: str | None = strawberry.field(description="utm_content of the visit.")

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
