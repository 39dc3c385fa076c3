from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_account_primary_contact')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Account',
            index=Index(fields=['primary_contact_id']),
        ),
    ]
