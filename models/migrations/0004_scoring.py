from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_account_primary_contact_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='LeadEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='lead_events', on_delete=OnDelete.CASCADE)),
                ('lead', fields.ForeignKeyField('models.Lead', source_field='lead_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('from_status', fields.CharField(null=True, max_length=16)),
                ('to_status', fields.CharField(max_length=16)),
                ('reason', fields.CharField(null=True, max_length=500)),
                ('api_key_name', fields.CharField(null=True, max_length=200)),
            ],
            options={'table': 'lead_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One status change of a lead: when, from, to, why and by which API key.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Opportunity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='opportunities', on_delete=OnDelete.CASCADE)),
                ('lead', fields.OneToOneField('models.Lead', source_field='lead_id', db_constraint=True, to_field='id', related_name='opportunity', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('estimated_value', fields.FloatField(null=True)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', null=True, db_constraint=True, to_field='id', related_name='opportunities', on_delete=OnDelete.SET_NULL)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', null=True, db_constraint=True, to_field='id', related_name='opportunities', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'opportunity', 'app': 'models', 'pk_attr': 'id', 'table_description': 'What a qualified lead became: a deal sales works on.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ScoringModel',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='scoring_models', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('primary', fields.BooleanField(default=False)),
                ('active', fields.BooleanField(default=True)),
                ('sales_ready_threshold', fields.IntField()),
                ('rules', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('grades', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'scoring_model', 'app': 'models', 'indexes': [Index(fields=['workspace_id', 'active'])], 'pk_attr': 'id', 'table_description': 'Rules, grades and a sales-ready threshold that turn interactions into lead scores.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LeadScore',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='lead_scores', on_delete=OnDelete.CASCADE)),
                ('lead', fields.ForeignKeyField('models.Lead', source_field='lead_id', db_constraint=True, to_field='id', related_name='scores', on_delete=OnDelete.CASCADE)),
                ('model', fields.ForeignKeyField('models.ScoringModel', source_field='model_id', db_constraint=True, to_field='id', related_name='lead_scores', on_delete=OnDelete.CASCADE)),
                ('score', fields.IntField(default=0)),
                ('previous_score', fields.IntField(null=True)),
                ('grade', fields.CharField(null=True, max_length=50)),
                ('sales_ready', fields.BooleanField(default=False)),
                ('previous_sales_ready', fields.BooleanField(null=True)),
                ('counts', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'lead_score', 'app': 'models', 'unique_together': (('lead', 'model'),), 'indexes': [Index(fields=['model_id', 'score'])], 'pk_attr': 'id', 'table_description': "A lead's stored score under one model, with `counts` holding n per rule in rule order."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Interaction',
            name='idempotency_fingerprint',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Lead',
            name='grade',
            field=fields.CharField(null=True, max_length=50),
        ),
        ops.AddField(
            model_name='Lead',
            name='sales_ready',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Lead',
            name='score',
            field=fields.IntField(default=0),
        ),
        ops.AddIndex(
            model_name='Lead',
            index=Index(fields=['workspace_id', 'score']),
        ),
    ]
