import strawberry

from api.types.api_key import RoleEnum


@strawberry.input(description="A new API key for the caller's workspace.")
class CreateApiKeyInput:
    name: str
    role: RoleEnum
    allowed_origins: list[str] | None = strawberry.field(
        default=None,
        description="CAPTURE keys: the browser origins (`https://shop.example`) allowed to use "
        "the key; CORS answers them for the capture calls only. At most 20.",
    )
    rate_limit_per_minute: int | None = strawberry.field(
        default=None,
        description="CAPTURE keys: requests a minute for the whole key (default "
        "LEADGRAPH_RATE_LIMIT_PER_MINUTE).",
    )
    rate_limit_per_address: int | None = strawberry.field(
        default=None,
        description="CAPTURE keys: requests a minute per client address (default "
        "LEADGRAPH_CAPTURE_RATE_LIMIT_PER_ADDRESS).",
    )
