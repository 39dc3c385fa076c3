"""Delta sync (`changes`) and the subscriptions, all read from the change log."""

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from strawberry import relay
from tortoise import connections

from api.context import Info
from api.errors import ApiError, BadUserInput
from api.events import Broker, Event
from api.types.changes import TYPE_NAMES, ChangeFeed, ChangeKind, LeadStatusChange, RecordChange
from api.types.changes import RecordType as RecordTypeEnum
from api.types.lead import LeadEvent
from api.types.scoring import ScoreChange
from models import LeadStatus
from models.changes import (
    RECORD_ENTITIES,
    SCORE_ENTITY,
    START,
    STATUS_ENTITY,
    BadToken,
    Change,
    Position,
    TokenExpired,
    read_changes,
)
from models.sql import parse_datetime
from resolvers.loaders import Loaders
from resolvers.mutations import model_id

MAX_CHANGES_PAGE = 1000


class SyncTokenExpired(ApiError):
    code = "SYNC_TOKEN_EXPIRED"


async def record_changes(loaders: Loaders, changes: list[Change]) -> list[RecordChange]:
    """RecordChanges with each record's current state (DELETED when it no longer exists)."""
    nodes: dict[tuple[str, int], object] = {}
    by_entity: dict[str, list[int]] = {}
    for change in changes:
        by_entity.setdefault(change.entity, []).append(change.record_id)
    for entity, ids in by_entity.items():
        keys = [str(i) for i in ids]
        if entity == "scoring_model":
            found = await loaders.load_scoring_models(keys)
        else:
            found = await loaders.load_nodes(entity, keys)
        nodes.update({(entity, i): node for i, node in zip(ids, found, strict=True)})
    result = []
    for change in changes:
        node = nodes.get((change.entity, change.record_id))
        record_type = RecordTypeEnum(change.entity)
        result.append(
            RecordChange(
                kind=ChangeKind.DELETED if node is None else ChangeKind(change.kind),
                type=record_type,
                id=relay.GlobalID(TYPE_NAMES[record_type], str(change.record_id)),
                node=node,  # type: ignore[arg-type]
                at=change.at,
            )
        )
    return result


def _latest_per_record(rows: list[Change]) -> list[Change]:
    """Each record once, at its last change; created and then changed in the page: CREATED."""
    last_seen: dict[tuple[str, int], int] = {}
    created = set()
    for index, row in enumerate(rows):
        last_seen[(row.entity, row.record_id)] = index
        if row.kind == "CREATED":
            created.add((row.entity, row.record_id))
    latest = []
    for index, row in enumerate(rows):
        key = (row.entity, row.record_id)
        if last_seen[key] == index:
            if key in created and row.kind == "UPDATED":
                row = replace(row, kind="CREATED")
            latest.append(row)
    return latest


def entities_of(types: list[RecordTypeEnum] | None) -> list[str]:
    return [t.value for t in types] if types else list(RECORD_ENTITIES)


def checked_first(first: int | None) -> int:
    first = 100 if first is None else first
    if not 1 <= first <= MAX_CHANGES_PAGE:
        raise BadUserInput(f"first must be between 1 and {MAX_CHANGES_PAGE}.")
    return first


def position_of(since: str | None, retention_days: int, now: datetime) -> Position:
    """Where the token `since` stands: SYNC_TOKEN_EXPIRED past the retention, BAD_USER_INPUT
    when it is not a token of ours."""
    try:
        return (
            START if since is None else Position.decode(since, timedelta(days=retention_days), now)
        )
    except TokenExpired as exc:
        raise SyncTokenExpired(str(exc)) from exc
    except BadToken as exc:
        raise BadUserInput(str(exc)) from exc


async def changes(
    info: Info,
    since: str | None = None,
    types: list[RecordTypeEnum] | None = None,
    first: int | None = 100,
) -> ChangeFeed:
    """What changed after the token `since` (null: from the beginning), in commit order. Only
    changes of finished transactions are read, so a change committing late is never skipped."""
    first = checked_first(first)
    now = datetime.now(UTC)
    position = position_of(since, info.context.settings.change_retention_days, now)
    rows = await read_changes(
        connections.get("default"),
        info.context.workspace_id,
        position,
        entities_of(types),
        first + 1,
    )
    has_more = len(rows) > first
    rows = rows[:first]
    latest = _latest_per_record(rows)
    end = rows[-1] if rows else None
    token = Position(end.txid, end.id, now) if end else Position(position.txid, position.id, now)
    return ChangeFeed(
        changes=await record_changes(info.context.loaders, latest),  # type: ignore[arg-type]
        next_token=token.encode(),
        has_more=has_more,
    )


def _broker(info: Info) -> Broker:
    return info.context.request.app.state.change_broker  # type: ignore[union-attr]


def _loaders_for(event: Event, info: Info) -> Loaders:
    """One set of loaders per published batch and workspace, shared by every subscriber."""
    key = ("loaders", event.change.workspace_id)
    loaders = event.batch.shared.get(key)
    if loaders is None:
        loaders = event.batch.shared[key] = Loaders(
            event.change.workspace_id, info.context.settings
        )
    return loaders


def _scoring_models(event: Event, info: Info) -> asyncio.Future:
    """The workspace's scoring models, read once per batch however many subscribers ask."""
    key = ("scoring_models", event.change.workspace_id)
    future = event.batch.shared.get(key)
    if future is None:
        future = event.batch.shared[key] = asyncio.ensure_future(
            info.context.loaders.scoring_models()
        )
    return future


async def _events(info: Info, entities: frozenset[str], name: str) -> AsyncGenerator[Event, None]:
    with _broker(info).subscribe(info.context.workspace_id, entities, name) as subscriber:
        while True:
            event = await subscriber.next()
            info.context.loaders = _loaders_for(event, info)
            yield event


def _optional_id(gid: relay.GlobalID | None, type_name: str, field: str) -> int | None:
    if gid is None:
        return None
    try:
        return model_id(gid, type_name, field)
    except Exception as exc:
        raise BadUserInput(f"{field} must be a {type_name} ID.") from exc


async def score_changed(
    info: Info,
    lead_id: relay.GlobalID | None = None,
    model_id: relay.GlobalID | None = None,
    sales_ready_only: bool | None = False,
) -> AsyncGenerator[ScoreChange, None]:
    """Every committed change of a score, grade or readiness in the workspace."""
    lead = _optional_id(lead_id, "Lead", "leadId")
    model = _optional_id(model_id, "ScoringModel", "modelId")
    async for event in _events(info, frozenset({SCORE_ENTITY}), "scoreChanged"):
        change, detail = event.change, event.change.detail or {}
        if lead is not None and change.record_id != lead:
            continue
        if model is not None and detail["model"] != model:
            continue
        if sales_ready_only and not detail.get("sales_ready"):
            continue
        scoring_model = (await _scoring_models(event, info)).get(detail["model"])
        if scoring_model is None:
            continue
        previous = detail.get("previous")
        yield ScoreChange(
            lead_id=change.record_id,
            model=scoring_model,
            previous_score=detail["score"] if previous is None else previous,
            score=detail["score"],
            grade=detail.get("grade"),
            sales_ready=bool(detail.get("sales_ready")),
            became_sales_ready=bool(detail.get("sales_ready"))
            and not detail.get("previous_sales_ready"),
        )


async def lead_status_changed(
    info: Info, lead_id: relay.GlobalID | None = None
) -> AsyncGenerator[LeadStatusChange, None]:
    """Every committed status change of the workspace's leads (or of one lead)."""
    lead = _optional_id(lead_id, "Lead", "leadId")
    async for event in _events(info, frozenset({STATUS_ENTITY}), "leadStatusChanged"):
        change, detail = event.change, event.change.detail or {}
        if lead is not None and change.record_id != lead:
            continue
        row = await info.context.loaders.lead_by_id.load(change.record_id)
        if row is None:
            continue
        yield LeadStatusChange(
            lead=row,
            event=LeadEvent(
                at=parse_datetime(detail["at"]),
                from_status=LeadStatus(detail["from"]) if detail.get("from") else None,  # type: ignore[arg-type]
                to_status=LeadStatus(detail["to"]),  # type: ignore[arg-type]
                reason=detail.get("reason"),
                api_key_name=detail.get("api_key_name"),
            ),
        )


async def record_changed(
    info: Info, types: list[RecordTypeEnum] | None = None
) -> AsyncGenerator[RecordChange, None]:
    """Every committed create, update and delete of the workspace's records."""
    async for event in _events(info, frozenset(entities_of(types)), "recordChanged"):
        (change,) = await record_changes(info.context.loaders, [event.change])
        yield change
