"""Typed GraphQL errors. Their `extensions.code` survives error masking."""

import asyncpg
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
