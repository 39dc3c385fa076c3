"""What every mutation shares: turning domain errors into `UserError`s, resolving references."""

from typing import Any

import strawberry
from strawberry import relay
from tortoise.models import Model

from api.types.common import UserError, UserErrorCode
from models.errors import DomainError, ErrorCode


def user_errors(errors: list[DomainError]) -> list[UserError]:
    return [
        UserError(
            field=e.field,
            message=e.message,
            code=UserErrorCode(e.code),
            existing_ids=(
                [relay.GlobalID(type_name, str(id_)) for type_name, id_ in e.existing]
                if e.existing is not None
                else None
            ),
        )
        for e in errors
    ]


def given(input_: Any, names: list[str]) -> dict[str, Any]:
    """The fields of an input that the client actually sent (UNSET ones are left out)."""
    values = {}
    for name in names:
        value = getattr(input_, name)
        if value is not strawberry.UNSET:
            values[name] = value
    return values


def model_id(gid: relay.GlobalID, type_name: str, field: str) -> int:
    """The row id behind a global ID, or NOT_FOUND when it names another type."""
    if gid.type_name != type_name or not gid.node_id.isdigit():
        raise DomainError(ErrorCode.NOT_FOUND, f"No {type_name} with ID {gid}.", [field])
    return int(gid.node_id)


async def fetch_in_workspace(
    model: type[Model], gid: relay.GlobalID, workspace_id: int, field: str, *, lock: bool = False
) -> Any:
    """The row behind `gid` in the caller's workspace; anything else is NOT_FOUND."""
    type_name = model.__name__
    query = model.filter(id=model_id(gid, type_name, field), workspace_id=workspace_id)
    if lock:
        query = query.select_for_update()
    row = await query.first()
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, f"No {type_name} with ID {gid}.", [field])
    return row


def model_row(instance: Model) -> dict[str, Any]:
    """An ORM instance as the column dict the read path builds types from."""
    return {
        column: getattr(instance, attr)
        for attr, column in instance._meta.fields_db_projection.items()
    }
