from collections.abc import Iterable
from datetime import datetime

import strawberry
from strawberry import relay

from api.context import Info
from api.types.common import UserError
from models import Role

RoleEnum = strawberry.enum(Role, name="Role", description="What an API key may do.")


@strawberry.type(description="A credential of the workspace. The secret is never shown again.")
class ApiKey(relay.Node):
    id: relay.NodeID[int]
    name: str
    role: RoleEnum
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(
        description="When the key last authenticated a request (to within a minute)."
    )
    revoked_at: datetime | None
    allowed_origins: list[str] | None = strawberry.field(
        description="CAPTURE keys: browser origins allowed to use the key."
    )
    rate_limit_per_minute: int | None = strawberry.field(
        description="CAPTURE keys: requests a minute for the key (null: the server's setting)."
    )
    rate_limit_per_address: int | None = strawberry.field(
        description="CAPTURE keys: requests a minute per client address (null: the setting)."
    )

    @classmethod
    def from_model(cls, row) -> "ApiKey":
        return cls(
            id=row.id,
            name=row.name,
            role=Role(row.role),
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
            allowed_origins=row.allowed_origins,
            rate_limit_per_minute=row.rate_limit_per_minute,
            rate_limit_per_address=row.rate_limit_per_address,
        )

    @classmethod
    def resolve_nodes(cls, *, info: Info, node_ids: Iterable[str], required: bool = False):
        return [None for _ in node_ids]  # keys are listed through `apiKeys` by admins only


@strawberry.type(description="The new key; `secret` is shown this once.")
class CreateApiKeyPayload:
    api_key: ApiKey | None
    secret: str | None
    user_errors: list[UserError]
