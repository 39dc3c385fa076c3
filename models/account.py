from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class Account(Model):
    """A company. Accounts may form a hierarchy through `parent_account`."""

    id = fields.IntField(primary_key=True)
    workspace = fields.ForeignKeyField("models.Workspace", related_name="accounts")
    name = fields.CharField(max_length=200)
    industry = fields.CharField(max_length=100, null=True)
    website = fields.CharField(max_length=500, null=True)
    city = fields.CharField(max_length=100, null=True)
    country = fields.CharField(max_length=100, null=True)
    number_of_employees = fields.IntField(null=True)
    annual_revenue = fields.FloatField(null=True)
    parent_account = fields.ForeignKeyField(
        "models.Account",
        related_name="child_accounts",
        null=True,
        db_index=True,
        on_delete=fields.SET_NULL,
    )
    primary_contact = fields.ForeignKeyField(
        "models.Contact",
        related_name="primary_of",
        null=True,
        db_index=True,
        on_delete=fields.SET_NULL,
    )
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "account"
        indexes = (
            Index(fields=("workspace_id", "name")),
            Index(fields=("workspace_id", "industry")),
            Index(fields=("workspace_id", "city")),
            Index(fields=("workspace_id", "country")),
            Index(fields=("workspace_id", "created_at")),
            Index(fields=("workspace_id", "updated_at")),
            # AddField does not index a foreign key it adds, so this one is explicit.
            Index(fields=("primary_contact_id",)),
            Index(fields=("workspace_id", "number_of_employees")),
            Index(fields=("workspace_id", "annual_revenue")),
        )
