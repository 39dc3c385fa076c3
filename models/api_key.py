from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    ADMIN = "ADMIN"
    MARKETING = "MARKETING"
    SALES = "SALES"
    READ_ONLY = "READ_ONLY"


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

    class Meta:
        table = "api_key"
