"""The CAPTURE-only settings of a new API key: allowed origins and rate limits."""

from typing import Any
from urllib.parse import urlsplit

from models import Role
from models.errors import DomainError, ErrorCode

MAX_ORIGINS = 20
MAX_RATE = 100_000


def _is_origin(origin: str) -> bool:
    """`scheme://host[:port]` exactly, as browsers send it in the Origin header."""
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not (parts.path or parts.query or parts.fragment or parts.username)
        and origin == f"{parts.scheme}://{parts.netloc}"
        and len(origin) <= 200
    )


def capture_limits(input_: Any, errors: list[DomainError]) -> dict[str, Any]:
    """The columns for `ApiKey.issue`, appending problems to `errors`."""
    given = {
        "allowed_origins": input_.allowed_origins,
        "rate_limit_per_minute": input_.rate_limit_per_minute,
        "rate_limit_per_address": input_.rate_limit_per_address,
    }
    given = {name: value for name, value in given.items() if value is not None}
    if given and Role(input_.role) is not Role.CAPTURE:
        errors.append(
            DomainError(
                ErrorCode.INVALID,
                "allowedOrigins and the rate limits are settings of CAPTURE keys.",
                ["role"],
            )
        )
        return {}
    origins = given.get("allowed_origins")
    if origins is not None:
        if len(origins) > MAX_ORIGINS:
            errors.append(
                DomainError(
                    ErrorCode.INVALID, f"At most {MAX_ORIGINS} origins.", ["allowedOrigins"]
                )
            )
        for index, origin in enumerate(origins):
            if not _is_origin(origin):
                errors.append(
                    DomainError(
                        ErrorCode.INVALID,
                        f"'{origin[:200]}' is not an origin like https://shop.example.",
                        ["allowedOrigins", str(index)],
                    )
                )
        given["allowed_origins"] = sorted(set(origins)) or None
    for name, field in (
        ("rate_limit_per_minute", "rateLimitPerMinute"),
        ("rate_limit_per_address", "rateLimitPerAddress"),
    ):
        if name in given and not 1 <= given[name] <= MAX_RATE:
            errors.append(
                DomainError(
                    ErrorCode.INVALID, f"{field} must be between 1 and {MAX_RATE}.", [field]
                )
            )
    return given
