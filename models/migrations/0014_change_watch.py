from tortoise import migrations
from tortoise.migrations import operations as ops

from models import change_triggers


async def watch_before_notifying(apps, schema_editor):
    await change_triggers.install(schema_editor.client)


async def notify_on_every_write(apps, schema_editor):
    client = schema_editor.client
    await change_triggers.install(client, notify_always=True)
    if client.capabilities.dialect == "postgres":
        await client.execute_script("DROP TABLE IF EXISTS change_watch")


class Migration(migrations.Migration):
    """The change_watch table; the change-log triggers notify only workspaces listed there
    (models/change_triggers.py: WATCH_TABLE)."""

    dependencies = [('models', '0013_lock_function')]

    initial = False

    operations = [
        ops.RunPython(watch_before_notifying, notify_on_every_write),
    ]
