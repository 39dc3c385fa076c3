"""recordInteraction, recordInteractions, deleteInteraction: store, re-score, report changes."""

from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from api.context import Info
from api.inputs.account import DeleteInput
from api.inputs.interaction import RecordInteractionInput, RecordInteractionsInput
from api.types.interaction import (
    Interaction,
    RecordInteractionPayload,
    RecordInteractionsPayload,
)
from api.types.scoring import ScoreChange, ScoringModel
from models import Contact as ContactRow
from models import Interaction as InteractionRow
from models import Lead as LeadRow
from models.errors import DomainError, DomainErrors, ErrorCode
from models.recording import Item
from models.rescoring import Scope, active_models, lock_leads, rescore
from models.sql import Sql, connection, is_postgres
from resolvers import recording
from resolvers.interaction_checks import check_input, fingerprint, score_change
from resolvers.mutations import fetch_in_workspace, model_row, user_errors


async def _prepare(item: RecordInteractionInput, workspace_id: int, now: datetime) -> Item:
    """Validate one item and resolve its contact and lead (errors name fields of the item)."""
    occurred_at, key = check_input(item, now)
    contact_id = lead_id = None
    if item.contact_id is not None:
        contact = await fetch_in_workspace(ContactRow, item.contact_id, workspace_id, "contactId")
        contact_id = contact.id
    if item.lead_id is not None:
        lead = await fetch_in_workspace(LeadRow, item.lead_id, workspace_id, "leadId")
        lead_id = lead.id
        if contact_id is not None and lead.contact_id != contact_id:  # type: ignore[attr-defined]
            raise DomainError(
                ErrorCode.INVALID, "The lead does not belong to that contact.", ["leadId"]
            )
        contact_id = lead.contact_id  # type: ignore[attr-defined]
    return Item(
        workspace_id=workspace_id,
        type=item.type.value,
        contact_id=contact_id,
        lead_id=lead_id,
        occurred_at=occurred_at,
        metadata=item.metadata,
        key=key,
        fingerprint=fingerprint(item) if key else None,
    )


async def score_changes(
    conn: BaseDBAsyncClient,
    statuses: dict[int, str],
    models: dict[int, ScoringModel],
    unchanged: set[int] = frozenset(),  # type: ignore[assignment]
) -> list[ScoreChange]:
    """One ScoreChange per lead and active model, read back from the stored scores.

    Leads in `unchanged` (touched only by replays) report previousScore equal to score."""
    if not statuses or not models:
        return []
    q = Sql(is_postgres(conn))
    rows = await conn.execute_query_dict(
        "SELECT lead_id, model_id, score, previous_score, grade, sales_ready, "
        f"previous_sales_ready FROM lead_score WHERE {q.in_list('lead_id', list(statuses))} "
        f"AND {q.in_list('model_id', list(models))} ORDER BY lead_id, model_id",
        q.params,
    )
    return [
        score_change(
            row, statuses[row["lead_id"]], models[row["model_id"]], row["lead_id"] in unchanged
        )
        for row in rows
    ]


async def _record(info: Info, items: list[RecordInteractionInput], paths: list[list[str]]):
    """Record `items` in one transaction: all or nothing. Returns (rows, score changes)."""
    workspace_id = info.context.workspace_id
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        prepared: list[Item] = []
        errors: list[DomainError] = []
        for item, path in zip(items, paths, strict=True):
            try:
                prepared.append(await _prepare(item, workspace_id, now))
            except DomainErrors as e:
                errors += [DomainError(x.code, x.message, path + (x.field or [])) for x in e.errors]
            except DomainError as e:
                errors.append(DomainError(e.code, e.message, path + (e.field or [])))
        if errors:
            raise DomainErrors(errors)

        # Idempotency: a known key with the same payload is a replay, with another a conflict.
        rows: list[InteractionRow | None] = [None] * len(prepared)
        first_of_key: dict[str, int] = {}
        keys = [p.key for p in prepared if p.key]
        known = (
            {
                row.idempotency_key: row
                for row in await InteractionRow.filter(
                    workspace_id=workspace_id, idempotency_key__in=keys
                ).using_db(conn)
            }
            if keys
            else {}
        )
        for index, p in enumerate(prepared):
            if p.key is None:
                continue
            original = known.get(p.key)
            earlier = first_of_key.setdefault(p.key, index)
            same_as = (
                original.idempotency_fingerprint if original else prepared[earlier].fingerprint
            )
            if same_as != p.fingerprint:
                errors.append(
                    DomainError(
                        ErrorCode.CONFLICT,
                        "This idempotencyKey was already used for a different interaction.",
                        paths[index] + ["idempotencyKey"],
                    )
                )
            elif original is not None:
                rows[index] = original
        if errors:
            raise DomainErrors(errors)

        fresh = [
            i
            for i, p in enumerate(prepared)
            if rows[i] is None and (p.key is None or first_of_key[p.key] == i)
        ]
        lead_ids = {prepared[i].lead_id for i in fresh if prepared[i].lead_id}
        contact_ids = {
            prepared[i].contact_id
            for i in fresh
            if prepared[i].lead_id is None and prepared[i].contact_id
        }
        replayed_leads = {
            p.lead_id for i, p in enumerate(prepared) if rows[i] is not None and p.lead_id
        }
        replayed_contacts = {
            p.contact_id
            for i, p in enumerate(prepared)
            if rows[i] is not None and p.lead_id is None and p.contact_id
        }
        touched = await lock_leads(
            conn, workspace_id, lead_ids=list(lead_ids), contact_ids=list(contact_ids)
        )
        for i in fresh:
            p = prepared[i]
            rows[i] = await InteractionRow.create(
                using_db=conn,
                workspace_id=workspace_id,
                type=p.type,
                occurred_at=p.occurred_at,
                contact_id=p.contact_id,
                lead_id=p.lead_id,
                metadata=p.metadata,
                idempotency_key=p.key,
                idempotency_fingerprint=p.fingerprint,
            )
        for i, p in enumerate(prepared):  # a key repeated inside the batch
            if rows[i] is None and p.key is not None:
                rows[i] = rows[first_of_key[p.key]]

        models = {}
        if touched:
            actor = info.context.principal.api_key_name if info.context.principal else None
            models = {
                m.id: ScoringModel.from_model(m)
                for m in await rescore(
                    conn, Scope(workspace_id, list(touched)), actor=actor, now=now
                )
            }
        replay_only = await lock_leads(
            conn, workspace_id, lead_ids=list(replayed_leads), contact_ids=list(replayed_contacts)
        )
        unchanged = set(replay_only) - set(touched)
        if unchanged and not models:
            models = {
                m.id: ScoringModel.from_model(m) for m in await active_models(workspace_id, conn)
            }
        changes = await score_changes(conn, {**replay_only, **touched}, models, unchanged)
    return rows, changes


async def _record_retrying(info: Info, items, paths):
    try:
        return await _record(info, items, paths)
    except IntegrityError:
        # A concurrent request with the same idempotencyKey won the insert: answer as a replay.
        return await _record(info, items, paths)


async def record_interaction(info: Info, input: RecordInteractionInput) -> RecordInteractionPayload:
    try:
        if is_postgres(connection()) and recording.takes(input):
            interaction, changes = await recording.record_one(info, input)
        else:
            rows, changes = await _record_retrying(info, [input], [[]])
            interaction = Interaction.from_row(model_row(rows[0]))
    except DomainErrors as e:
        return RecordInteractionPayload(
            interaction=None, score_changes=[], user_errors=user_errors(e.errors)
        )
    except DomainError as e:
        return RecordInteractionPayload(
            interaction=None, score_changes=[], user_errors=user_errors([e])
        )
    return RecordInteractionPayload(interaction=interaction, score_changes=changes, user_errors=[])


async def record_interactions(
    info: Info, input: RecordInteractionsInput
) -> RecordInteractionsPayload:
    limit = info.context.settings.max_batch_size
    if len(input.interactions) > limit:
        error = DomainError(
            ErrorCode.INVALID,
            f"At most {limit} interactions per call; got {len(input.interactions)}.",
            ["interactions"],
        )
        return RecordInteractionsPayload(
            interactions=[], score_changes=[], user_errors=user_errors([error])
        )
    paths = [["interactions", str(i)] for i in range(len(input.interactions))]
    try:
        rows, changes = await _record_retrying(info, input.interactions, paths)
    except DomainErrors as e:
        return RecordInteractionsPayload(
            interactions=[], score_changes=[], user_errors=user_errors(e.errors)
        )
    return RecordInteractionsPayload(
        interactions=[Interaction.from_row(model_row(r)) for r in rows],
        score_changes=changes,
        user_errors=[],
    )


async def delete_interaction(info: Info, input: DeleteInput) -> RecordInteractionPayload:
    """Delete an interaction and re-score the leads it counted for."""
    workspace_id = info.context.workspace_id
    try:
        async with in_transaction() as conn:
            row = await fetch_in_workspace(InteractionRow, input.id, workspace_id, "id")
            if row.lead_id is not None:  # type: ignore[attr-defined]
                touched = await lock_leads(conn, workspace_id, lead_ids=[row.lead_id])  # type: ignore[attr-defined]
            elif row.contact_id is not None:  # type: ignore[attr-defined]
                touched = await lock_leads(conn, workspace_id, contact_ids=[row.contact_id])  # type: ignore[attr-defined]
            else:
                touched = {}
            deleted = Interaction.from_row(model_row(row))
            await row.delete(using_db=conn)
            models = {}
            if touched:
                actor = info.context.principal.api_key_name if info.context.principal else None
                models = {
                    m.id: ScoringModel.from_model(m)
                    for m in await rescore(conn, Scope(workspace_id, list(touched)), actor=actor)
                }
            changes = await score_changes(conn, touched, models)
    except DomainError as e:
        return RecordInteractionPayload(
            interaction=None, score_changes=[], user_errors=user_errors([e])
        )
    return RecordInteractionPayload(interaction=deleted, score_changes=changes, user_errors=[])
