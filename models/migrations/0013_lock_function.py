from tortoise import migrations
from tortoise.migrations import operations as ops

from models.recording import LOCK_FUNCTION


async def create_lock_function(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(LOCK_FUNCTION)


async def drop_lock_function(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            "DROP FUNCTION IF EXISTS leadgraph_lock_leads(int, int, int, int)"
        )


class Migration(migrations.Migration):
    """recordInteraction's lock statement as a function (models/recording.py: lock_script)."""

    dependencies = [('models', '0012_capture')]

    initial = False

    operations = [
        ops.RunPython(create_lock_function, drop_lock_function),
    ]
