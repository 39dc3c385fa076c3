"""The `leadgraph` command."""

import argparse
import asyncio
import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate as run_migrations

from api.settings import Settings
from models import ApiKey, Role, Workspace, change_triggers
from models.api_key import hash_secret

QUICKSTART_KEY_NAME = "quickstart"
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


async def _with_db(settings: Settings, work: Callable[[], Awaitable[None]]) -> None:
    await Tortoise.init(config=settings.tortoise_config())
    try:
        await work()
    finally:
        await Tortoise.close_connections()


async def migrate(settings: Settings) -> None:
    try:
        await run_migrations(config=settings.tortoise_config())
        # SQLite table rebuilds in later migrations drop triggers: put the change log's back.
        await change_triggers.install(connections.get("default"))
    finally:
        await Tortoise.close_connections()
    print("Database migrated.")


async def create_workspace(settings: Settings, name: str) -> None:
    async def work() -> None:
        workspace = await Workspace.create_with_unique_slug(name)
        print(f"Created workspace {workspace.name!r}. Its slug:")
        print(workspace.slug)

    await _with_db(settings, work)


async def _workspace(slug: str) -> Workspace:
    workspace = await Workspace.filter(slug=slug).first()
    if workspace is None:
        raise SystemExit(f"No workspace with the slug {slug!r}.")
    return workspace


async def create_api_key(settings: Settings, slug: str, role: str, name: str | None) -> None:
    async def work() -> None:
        workspace = await _workspace(slug)
        key, secret = await ApiKey.issue(
            workspace_id=workspace.id, role=Role(role), name=name or f"{role.lower()} key"
        )
        print(f"API key {key.name!r} ({key.role}) for workspace {slug}; keep it, it is shown once:")
        print(secret)

    await _with_db(settings, work)


async def seed_demo(settings: Settings, slug: str, contacts: int) -> Workspace:
    from models.demo import seed_demo as seed  # Faker is only needed here

    workspace = await Workspace.filter(slug=slug).first()
    if workspace is None:
        workspace = await Workspace.create(name=slug.replace("-", " ").title(), slug=slug)
        await workspace.add_default_scoring_model()
    counts = await seed(workspace, contacts=contacts)
    print(f"Seeded workspace {slug}: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    return workspace


def export_schema(path: Path = SCHEMA_FILE) -> None:
    from api.schema import build_schema

    path.write_text(build_schema(Settings()).as_str() + "\n")
    print(f"Wrote {path.name}.")


def quickstart_key_file(settings: Settings) -> Path:
    """Where the quickstart keeps its demo key's secret: beside the SQLite file (git-ignored)."""
    if settings.database_url.startswith("sqlite://"):
        return Path(settings.database_url.removeprefix("sqlite://") + "-quickstart-key")
    return Path(".leadgraph-quickstart-key")


async def quickstart_key(settings: Settings, workspace: Workspace) -> str:
    """The demo workspace's one "quickstart" ADMIN key: the saved one while it still works,
    else a new one; other keys of that name are deleted, so runs never pile them up."""
    path = quickstart_key_file(settings)
    saved = path.read_text().strip() if path.is_file() else ""
    keys = await ApiKey.filter(workspace_id=workspace.id, name=QUICKSTART_KEY_NAME)
    kept = next(
        (k for k in keys if saved and k.key_hash == hash_secret(saved) and k.revoked_at is None),
        None,
    )
    if kept is None:
        kept, saved = await ApiKey.issue(
            workspace_id=workspace.id, role=Role.ADMIN, name=QUICKSTART_KEY_NAME
        )
        path.touch(mode=0o600)
        path.write_text(saved + "\n")
    await (
        ApiKey.filter(workspace_id=workspace.id, name=QUICKSTART_KEY_NAME)
        .exclude(id=kept.id)
        .delete()
    )
    return saved


async def quickstart(settings: Settings, demo_contacts: int = 500) -> str:
    """Migrate, seed a demo workspace on first run; returns the demo's admin key."""
    await migrate(settings)
    secret = ""

    async def work() -> None:
        nonlocal secret
        workspace = await Workspace.filter(slug="demo").first()
        if workspace is None:
            workspace = await seed_demo(settings, "demo", demo_contacts)
        secret = await quickstart_key(settings, workspace)
        url = f"http://{settings.host}:{settings.port}/graphql"
        print(f"\nGraphiQL: {url} (the key below is already filled in there)")
        print("The demo workspace's admin key, as a header for other clients:")
        print(f'{{"Authorization": "Bearer {secret}"}}\n')

    await _with_db(settings, work)
    return secret


def serve(settings: Settings, host: str, port: int, workers: int, app=None) -> None:
    """uvicorn with `workers` processes (or the given app object, in this process)."""
    import uvicorn

    from api.logs import uvicorn_log_config

    if workers > 1 and not settings.is_postgres:
        raise SystemExit(
            "Several workers need PostgreSQL: on SQLite every worker would keep its own "
            "rate-limit counters and all writes queue on one file. Set LEADGRAPH_DATABASE_URL to "
            "a PostgreSQL database, or LEADGRAPH_WORKERS=1."
        )
    if settings.metrics and workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # prometheus-client's multiprocess mode: each worker writes its values to files in this
        # fresh folder, and /metrics adds them up whichever worker answers.
        metrics_dir = tempfile.mkdtemp(prefix="leadgraph-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
    log_config = uvicorn_log_config(settings.log_format, settings.log_level)
    uvicorn.run(
        app if app is not None else "api.app:app_from_env",
        factory=app is None,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        access_log=settings.log_format != "json",  # JSON mode writes its own, with request ids
        proxy_headers=True,
        **({"log_config": log_config} if log_config else {}),
    )


def main(argv: list[str] | None = None) -> None:
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="leadgraph", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="Serve the API with uvicorn.")
    serve_cmd.add_argument("--host", default=settings.host)
    serve_cmd.add_argument("--port", type=int, default=settings.port)
    serve_cmd.add_argument("--workers", type=int, default=settings.workers)
    commands.add_parser("migrate", help="Apply database migrations.")
    seed_cmd = commands.add_parser("seed-demo", help="Fill a workspace with demo data.")
    seed_cmd.add_argument("--workspace", default="demo")
    seed_cmd.add_argument("--contacts", type=int, default=1000)
    ws_cmd = commands.add_parser("create-workspace", help="Create a workspace; prints its slug.")
    ws_cmd.add_argument("name")
    key_cmd = commands.add_parser("create-api-key", help="Create an API key; prints it.")
    key_cmd.add_argument("--workspace", required=True)
    key_cmd.add_argument("--role", required=True, choices=[r.value for r in Role])
    key_cmd.add_argument("--name")
    commands.add_parser("export-schema", help="Write schema.graphql.")
    rescore_cmd = commands.add_parser("rescore", help="Re-score every lead (time windows age).")
    rescore_cmd.add_argument("--workspace", help="Only this workspace (slug).")
    commands.add_parser("quickstart", help="Migrate, seed demo data once, print a key, serve.")
    args = parser.parse_args(argv)

    match args.command:
        case "serve":
            serve(settings, args.host, args.port, args.workers)
        case "migrate":
            asyncio.run(migrate(settings))
        case "seed-demo":

            async def work() -> None:
                await seed_demo(settings, args.workspace, args.contacts)

            asyncio.run(_with_db(settings, work))
        case "create-workspace":
            asyncio.run(create_workspace(settings, args.name))
        case "create-api-key":
            asyncio.run(create_api_key(settings, args.workspace, args.role, args.name))
        case "export-schema":
            export_schema()
        case "rescore":

            async def rescore() -> None:
                from models.periodic import rescore_all

                for slug, done in (await rescore_all(args.workspace)).items():
                    print(f"{slug}: {'re-scored' if done else 'skipped (another process has it)'}")

            asyncio.run(_with_db(settings, rescore))
        case "quickstart":
            from api.app import create_app

            secret = asyncio.run(quickstart(settings))
            # The demo key pre-fills GraphiQL's Headers tab; only the quickstart does this.
            app = create_app(settings, ide_headers={"Authorization": f"Bearer {secret}"})
            serve(settings, settings.host, settings.port, 1, app=app)
        case _:
            parser.print_help()
            sys.exit(2)


if __name__ == "__main__":
    main()
