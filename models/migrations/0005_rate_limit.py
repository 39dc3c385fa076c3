from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_scoring')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RateLimitCounter',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subject', fields.CharField(max_length=200)),
                ('window_start', fields.BigIntField()),
                ('count', fields.IntField(default=0)),
            ],
            options={'table': 'rate_limit_counter', 'app': 'models', 'unique_together': (('subject', 'window_start'),), 'pk_attr': 'id', 'table_description': 'Requests per API key per minute, shared by every server process on PostgreSQL.'},
            bases=['Model'],
        ),
    ]
