"""What the PostgreSQL-only migrations share (the loader skips modules named with `_`)."""

from typing import Any


def on_postgres(script: str) -> Any:
    """A RunPython step running `script` on PostgreSQL and nothing on SQLite."""

    async def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.client.capabilities.dialect == "postgres":
            await schema_editor.client.execute_script(script)

    return run
