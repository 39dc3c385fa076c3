"""recordInteraction on PostgreSQL: one statement or three round trips (models/recording.py),
the payload built from what the write statement read back, the answer's leads primed into the
request's loader."""

import contextlib
from datetime import UTC, datetime
from typing import Any

import asyncpg
from strawberry import relay

from api.context import Info
from api.inputs.interaction import RecordInteractionInput
from api.types.interaction import Interaction
from api.types.lead import Lead
from api.types.scoring import ScoreChange, ScoringModel
from models import recording
from models.errors import DomainError, ErrorCode
from models.pool import mark_committed
from models.sql import connection
from resolvers.interaction_checks import check_input, fingerprint, score_change

ATTEMPTS = 3  # a concurrent insert of the same idempotency key costs one more transaction

# The payload's ScoringModel objects per workspace, for the cached models' version.
_payload_models: dict[int, tuple[str, dict[int, ScoringModel]]] = {}


class Raced(Exception):
    """A concurrent request inserted the same idempotency key after this statement began."""


def _id(gid: relay.GlobalID | None, type_name: str) -> int | None:
    """The row id a global ID names; None when it names no row this path can look up."""
    if gid is None or gid.type_name != type_name or not gid.node_id.isdigit():
        return None
    return int(gid.node_id)


def takes(item: RecordInteractionInput) -> bool:
    """This path answers the item exactly as the general one; others (malformed ids) go there."""
    return all(
        gid is None or _id(gid, name) is not None
        for gid, name in ((item.contact_id, "Contact"), (item.lead_id, "Lead"))
    )


def _models(workspace_id: int, active: recording.ActiveModels) -> dict[int, ScoringModel]:
    cached = _payload_models.get(workspace_id)
    if cached is None or cached[0] != active.version:
        cached = (active.version, {m.id: ScoringModel.from_model(m) for m in active.models})
        _payload_models[workspace_id] = cached
    return cached[1]


async def record_one(
    info: Info, item: RecordInteractionInput
) -> tuple[Interaction, list[ScoreChange]]:
    """Record one interaction; raises DomainError(s) with nothing written."""
    interaction, changes, leads = await record_rows(info.context.principal, item)
    loader = info.context.loaders.lead_by_id
    for lead in leads:
        loader.prime(lead["id"], Lead.from_row(lead), force=True)
    return interaction, changes


async def record_rows(
    principal: Any, item: RecordInteractionInput
) -> tuple[Interaction, list[ScoreChange], list[dict]]:
    """The interaction, its score changes and the rows of the leads they name (the leads'
    loader is primed with them); raises DomainError(s) with nothing written. An exception
    for which `committing` holds came from the COMMIT: whether it took effect is unknown."""
    now = datetime.now(UTC)
    occurred_at, key = check_input(item, now)
    workspace_id = principal.workspace_id
    write = recording.Item(
        workspace_id=workspace_id,
        type=item.type.value,
        contact_id=_id(item.contact_id, "Contact"),
        lead_id=_id(item.lead_id, "Lead"),
        occurred_at=occurred_at,
        metadata=item.metadata,
        key=key,
        fingerprint=fingerprint(item) if key else None,
    )
    if not write.in_range():  # no row has such an id
        field, gid = ("contactId", item.contact_id) if item.contact_id else ("leadId", item.lead_id)
        _refuse_missing(write, field, gid)
    actor = principal.api_key_name if principal else None
    for attempt in range(1, ATTEMPTS + 1):
        try:
            row, active = await _write(write, actor, now)
            break
        except Raced:
            if attempt == ATTEMPTS:
                raise
    return _answer(item, write, row, active)


def committing(exc: BaseException) -> bool:
    """`exc` came from the COMMIT (the connection broke, say): the write may have taken effect."""
    return getattr(exc, "commit_sent", False)


async def _write(write: recording.Item, actor: str | None, now: datetime):
    client = connection()
    async with client.acquire_connection() as con:
        active = recording.cached_models(write.workspace_id)
        if active is None:
            active = await recording.load_models(con, write.workspace_id)
        while True:
            if active.in_one_statement:
                row = await _in_one_statement(con, write, active, actor, now)
            else:
                row = await _in_a_transaction(con, write, active, actor, now)
            if row["version"] == active.version:
                break
            active = await recording.load_models(con, write.workspace_id)  # nothing written
        if row["fresh"] and row["inserted"] is None:
            raise Raced
        mark_committed(con)  # nothing outlives the commit: no reset round trip (models/pool.py)
    return row, active


async def _in_one_statement(con: Any, write, active, actor, now) -> Any:
    """The write statement on its own, committed by the server as it ends. An ERROR PostgreSQL
    reports means it rolled back; anything else (a FATAL one: the session terminated; the
    connection lost; the request cancelled) leaves the outcome unknown (see committing())."""
    sql, params = recording.write_statement(write, active, actor, now)
    try:
        return await con.fetchrow(sql, *params)
    except BaseException as exc:
        if not (isinstance(exc, asyncpg.PostgresError) and _severity(exc) == "ERROR"):
            exc.commit_sent = True  # type: ignore[attr-defined]
        raise


def _severity(error: asyncpg.PostgresError) -> str | None:
    return getattr(error, "severity_en", None) or getattr(error, "severity", None)


async def _in_a_transaction(con: Any, write, active, actor, now) -> Any:
    """BEGIN with the lock, the write statement, COMMIT (of nothing when the statement found
    other models or lost an idempotency-key race: the caller tries again)."""
    await con.execute(recording.lock_script(write))
    try:
        sql, params = recording.write_statement(write, active, actor, now)
        row = await con.fetchrow(sql, *params)
    except BaseException:
        await _rollback(con)
        raise
    try:
        await con.execute("COMMIT")
    except BaseException as exc:
        exc.commit_sent = True  # type: ignore[attr-defined]  # see committing()
        raise
    return row


async def _rollback(con: Any) -> None:
    with contextlib.suppress(Exception):  # the pool's reset on release cleans a broken one
        await con.execute("ROLLBACK")


def _refuse_missing(write: recording.Item, field: str, gid: Any) -> None:
    type_name = "Contact" if field == "contactId" else "Lead"
    raise DomainError(ErrorCode.NOT_FOUND, f"No {type_name} with ID {gid}.", [field])


def _answer(item: RecordInteractionInput, write, row, active):
    if not row["contact_found"]:
        _refuse_missing(write, "contactId", item.contact_id)
    if not row["lead_found"]:
        _refuse_missing(write, "leadId", item.lead_id)
    if (
        write.lead_id is not None
        and write.contact_id is not None
        and row["lead_contact_id"] != write.contact_id
    ):
        raise DomainError(
            ErrorCode.INVALID, "The lead does not belong to that contact.", ["leadId"]
        )
    if not (row["fresh"] or row["replay"]):
        raise DomainError(
            ErrorCode.CONFLICT,
            "This idempotencyKey was already used for a different interaction.",
            ["idempotencyKey"],
        )
    if row["replay"]:
        interaction = Interaction.from_row(recording.decode(row["known"]))
    else:
        stored = recording.decode(row["inserted"])
        stored["metadata"] = item.metadata  # as given (jsonb reorders keys)
        interaction = Interaction.from_row(stored)
    models = _models(write.workspace_id, active)
    changes = [
        score_change(change, change["status"], models[change["model_id"]], row["replay"])
        for change in recording.decode(row["changes"]) or ()
    ]
    return interaction, changes, recording.decode(row["leads"]) or []
