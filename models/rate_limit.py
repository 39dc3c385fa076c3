from tortoise import fields
from tortoise.models import Model


class RateLimitCounter(Model):
    """Requests per API key per minute, shared by every server process on PostgreSQL."""

    id = fields.IntField(primary_key=True)
    subject = fields.CharField(max_length=200)
    window_start = fields.BigIntField()
    count = fields.IntField(default=0)

    class Meta:
        table = "rate_limit_counter"
        unique_together = (("subject", "window_start"),)
