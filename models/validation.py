"""Pure field validation: normalise text input and collect every problem with its field."""

import re
from dataclasses import dataclass
from typing import Any

from models.errors import DomainError, ErrorCode

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


@dataclass(frozen=True)
class Text:
    max_length: int
    required: bool = False
    email: bool = False


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def clean_fields(
    values: dict[str, Any], rules: dict[str, Text]
) -> tuple[dict[str, Any], list[DomainError]]:
    """Strip text, turn blank optional values into None, and check lengths and emails.

    `values` holds only the fields the client sent (an update may send few)."""
    cleaned: dict[str, Any] = {}
    errors: list[DomainError] = []
    for name, value in values.items():
        rule = rules[name]
        field = [camel(name)]
        if isinstance(value, str):
            value = value.strip() or None
        if value is None:
            if rule.required:
                errors.append(DomainError(ErrorCode.INVALID, f"{camel(name)} is required.", field))
            cleaned[name] = None
            continue
        if len(value) > rule.max_length:
            errors.append(
                DomainError(
                    ErrorCode.INVALID,
                    f"{camel(name)} is longer than {rule.max_length} characters.",
                    field,
                )
            )
        elif rule.email and not EMAIL_RE.match(value):
            errors.append(
                DomainError(ErrorCode.INVALID, f"'{value}' is not an email address.", field)
            )
        cleaned[name] = value
    return cleaned, errors


def normalize_email(email: str | None) -> str | None:
    return email.lower() if email else None
