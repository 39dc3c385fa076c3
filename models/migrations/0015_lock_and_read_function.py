from tortoise import migrations
from tortoise.migrations import operations as ops

from models.migrations._postgres import on_postgres
from models.recording import READ_FUNCTION


class Migration(migrations.Migration):
    """recordInteraction's one-statement shape locks and reads its leads through a function
    (models/recording.py: READ_FUNCTION)."""

    dependencies = [("models", "0014_change_watch")]

    initial = False

    operations = [
        ops.RunPython(
            on_postgres(READ_FUNCTION),
            on_postgres(
                "DROP FUNCTION IF EXISTS leadgraph_lock_and_read(int, int, int, int, boolean)"
            ),
        ),
    ]
