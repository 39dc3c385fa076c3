import strawberry

from api.types.api_key import RoleEnum


@strawberry.input(description="A new API key for the caller's workspace.")
class CreateApiKeyInput:
    name: str
    role: RoleEnum
