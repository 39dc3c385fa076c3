"""Types shared by every aggregate: the counted Relay connection and `UserError`."""

from collections.abc import Awaitable, Callable
from typing import Generic

import strawberry
from strawberry import relay
from strawberry.relay.types import NodeType

from models.errors import ErrorCode

UserErrorCode = strawberry.enum(ErrorCode, description="Why a mutation refused its input.")


@strawberry.type(description="A page of a list, with the exact size of the whole list.")
class Connection(relay.Connection[NodeType], Generic[NodeType]):
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many items the whole list holds (filters applied).")
    def total_count(self) -> int:
        return self.count()


@strawberry.type(description="A problem with a mutation's input; nothing was written.")
class UserError:
    field: list[str] | None = strawberry.field(
        description="Path to the input field at fault (camelCase), or null for the whole input."
    )
    message: str
    code: UserErrorCode
    existing_ids: list[relay.GlobalID] | None = strawberry.field(
        default=None,
        description="DUPLICATE errors: the records the input clashes with (merge candidates).",
    )


@strawberry.type(description="The result of a delete: the deleted record's ID, or why not.")
class DeletePayload:
    deleted_id: relay.GlobalID | None
    user_errors: list[UserError]
