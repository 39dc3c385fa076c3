from tortoise import migrations
from tortoise.migrations import operations as ops

from models.recording import STORED_SCORES_FUNCTION


async def create_stored_scores_function(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(STORED_SCORES_FUNCTION)


async def drop_stored_scores_function(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(
            "DROP FUNCTION IF EXISTS leadgraph_stored_scores(int[], int[])"
        )


class Migration(migrations.Migration):
    """A replay in recordInteraction's one-statement shape reads the stored scores after the
    lead locks (models/recording.py: STORED_SCORES_FUNCTION)."""

    dependencies = [('models', '0015_lock_and_read_function')]

    initial = False

    operations = [
        ops.RunPython(create_stored_scores_function, drop_stored_scores_function),
    ]
