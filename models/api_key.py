import hashlib
import secrets
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

KEY_PREFIX = "lg_"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Role(StrEnum):
    ADMIN = "ADMIN"
    MARKETING = "MARKETING"
    SALES = "SALES"
    READ_ONLY = "READ_ONLY"
    CAPTURE = "CAPTURE"  # publishable: may only call trackVisit and submitForm


class ApiKey(Model):
    """A workspace credential. Only the SHA-256 of the secret is stored."""

    id = fields.IntField(primary_key=True)
    workspace = fields.ForeignKeyField("models.Workspace", related_name="api_keys")
    name = fields.CharField(max_length=200)
    role = fields.CharEnumField(Role, max_length=16)
    key_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    # Capture keys: browser origins allowed to use the key, and its own rate limits
    # (per key, and per client address); null falls back to the settings.
    allowed_origins = fields.JSONField(null=True)
    rate_limit_per_minute = fields.IntField(null=True)
    rate_limit_per_address = fields.IntField(null=True)

    class Meta:
        table = "api_key"

    @classmethod
    async def issue(
        cls, *, workspace_id: int, role: Role, name: str, **limits: Any
    ) -> tuple["ApiKey", str]:
        """A new key and its secret; the secret is not stored and cannot be shown again.

        `limits`: allowed_origins, rate_limit_per_minute, rate_limit_per_address."""
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = await cls.create(
            workspace_id=workspace_id, role=role, name=name, key_hash=hash_secret(secret), **limits
        )
        return key, secret
