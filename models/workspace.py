import re

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

    @classmethod
    async def create_with_unique_slug(cls, name: str) -> "Workspace":
        base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "workspace"
        slug, n = base, 1
        while await cls.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        return await cls.create(name=name, slug=slug)
