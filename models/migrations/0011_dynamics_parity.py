from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_change_feed')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Account',
            name='annual_revenue',
            field=fields.FloatField(null=True),
        ),
        ops.AddField(
            model_name='Account',
            name='number_of_employees',
            field=fields.IntField(null=True),
        ),
        ops.AddIndex(
            model_name='Account',
            index=Index(fields=['workspace_id', 'number_of_employees']),
        ),
        ops.AddIndex(
            model_name='Account',
            index=Index(fields=['workspace_id', 'annual_revenue']),
        ),
        ops.AddField(
            model_name='LeadScore',
            name='contributions',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='ScoringModel',
            name='applies_to',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
    ]
