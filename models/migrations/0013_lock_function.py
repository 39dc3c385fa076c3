from tortoise import migrations
from tortoise.migrations import operations as ops

from models.migrations._postgres import on_postgres
from models.recording import LOCK_FUNCTION


class Migration(migrations.Migration):
    """recordInteraction's lock statement as a function (models/recording.py: lock_script)."""

    dependencies = [("models", "0012_capture")]

    initial = False

    operations = [
        ops.RunPython(
            on_postgres(LOCK_FUNCTION),
            on_postgres("DROP FUNCTION IF EXISTS leadgraph_lock_leads(int, int, int, int)"),
        ),
    ]
