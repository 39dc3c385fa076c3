from tortoise import migrations
from tortoise.migrations import operations as ops

from models.recording import READ_FUNCTION


async def create_read_function(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(READ_FUNCTION)


async def drop_read_function(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            "DROP FUNCTION IF EXISTS leadgraph_lock_and_read(int, int, int, int, boolean)"
        )


class Migration(migrations.Migration):
    """recordInteraction's one-statement shape locks and reads its leads through a function
    (models/recording.py: READ_FUNCTION)."""

    dependencies = [('models', '0014_change_watch')]

    initial = False

    operations = [
        ops.RunPython(create_read_function, drop_read_function),
    ]
