from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Account',
            name='primary_contact',
            field=fields.ForeignKeyField('models.Contact', source_field='primary_contact_id', null=True, db_index=True, db_constraint=True, to_field='id', related_name='primary_of', on_delete=OnDelete.SET_NULL),
        ),
    ]
