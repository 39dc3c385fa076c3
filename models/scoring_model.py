from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class ScoringModel(Model):
    """Rules, grades and a sales-ready threshold that turn interactions into lead scores."""

    id = fields.IntField(primary_key=True)
    workspace = fields.ForeignKeyField("models.Workspace", related_name="scoring_models")
    name = fields.CharField(max_length=200)
    primary = fields.BooleanField(default=False)
    active = fields.BooleanField(default=True)
    sales_ready_threshold = fields.IntField()
    # [{"interaction_type" | "lead_matches", "frequency", "min_count", "points", "max_points",
    #   "within_days", "metadata_contains", "half_life_days"}]
    rules = fields.JSONField(default=list)
    # Entry criteria: a stored LeadFilter (GraphQL names); other leads get no score here.
    applies_to = fields.JSONField(null=True)
    # [{"label", "min_score"}]
    grades = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "scoring_model"
        indexes = (Index(fields=("workspace_id", "active")),)


class LeadScore(Model):
    """A lead's stored score under one model, with `counts` holding n per rule in rule order."""

    id = fields.IntField(primary_key=True)
    workspace = fields.ForeignKeyField("models.Workspace", related_name="lead_scores")
    lead = fields.ForeignKeyField("models.Lead", related_name="scores", on_delete=fields.CASCADE)
    model = fields.ForeignKeyField(
        "models.ScoringModel", related_name="lead_scores", on_delete=fields.CASCADE
    )
    score = fields.IntField(default=0)
    previous_score = fields.IntField(null=True)
    grade = fields.CharField(max_length=50, null=True)
    # The grade before the last upsert (recordInteraction's change log compares the two).
    previous_grade = fields.CharField(max_length=50, null=True)
    sales_ready = fields.BooleanField(default=False)
    previous_sales_ready = fields.BooleanField(null=True)
    counts = fields.JSONField(default=list)
    # What each rule added, in rule order (null on rows scored before this column existed).
    contributions = fields.JSONField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "lead_score"
        unique_together = (("lead", "model"),)
        indexes = (Index(fields=("model_id", "score")),)
