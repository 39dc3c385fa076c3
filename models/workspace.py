from tortoise import fields
from tortoise.models import Model


class Workspace(Model):
    """A tenant: every other row belongs to exactly one workspace."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    slug = fields.CharField(max_length=80, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "workspace"
