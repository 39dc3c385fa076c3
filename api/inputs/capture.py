from datetime import datetime

import strawberry
from strawberry.scalars import JSON


@strawberry.input(description="Campaign parameters of a landing-page URL (utm_source ...).")
class UtmInput:
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None


@strawberry.input(description="One page view of a browser, known or not yet known.")
class TrackVisitInput:
    visitor_id: str = strawberry.field(
        description="The browser's own anonymous id (keep it in localStorage), 1 to 100 characters."
    )
    url: str = strawberry.field(description="The page's absolute http(s) URL.")
    referrer: str | None = None
    utm: UtmInput | None = None
    occurred_at: datetime | None = strawberry.field(
        default=None,
        description="Defaults to now; not in the future, not older than the visit retention.",
    )


@strawberry.input(
    description="A landing-page form: matched to a contact by email (ignoring case), and to an "
    "open lead of that contact with the same topic; missing ones are created."
)
class SubmitFormInput:
    visitor_id: str | None = strawberry.field(
        default=None, description="The browser's anonymous id: its earlier visits are stitched."
    )
    email: str
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = strawberry.field(
        default=None, description="Links the contact to the account of that name (ignoring case)."
    )
    job_title: str | None = None
    phone: str | None = None
    topic: str
    source: str | None = strawberry.field(
        default=None, description="The new lead's source; defaults to utm.source."
    )
    utm: UtmInput | None = None
    url: str | None = strawberry.field(
        default=None,
        description="The page the form is on; defaults to the request's Referer header.",
    )
    fields: JSON | None = strawberry.field(
        default=None,
        description="Any other form fields (an object of at most 50 keys, 8 KiB as JSON), kept on "
        "the FORM_SUBMITTED interaction's metadata.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="A retry with the same key and form is accepted and changes nothing.",
    )
