"""A/B for recordInteraction: two scratch copies of the bench database, one worker on each, and
wrk alternating between them round by round. Variant B is this checkout's code with the copy
changed by a SQL file (a trigger, an index, a function), or another revision's code (a git
worktree of it, which also migrates its copy), or both.

    python bench/record_ab.py [changes.sql] [--revision REV] [--rounds 8] [--seconds 4]

The machine's own speed drifts by more than the effects worth measuring here (the same code
measured 830-1,180 recordInteraction/s within one hour), so separate runs cannot compare two
variants; interleaved rounds can, to about +-5 % (an A/A run, with neither, shows the harness's
own spread). Statements in the file are separated by lines holding only `--;`
(function bodies hold semicolons). Prints each variant's rounds and B / A per round.
"""

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
from common import (
    ROOT,
    Role,
    database_url,
    issue_key,
    migrate,
    prepare,
    run_wrk,
    scratch_copy,
    uvicorn_worker,
)
from record_interactions import sample, wrk_script


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("changes", nargs="?", type=Path, help="SQL applied to variant B")
    parser.add_argument("--revision", help="variant B runs this git revision's code")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8776)
    return parser.parse_args()


async def apply(url: str, changes: str) -> None:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
    try:
        for statement in changes.split("\n--;\n"):
            if statement.strip():
                await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.contextmanager
def checkout(revision: str | None) -> Iterator[Path]:
    """This checkout, or a temporary worktree of `revision` removed afterwards."""
    if revision is None:
        yield ROOT
        return
    with tempfile.TemporaryDirectory() as parent:
        path = Path(parent) / "b"
        git = ["git", "-C", str(ROOT), "worktree"]
        subprocess.run([*git, "add", "--detach", str(path), revision], check=True)
        try:
            yield path
        finally:
            subprocess.run([*git, "remove", "--force", str(path)], check=True)


async def load_script(url: str, workspace_id: int) -> str:
    """The write benchmark's wrk script (random contacts of 2,000) with a key of this copy."""
    key = await issue_key(url, workspace_id, Role.MARKETING)
    contact_ids, _, _ = await sample(url, workspace_id)
    return wrk_script(contact_ids, key)


async def main() -> None:
    args = parse_args()
    changes = args.changes.read_text() if args.changes else None  # before the loop's work
    seeded = database_url()
    workspace_id = await prepare(seeded, args.contacts)
    ports = (args.port, args.port + 1)
    async with contextlib.AsyncExitStack() as stack:
        codes = (ROOT, stack.enter_context(checkout(args.revision)))
        urls = [await stack.enter_async_context(scratch_copy(seeded, s)) for s in ("a", "b")]
        if args.revision:
            migrate(urls[1], codes[1])
        if changes:
            await apply(urls[1], changes)
        scripts = [await load_script(url, workspace_id) for url in urls]
        for url, port, code in zip(urls, ports, codes, strict=True):
            await stack.enter_async_context(uvicorn_worker(url, port, cwd=code))
        rates: list[list[float]] = [[], []]
        for variant in (0, 1):  # warm-up
            run_wrk(ports[variant], scripts[variant], 3, args.connections)
        for round_ in range(args.rounds):
            for variant in (0, 1) if round_ % 2 == 0 else (1, 0):
                result = run_wrk(ports[variant], scripts[variant], args.seconds, args.connections)
                rates[variant].append(result["rps"])
    ratios = [b / a for a, b in zip(*rates, strict=True)]
    for name, values in zip("AB", rates, strict=True):
        print(f"{name}: {[round(v) for v in values]} median {statistics.median(values):.0f}")
    print(f"B / A: {[round(r, 3) for r in ratios]} median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    asyncio.run(main())
