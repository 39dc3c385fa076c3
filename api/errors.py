"""Typed GraphQL errors. Their `extensions.code` survives error masking."""

from graphql import GraphQLError


class ApiError(GraphQLError):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": self.code})


class BadUserInput(ApiError):
    """Arguments a query cannot run with: a page too large, a cursor that does not fit."""

    code = "BAD_USER_INPUT"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class Unauthenticated(ApiError):
    code = "UNAUTHENTICATED"


class ServiceUnavailable(ApiError):
    code = "SERVICE_UNAVAILABLE"
