"""apiKeys, createApiKey, revokeApiKey (ADMIN only)."""

from datetime import UTC, datetime

from strawberry import relay
from tortoise.transactions import in_transaction

from api.context import Info
from api.inputs.account import DeleteInput
from api.inputs.api_key import CreateApiKeyInput
from api.types.api_key import ApiKey, CreateApiKeyPayload
from api.types.common import DeletePayload
from models import ApiKey as ApiKeyRow
from models import Role
from models.errors import DomainError, ErrorCode
from models.validation import Text, clean_fields
from resolvers.capture_keys import capture_limits
from resolvers.mutations import fetch_in_workspace, user_errors


async def api_keys(info: Info) -> list[ApiKey]:
    rows = await ApiKeyRow.filter(workspace_id=info.context.workspace_id).order_by("id")
    return [ApiKey.from_model(row) for row in rows]


async def create_api_key(info: Info, input: CreateApiKeyInput) -> CreateApiKeyPayload:
    values, errors = clean_fields({"name": input.name}, {"name": Text(200, required=True)})
    limits = capture_limits(input, errors)
    if errors:
        return CreateApiKeyPayload(api_key=None, secret=None, user_errors=user_errors(errors))
    row, secret = await ApiKeyRow.issue(
        workspace_id=info.context.workspace_id, role=Role(input.role), name=values["name"], **limits
    )
    return CreateApiKeyPayload(api_key=ApiKey.from_model(row), secret=secret, user_errors=[])


async def revoke_api_key(info: Info, input: DeleteInput) -> DeletePayload:
    """Revoked keys answer 401 at once in this process, within the key cache time elsewhere."""
    try:
        async with in_transaction():
            row = await fetch_in_workspace(ApiKeyRow, input.id, info.context.workspace_id, "id")
            if row.revoked_at is not None:
                raise DomainError(ErrorCode.INVALID, "The key is already revoked.", ["id"])
            row.revoked_at = datetime.now(UTC)
            await row.save()
    except DomainError as e:
        return DeletePayload(deleted_id=None, user_errors=user_errors([e]))
    if info.context.request is not None:
        info.context.request.app.state.authenticator.forget()
    return DeletePayload(deleted_id=relay.GlobalID("ApiKey", str(row.id)), user_errors=[])
