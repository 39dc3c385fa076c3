from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index


from models import change_triggers


async def install_triggers(apps, schema_editor):
    await change_triggers.install(schema_editor.client)


async def remove_triggers(apps, schema_editor):
    await change_triggers.remove(schema_editor.client)


class Migration(migrations.Migration):
    dependencies = [('models', '0005_rate_limit')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ChangeLog',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace_id', fields.IntField()),
                ('txid', fields.BigIntField(default=0)),
                ('entity', fields.CharField(max_length=16)),
                ('kind', fields.CharField(max_length=8)),
                ('record_id', fields.IntField()),
                ('detail', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'change_log', 'app': 'models', 'indexes': [Index(fields=['workspace_id', 'txid', 'id'])], 'pk_attr': 'id', 'table_description': 'One committed change, written by the database triggers of migration 0009.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PersistedQuery',
            fields=[
                ('sha256', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('query', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'persisted_query', 'app': 'models', 'pk_attr': 'sha256', 'table_description': 'An automatic persisted query: the document stored under its SHA-256, for every process.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Webhook',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='webhooks', on_delete=OnDelete.CASCADE)),
                ('url', fields.CharField(max_length=2000)),
                ('events', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('secret', fields.CharField(max_length=100)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('cursor_txid', fields.BigIntField(default=0)),
                ('cursor_id', fields.BigIntField(default=0)),
            ],
            options={'table': 'webhook', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An HTTPS endpoint that receives signed POSTs for the events it subscribed to.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WebhookDelivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('webhook', fields.ForeignKeyField('models.Webhook', source_field='webhook_id', db_constraint=True, to_field='id', related_name='deliveries', on_delete=OnDelete.CASCADE)),
                ('event_id', fields.CharField(max_length=64)),
                ('event', fields.CharField(max_length=24)),
                ('payload', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharField(default='PENDING', max_length=10)),
                ('attempts', fields.IntField(default=0)),
                ('last_status_code', fields.IntField(null=True)),
                ('last_error', fields.CharField(null=True, max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook_delivery', 'app': 'models', 'unique_together': (('webhook', 'event_id'),), 'indexes': [Index(fields=['status', 'next_attempt_at']), Index(fields=['webhook_id', 'created_at'])], 'pk_attr': 'id', 'table_description': 'One event for one webhook, with every attempt counted.'},
            bases=['Model'],
        ),
        ops.RunPython(install_triggers, remove_triggers),
    ]
