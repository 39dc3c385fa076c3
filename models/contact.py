from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class Contact(Model):
    """A person. `email_normalized` (lower-cased email) is unique per workspace."""

    id = fields.IntField(primary_key=True)
    workspace = fields.ForeignKeyField("models.Workspace", related_name="contacts")
    first_name = fields.CharField(max_length=100, null=True)
    last_name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=254, null=True)
    email_normalized = fields.CharField(max_length=254, null=True)
    phone = fields.CharField(max_length=50, null=True)
    job_title = fields.CharField(max_length=200, null=True)
    account = fields.ForeignKeyField(
        "models.Account",
        related_name="contacts",
        null=True,
        db_index=True,
        on_delete=fields.SET_NULL,
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "contact"
        unique_together = (("workspace", "email_normalized"),)
        indexes = (
            Index(fields=("workspace_id", "first_name")),
            Index(fields=("workspace_id", "last_name")),
            Index(fields=("workspace_id", "job_title")),
            Index(fields=("workspace_id", "created_at")),
            Index(fields=("workspace_id", "updated_at")),
        )
