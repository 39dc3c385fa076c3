from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class LeadStatus(StrEnum):
    NEW = "NEW"
    SALES_READY = "SALES_READY"
    SALES_ACCEPTED = "SALES_ACCEPTED"
    NURTURING = "NURTURING"
    QUALIFIED = "QUALIFIED"
    DISQUALIFIED = "DISQUALIFIED"


class Lead(Model):
    """Interest in a topic. A sales-only lead has no contact and carries its own details."""

    id = fields.IntField(primary_key=True)
    workspace = fields.ForeignKeyField("models.Workspace", related_name="leads")
    topic = fields.CharField(max_length=200)
    source = fields.CharField(max_length=100, null=True)
    status = fields.CharEnumField(LeadStatus, max_length=16, default=LeadStatus.NEW)
    contact = fields.ForeignKeyField(
        "models.Contact", related_name="leads", null=True, db_index=True, on_delete=fields.SET_NULL
    )
    account = fields.ForeignKeyField(
        "models.Account", related_name="leads", null=True, db_index=True, on_delete=fields.SET_NULL
    )
    first_name = fields.CharField(max_length=100, null=True)
    last_name = fields.CharField(max_length=100, null=True)
    email = fields.CharField(max_length=254, null=True)
    company_name = fields.CharField(max_length=200, null=True)
    # Under the primary scoring model; sales_ready is true when any active model says so.
    score = fields.IntField(default=0)
    grade = fields.CharField(max_length=50, null=True)
    sales_ready = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "lead"
        indexes = (
            Index(fields=("workspace_id", "topic")),
            Index(fields=("workspace_id", "source")),
            Index(fields=("workspace_id", "status")),
            Index(fields=("workspace_id", "created_at")),
            Index(fields=("workspace_id", "updated_at")),
            Index(fields=("workspace_id", "score")),
        )
