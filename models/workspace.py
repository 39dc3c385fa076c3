import re

from tortoise import fields
from tortoise.models import Model

from models.scoring import DEFAULT_MODEL
from models.scoring_model import ScoringModel


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
        workspace = await cls.create(name=name, slug=slug)
        await workspace.add_default_scoring_model()
        return workspace

    async def add_default_scoring_model(self) -> None:
        await ScoringModel.create(
            workspace_id=self.id,
            name=DEFAULT_MODEL["name"],
            primary=True,
            active=True,
            sales_ready_threshold=DEFAULT_MODEL["sales_ready_threshold"],
            rules=[r.to_json() for r in DEFAULT_MODEL["rules"]],
            grades=[{"label": g.label, "min_score": g.min_score} for g in DEFAULT_MODEL["grades"]],
        )
