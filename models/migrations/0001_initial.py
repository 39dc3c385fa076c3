from tortoise import migrations
from tortoise.migrations import operations as ops
from models.api_key import Role
from models.interaction import InteractionType
from models.lead import LeadStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Workspace',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('slug', fields.CharField(unique=True, max_length=80)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'workspace', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A tenant: every other row belongs to exactly one workspace.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Account',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='accounts', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('industry', fields.CharField(null=True, max_length=100)),
                ('website', fields.CharField(null=True, max_length=500)),
                ('city', fields.CharField(null=True, max_length=100)),
                ('country', fields.CharField(null=True, max_length=100)),
                ('parent_account', fields.ForeignKeyField('models.Account', source_field='parent_account_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='child_accounts', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'account', 'app': 'models', 'indexes': [Index(fields=['workspace_id', 'name']), Index(fields=['workspace_id', 'industry']), Index(fields=['workspace_id', 'city']), Index(fields=['workspace_id', 'country']), Index(fields=['workspace_id', 'created_at']), Index(fields=['workspace_id', 'updated_at'])], 'pk_attr': 'id', 'table_description': 'A company. Accounts may form a hierarchy through `parent_account`.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='api_keys', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('role', fields.CharEnumField(description='ADMIN: ADMIN\nMARKETING: MARKETING\nSALES: SALES\nREAD_ONLY: READ_ONLY', enum_type=Role, max_length=16)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_key', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A workspace credential. Only the SHA-256 of the secret is stored.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Contact',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='contacts', on_delete=OnDelete.CASCADE)),
                ('first_name', fields.CharField(null=True, max_length=100)),
                ('last_name', fields.CharField(max_length=100)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('email_normalized', fields.CharField(null=True, max_length=254)),
                ('phone', fields.CharField(null=True, max_length=50)),
                ('job_title', fields.CharField(null=True, max_length=200)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='contacts', on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'contact', 'app': 'models', 'unique_together': (('workspace', 'email_normalized'),), 'indexes': [Index(fields=['workspace_id', 'first_name']), Index(fields=['workspace_id', 'last_name']), Index(fields=['workspace_id', 'job_title']), Index(fields=['workspace_id', 'created_at']), Index(fields=['workspace_id', 'updated_at'])], 'pk_attr': 'id', 'table_description': 'A person. `email_normalized` (lower-cased email) is unique per workspace.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Lead',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='leads', on_delete=OnDelete.CASCADE)),
                ('topic', fields.CharField(max_length=200)),
                ('source', fields.CharField(null=True, max_length=100)),
                ('status', fields.CharEnumField(default=LeadStatus.NEW, description='NEW: NEW\nSALES_READY: SALES_READY\nSALES_ACCEPTED: SALES_ACCEPTED\nNURTURING: NURTURING\nQUALIFIED: QUALIFIED\nDISQUALIFIED: DISQUALIFIED', enum_type=LeadStatus, max_length=16)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='leads', on_delete=OnDelete.SET_NULL)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='leads', on_delete=OnDelete.SET_NULL)),
                ('first_name', fields.CharField(null=True, max_length=100)),
                ('last_name', fields.CharField(null=True, max_length=100)),
                ('email', fields.CharField(null=True, max_length=254)),
                ('company_name', fields.CharField(null=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'lead', 'app': 'models', 'indexes': [Index(fields=['workspace_id', 'topic']), Index(fields=['workspace_id', 'source']), Index(fields=['workspace_id', 'status']), Index(fields=['workspace_id', 'created_at']), Index(fields=['workspace_id', 'updated_at'])], 'pk_attr': 'id', 'table_description': 'Interest in a topic. A sales-only lead has no contact and carries its own details.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Interaction',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='interactions', on_delete=OnDelete.CASCADE)),
                ('type', fields.CharEnumField(description='EMAIL_SENT: EMAIL_SENT\nEMAIL_OPENED: EMAIL_OPENED\nEMAIL_CLICKED: EMAIL_CLICKED\nEMAIL_BOUNCED: EMAIL_BOUNCED\nUNSUBSCRIBED: UNSUBSCRIBED\nFORM_SUBMITTED: FORM_SUBMITTED\nPAGE_VISITED: PAGE_VISITED\nCONTENT_DOWNLOADED: CONTENT_DOWNLOADED\nEVENT_REGISTERED: EVENT_REGISTERED\nEVENT_ATTENDED: EVENT_ATTENDED\nPHONE_CALL: PHONE_CALL\nMEETING: MEETING', enum_type=InteractionType, max_length=24)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('contact', fields.ForeignKeyField('models.Contact', source_field='contact_id', null=True, db_constraint=True, to_field='id', related_name='interactions', on_delete=OnDelete.CASCADE)),
                ('lead', fields.ForeignKeyField('models.Lead', source_field='lead_id', null=True, db_constraint=True, to_field='id', related_name='interactions', on_delete=OnDelete.CASCADE)),
                ('metadata', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('idempotency_key', fields.CharField(null=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'interaction', 'app': 'models', 'unique_together': (('workspace', 'idempotency_key'),), 'indexes': [Index(fields=['contact_id', 'occurred_at']), Index(fields=['lead_id', 'occurred_at']), Index(fields=['workspace_id', 'occurred_at'])], 'pk_attr': 'id', 'table_description': 'Something a contact did, optionally recorded against one of its leads.'},
            bases=['Model'],
        ),
    ]
