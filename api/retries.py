"""Retry a mutation when PostgreSQL asks for it: a deadlock, a serialization failure, or a unique
violation lost to a concurrent insert. Each mutation is one transaction, rolled back whole before
the retry, so the resolver simply runs again (bounded attempts, jittered backoff)."""

import asyncio
import logging
import random
from typing import Any

from strawberry.extensions import FieldExtension

from api.context import request_id
from api.errors import sqlstate

logger = logging.getLogger("leadgraph")

DEADLOCK, SERIALIZATION, UNIQUE = "40P01", "40001", "23505"
RETRYABLE = frozenset({DEADLOCK, SERIALIZATION, UNIQUE})
ATTEMPTS = 5
BASE_DELAY = 0.02  # seconds; doubles each attempt, times a random factor in [0.5, 1.5)


def is_retryable(exc: BaseException) -> bool:
    return sqlstate(exc) in RETRYABLE


class RetryTransientErrors(FieldExtension):
    """Re-runs the resolver (its whole transaction) on deadlocks and lost races."""

    def resolve(self, next_, source, info, **kwargs: Any) -> Any:
        return next_(source, info, **kwargs)

    async def resolve_async(self, next_, source, info, **kwargs: Any) -> Any:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await next_(source, info, **kwargs)
            except Exception as exc:
                if attempt == ATTEMPTS or not is_retryable(exc):
                    raise
                delay = BASE_DELAY * 2 ** (attempt - 1) * (0.5 + random.random())  # noqa: S311
                logger.info(
                    "request %s: %s hit %s, retrying (attempt %d)",
                    request_id.get(),
                    info.field_name,
                    sqlstate(exc),
                    attempt + 1,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


def retry_every_field(object_type: type) -> None:
    """Attach the retry to every field of a strawberry type (once, however often called)."""
    for field in object_type.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        if not any(isinstance(e, RetryTransientErrors) for e in field.extensions):
            field.extensions.append(RetryTransientErrors())
