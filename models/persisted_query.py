from tortoise import fields
from tortoise.models import Model


class PersistedQuery(Model):
    """An automatic persisted query: the document stored under its SHA-256, for every process."""

    sha256 = fields.CharField(max_length=64, primary_key=True)
    query = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "persisted_query"
