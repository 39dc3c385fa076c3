from tortoise import migrations
from tortoise.migrations import operations as ops
from models.api_key import Role
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class AlterFieldStateOnly(ops.AlterField):
    """`role` gains CAPTURE: the column stays VARCHAR(16), only its generated comment changes,
    for which SQLite would rebuild the api_key table. Record the new state, leave the table."""

    async def database_forward(self, *args, **kwargs) -> None:
        return None

    async def database_backward(self, *args, **kwargs) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('models', '0011_dynamics_parity')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Visitor',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='visitors', on_delete=OnDelete.CASCADE)),
                ('external_id', fields.CharField(max_length=100)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='visitors', on_delete=OnDelete.CASCADE)),
                ('last_seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'visitor', 'app': 'models', 'unique_together': (('workspace', 'external_id'),), 'indexes': [Index(fields=['last_seen_at'])], 'pk_attr': 'id', 'table_description': 'A browser known by the id it sent, linked to a contact once it submitted a form.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AnonymousVisit',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='anonymous_visits', on_delete=OnDelete.CASCADE)),
                ('visitor', fields.ForeignKeyField('models.Visitor', source_field='visitor_id', db_index=True, db_constraint=True, to_field='id', related_name='visits', on_delete=OnDelete.CASCADE)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('url', fields.CharField(max_length=2048)),
                ('referrer', fields.CharField(null=True, max_length=2048)),
                ('utm', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'anonymous_visit', 'app': 'models', 'indexes': [Index(fields=['occurred_at'])], 'pk_attr': 'id', 'table_description': 'A page visit of a visitor not yet linked to a contact, expiring if never stitched.'},
            bases=['Model'],
        ),
        AlterFieldStateOnly(
            model_name='ApiKey',
            name='role',
            field=fields.CharEnumField(description='ADMIN: ADMIN\nMARKETING: MARKETING\nSALES: SALES\nREAD_ONLY: READ_ONLY\nCAPTURE: CAPTURE', enum_type=Role, max_length=16),
        ),
        ops.AddField(
            model_name='ApiKey',
            name='allowed_origins',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='ApiKey',
            name='rate_limit_per_address',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='ApiKey',
            name='rate_limit_per_minute',
            field=fields.IntField(null=True),
        ),
    ]
