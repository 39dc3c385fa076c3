"""Pure validation of trackVisit and submitForm input: bounded sizes, every error with its path."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
import strawberry

from models.errors import DomainError, DomainErrors, ErrorCode
from models.validation import Text, clean_fields

CLOCK_SKEW = timedelta(minutes=5)
MAX_FIELDS_KEYS = 50
MAX_FIELDS_BYTES = 8192
UTM = {name: Text(200) for name in ("source", "medium", "campaign", "term", "content")}
VISIT = {"visitor_id": Text(100, required=True), "url": Text(2048, required=True)}
REFERRER = {"referrer": Text(2048)}
FORM = {
    "visitor_id": Text(100),
    "email": Text(254, required=True, email=True),
    "first_name": Text(100),
    "last_name": Text(100),
    "company_name": Text(200),
    "job_title": Text(200),
    "phone": Text(50),
    "topic": Text(200, required=True),
    "source": Text(100),
    "idempotency_key": Text(100),
}
PAGE = {"url": Text(2048)}


@dataclass(frozen=True)
class Visit:
    visitor_id: str
    url: str
    referrer: str | None
    utm: dict[str, str] | None
    occurred_at: datetime


@dataclass(frozen=True)
class Form:
    values: dict[str, Any]  # the FORM fields, cleaned
    url: str | None
    utm: dict[str, str] | None
    fields: dict[str, Any] | None
    fingerprint: str  # what a replay with the same idempotencyKey must repeat


def _given(input_: Any, names) -> dict[str, Any]:
    return {name: getattr(input_, name) for name in names}


def _prefixed(errors: list[DomainError], prefix: str) -> list[DomainError]:
    return [
        DomainError(e.code, f"{prefix}.{e.message}", [prefix, *(e.field or [])]) for e in errors
    ]


def _utm(utm: Any, errors: list[DomainError]) -> dict[str, str] | None:
    if utm is None or utm is strawberry.UNSET:
        return None
    values, problems = clean_fields(_given(utm, UTM), UTM)
    errors += _prefixed(problems, "utm")
    kept = {name: value for name, value in values.items() if value is not None}
    return kept or None


def _page_url(url: str | None, field: str, errors: list[DomainError]) -> None:
    if url is None:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors.append(DomainError(ErrorCode.INVALID, f"{field} must be an http(s) URL.", [field]))


def validate_visit(input_: Any, now: datetime, retention_days: int) -> Visit:
    """The visit, or DomainErrors naming every problem."""
    values, errors = clean_fields(_given(input_, VISIT), VISIT)
    referrer, problems = clean_fields({"referrer": input_.referrer}, REFERRER)
    errors += problems
    _page_url(values["url"], "url", errors)
    utm = _utm(input_.utm, errors)
    occurred_at = input_.occurred_at or now
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    if occurred_at > now + CLOCK_SKEW:
        errors.append(
            DomainError(ErrorCode.INVALID, "occurredAt lies in the future.", ["occurredAt"])
        )
    elif retention_days > 0 and occurred_at < now - timedelta(days=retention_days):
        errors.append(
            DomainError(
                ErrorCode.INVALID,
                f"occurredAt is older than the visit retention ({retention_days} days).",
                ["occurredAt"],
            )
        )
    if errors:
        raise DomainErrors(errors)
    return Visit(values["visitor_id"], values["url"], referrer["referrer"], utm, occurred_at)


def _fields(fields: Any, errors: list[DomainError]) -> dict[str, Any] | None:
    if fields is None or fields is strawberry.UNSET:
        return None
    if not isinstance(fields, dict):
        errors.append(DomainError(ErrorCode.INVALID, "fields must be an object.", ["fields"]))
        return None
    if len(fields) > MAX_FIELDS_KEYS:
        errors.append(
            DomainError(
                ErrorCode.INVALID, f"fields holds more than {MAX_FIELDS_KEYS} keys.", ["fields"]
            )
        )
    elif len(orjson.dumps(fields)) > MAX_FIELDS_BYTES:
        errors.append(
            DomainError(
                ErrorCode.INVALID, f"fields exceeds {MAX_FIELDS_BYTES} bytes as JSON.", ["fields"]
            )
        )
    return fields or None


def validate_form(input_: Any, referer: str | None) -> Form:
    """The form, or DomainErrors naming every problem. `referer` is the page when `url` is
    not given (an unusable Referer header is ignored, not an error)."""
    values, errors = clean_fields(_given(input_, FORM), FORM)
    page, problems = clean_fields({"url": input_.url}, PAGE)
    errors += problems
    url = page["url"]
    _page_url(url, "url", errors)
    if url is None and referer and len(referer) <= 2048:
        parts = urlsplit(referer)
        url = referer if parts.scheme in ("http", "https") and parts.netloc else None
    utm = _utm(input_.utm, errors)
    fields = _fields(input_.fields, errors)
    if errors:
        raise DomainErrors(errors)
    unkeyed = {k: v for k, v in values.items() if k != "idempotency_key"}
    fingerprint = hashlib.sha256(
        orjson.dumps(
            {"form": unkeyed, "utm": utm, "fields": fields, "url": url},
            option=orjson.OPT_SORT_KEYS,
        )
    ).hexdigest()
    return Form(values, url, utm, fields, fingerprint)
