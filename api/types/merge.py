import strawberry
from strawberry import relay

from api.types.common import UserError


@strawberry.type(description="The result of a merge: the survivor as stored after it, or why not.")
class MergePayload:
    survivor: relay.Node | None
    merged_ids: list[relay.GlobalID] = strawberry.field(
        description="The records merged into the survivor and deleted (empty on errors)."
    )
    user_errors: list[UserError]
