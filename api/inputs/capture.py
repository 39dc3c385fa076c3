from datetime import datetime

import strawberry
from strawberry.scalars import JSON


@strawberry.input(description="Campaign parameters of a landing-page URL (utm_source ...).")
class UtmInput:
    source: str | None = strawberry.field(default=None, description="utm_source, ≤ 200 chars.")
    medium: str | None = strawberry.field(default=None, description="utm_medium, ≤ 200 chars.")
    campaign: str | None = strawberry.field(default=None, description="utm_campaign, ≤ 200 chars.")
    term: str | None = strawberry.field(default=None, description="utm_term, ≤ 200 chars.")
    content: str | None = strawberry.field(default=None, description="utm_content, ≤ 200 chars.")


@strawberry.input(description="One page view of a browser, known or not yet known.")
class TrackVisitInput:
    visitor_id: str = strawberry.field(
        description="The browser's own anonymous id (keep it in localStorage), 1 to 100 characters."
    )
    url: str = strawberry.field(description="The page's absolute http(s) URL.")
    referrer: str | None = strawberry.field(
        default=None, description="The page's document.referrer, ≤ 2,048 characters."
    )
    utm: UtmInput | None = strawberry.field(
        default=None, description="The campaign parameters the page was opened with."
    )
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
    email: str = strawberry.field(
        description="Matches the contact ignoring case; a new contact is created otherwise."
    )
    first_name: str | None = strawberry.field(
        default=None, description="Fills the contact's first name only if it is empty."
    )
    last_name: str | None = strawberry.field(
        default=None,
        description="Fills the contact's last name only if it is empty (a new contact without "
        "one takes the email's local part).",
    )
    company_name: str | None = strawberry.field(
        default=None, description="Links the contact to the account of that name (ignoring case)."
    )
    job_title: str | None = strawberry.field(
        default=None, description="Fills the contact's job title only if it is empty."
    )
    phone: str | None = strawberry.field(
        default=None, description="Fills the contact's phone only if it is empty."
    )
    topic: str = strawberry.field(
        description="What the visitor is interested in: the contact's open lead with this topic "
        "(ignoring case) is reused, else a lead is created."
    )
    source: str | None = strawberry.field(
        default=None, description="The new lead's source; defaults to utm.source."
    )
    utm: UtmInput | None = strawberry.field(
        default=None, description="The campaign parameters of the form's page."
    )
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
