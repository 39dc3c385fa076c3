from enum import StrEnum

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class InteractionType(StrEnum):
    EMAIL_SENT = "EMAIL_SENT"
    EMAIL_OPENED = "EMAIL_OPENED"
    EMAIL_CLICKED = "EMAIL_CLICKED"
    EMAIL_BOUNCED = "EMAIL_BOUNCED"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    FORM_SUBMITTED = "FORM_SUBMITTED"
    PAGE_VISITED = "PAGE_VISITED"
    CONTENT_DOWNLOADED = "CONTENT_DOWNLOADED"
    EVENT_REGISTERED = "EVENT_REGISTERED"
    EVENT_ATTENDED = "EVENT_ATTENDED"
    PHONE_CALL = "PHONE_CALL"
    MEETING = "MEETING"


class Interaction(Model):
    """Something a contact did, optionally recorded against one of its leads."""

    id = fields.IntField(primary_key=True)
    workspace = fields.ForeignKeyField("models.Workspace", related_name="interactions")
    type = fields.CharEnumField(InteractionType, max_length=24)
    occurred_at = fields.DatetimeField()
    contact = fields.ForeignKeyField(
        "models.Contact", related_name="interactions", null=True, on_delete=fields.CASCADE
    )
    lead = fields.ForeignKeyField(
        "models.Lead", related_name="interactions", null=True, on_delete=fields.CASCADE
    )
    metadata = fields.JSONField(null=True)
    idempotency_key = fields.CharField(max_length=200, null=True)
    # SHA-256 of the request that used the key, to tell a replay from a reuse.
    idempotency_fingerprint = fields.CharField(max_length=64, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "interaction"
        unique_together = (("workspace", "idempotency_key"),)
        indexes = (
            Index(fields=("contact_id", "occurred_at")),
            Index(fields=("lead_id", "occurred_at")),
            Index(fields=("workspace_id", "occurred_at")),
        )
