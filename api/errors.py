"""Typed GraphQL errors. Their `extensions.code` survives error masking."""

import asyncpg
from asyncpg.exceptions._base import DataError as ClientDataError
from graphql import GraphQLError
from tortoise.exceptions import DBConnectionError

# What a lost or refused database connection raises through tortoise and asyncpg.
DATABASE_ERRORS = (
    DBConnectionError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a killed connection caught mid-protocol
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ObjectNotInPrerequisiteStateError,  # database not accepting connections
    ConnectionError,
    OSError,
)


def is_database_outage(exc: BaseException | None) -> bool:
    """True when `exc`, or what it wraps, says the database cannot be reached right now."""
    if is_client_data_error(exc):
        return False
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DATABASE_ERRORS):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class ApiError(GraphQLError):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": self.code})


class BadUserInput(ApiError):
    """Arguments a query cannot run with: a page too large, a cursor that does not fit."""

    code = "BAD_USER_INPUT"


class QueryTimeout(ApiError):
    """The database cancelled a statement that ran past LEADGRAPH_STATEMENT_TIMEOUT_MS."""

    code = "QUERY_TIMEOUT"


class TooBusy(ApiError):
    """The workspace already runs as many expensive reads as it may at once."""

    code = "RATE_LIMITED"


def _chain(exc: BaseException | None):
    """`exc` and what it wraps (tortoise wraps asyncpg errors as their first argument)."""
    seen = 0
    while exc is not None and seen < 10:
        yield exc
        wrapped = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = exc.__cause__ or wrapped or exc.__context__
        seen += 1


def sqlstate(exc: BaseException | None) -> str | None:
    """The PostgreSQL SQLSTATE behind `exc`, if a database error is in its chain."""
    for e in _chain(exc):
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def is_client_data_error(exc: BaseException | None) -> bool:
    """A value the driver or database cannot take (out of range, bad encoding): the client's."""
    return any(
        isinstance(e, (ClientDataError, asyncpg.exceptions.DataError, UnicodeError, OverflowError))
        for e in _chain(exc)
    ) or (sqlstate(exc) or "").startswith("22")
