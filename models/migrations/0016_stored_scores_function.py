from tortoise import migrations
from tortoise.migrations import operations as ops

from models.migrations._postgres import on_postgres
from models.recording import STORED_SCORES_FUNCTION


class Migration(migrations.Migration):
    """A replay in recordInteraction's one-statement shape reads the stored scores after the
    lead locks (models/recording.py: STORED_SCORES_FUNCTION)."""

    dependencies = [("models", "0015_lock_and_read_function")]

    initial = False

    operations = [
        ops.RunPython(
            on_postgres(STORED_SCORES_FUNCTION),
            on_postgres("DROP FUNCTION IF EXISTS leadgraph_stored_scores(int[], int[])"),
        ),
    ]
