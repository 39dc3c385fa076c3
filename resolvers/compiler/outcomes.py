"""How often the compiler answered a read and why it declined the others.

Every operation that reaches the compiler counts once: `compiled`, or `declined: <reason>`
(strawberry then executes it). The reasons a query may legitimately decline are listed in
DECLINE_REASONS; any other reason is a gap in the compiler, and a test fails on it.
"""

from collections import Counter

OUTCOMES: Counter[str] = Counter()

COMPILED = "compiled"
# Reasons on the written list: strawberry answers these by design.
NOT_A_QUERY = "not a query (mutations and subscriptions run through strawberry)"
INTROSPECTION = "introspection (__schema, __type)"
PREVIEW = "previewScoringModel (computed by the scoring engine in Python)"
USER_ERROR = "a client error strawberry reports (bad cursor, page size, ID)"
VARIABLES = "variables that do not coerce (strawberry reports them)"
DEFER = "@defer/@stream"
FRAGMENT_VARIABLES = "fragment variables (experimental syntax)"
NO_OPERATION = "no single operation to run"
FORBIDDEN = "a field the caller's role may not read (strawberry answers FORBIDDEN)"
TOO_DEEP = "nesting deeper than SQLite's parser takes (about five nested connections)"
RUN_TIME_ERROR = (
    "a client error only the statement could see (report group limit, unknown modelId, "
    "expired sync token): strawberry reports it"
)
# The statement's column that is 1 when its answer would be such an error (compiler.fallbacks).
FALLBACK_COLUMN = "lg_fallback"

DECLINE_REASONS = frozenset(
    {
        NOT_A_QUERY,
        INTROSPECTION,
        PREVIEW,
        USER_ERROR,
        VARIABLES,
        DEFER,
        FRAGMENT_VARIABLES,
        NO_OPERATION,
        FORBIDDEN,
        TOO_DEEP,
        RUN_TIME_ERROR,
    }
)


class Decline(Exception):
    """The operation is outside the compiler; strawberry executes it. Carries the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Fallback(Exception):
    """The statement found a client error (FALLBACK_COLUMN): strawberry answers instead."""


def record(outcome: str) -> None:
    from api import metrics

    OUTCOMES[outcome] += 1
    metrics.fast_path(answered=outcome == COMPILED)


def declined(reason: str) -> str:
    return f"declined: {reason}"
