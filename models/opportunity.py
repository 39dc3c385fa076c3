from tortoise import fields
from tortoise.models import Model


class Opportunity(Model):
    """What a qualified lead became: a deal sales works on."""

    id = fields.IntField(primary_key=True)
    workspace = fields.ForeignKeyField("models.Workspace", related_name="opportunities")
    lead = fields.OneToOneField("models.Lead", related_name="opportunity", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=200)
    estimated_value = fields.FloatField(null=True)
    contact = fields.ForeignKeyField(
        "models.Contact", related_name="opportunities", null=True, on_delete=fields.SET_NULL
    )
    account = fields.ForeignKeyField(
        "models.Account", related_name="opportunities", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "opportunity"


class LeadEvent(Model):
    """One status change of a lead: when, from, to, why and by which API key."""

    id = fields.IntField(primary_key=True)
    workspace = fields.ForeignKeyField("models.Workspace", related_name="lead_events")
    lead = fields.ForeignKeyField("models.Lead", related_name="events", on_delete=fields.CASCADE)
    at = fields.DatetimeField(auto_now_add=True)
    from_status = fields.CharField(max_length=16, null=True)
    to_status = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=500, null=True)
    api_key_name = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "lead_event"
