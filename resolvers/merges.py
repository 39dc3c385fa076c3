"""mergeContacts, mergeAccounts: everything that pointed at a merged record moves to the
survivor, the survivor's empty fields are filled from the merged records (in the order given),
the merged records are deleted and the affected leads re-scored; one transaction.

Locks: the affected leads first (id order), then the contacts or accounts (id order), the same
order as every other writer (see models.attribute_rescoring)."""

from datetime import UTC, datetime

from strawberry import relay
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from api.context import Info
from api.inputs.merge import MergeInput
from api.types.account import Account
from api.types.contact import Contact
from api.types.merge import MergePayload
from models import Account as AccountRow
from models import Contact as ContactRow
from models import Interaction as InteractionRow
from models import Lead as LeadRow
from models.attribute_rescoring import lock_affected_leads
from models.errors import DomainError, DomainErrors, ErrorCode
from models.opportunity import LeadEvent, Opportunity
from models.rescoring import Scope, rescore
from models.sql import Sql, is_postgres
from resolvers.mutations import model_row, user_errors

MAX_MERGED = 10
CONTACT_FILL = ["first_name", "email", "phone", "job_title", "account_id"]
ACCOUNT_FILL = [
    "industry",
    "website",
    "city",
    "country",
    "number_of_employees",
    "annual_revenue",
    "parent_account_id",
    "primary_contact_id",
]
MAX_HIERARCHY_DEPTH = 1000


def _decode(gid: relay.GlobalID, type_name: str, field: list[str], errors: list) -> int | None:
    if gid.type_name != type_name:
        errors.append(
            DomainError(
                ErrorCode.INVALID,
                f"A merge takes records of one type: expected a {type_name} ID, got a "
                f"{gid.type_name} ID.",
                field,
            )
        )
        return None
    if not gid.node_id.isdigit():
        errors.append(DomainError(ErrorCode.NOT_FOUND, f"No {type_name} with ID {gid}.", field))
        return None
    return int(gid.node_id)


def validate_merge(input_: MergeInput, type_name: str) -> tuple[int, list[int]]:
    """The survivor's and merged records' ids; raises DomainErrors naming every problem."""
    errors: list[DomainError] = []
    survivor = _decode(input_.survivor_id, type_name, ["survivorId"], errors)
    merged = [
        _decode(gid, type_name, ["mergedIds", str(i)], errors)
        for i, gid in enumerate(input_.merged_ids)
    ]
    if not 1 <= len(merged) <= MAX_MERGED:
        errors.append(
            DomainError(
                ErrorCode.INVALID, f"Merge 1 to {MAX_MERGED} records at a time.", ["mergedIds"]
            )
        )
    seen: set[int] = set()
    for i, record in enumerate(merged):
        if record is not None and record == survivor:
            errors.append(
                DomainError(
                    ErrorCode.INVALID,
                    "The survivor cannot be one of the merged records.",
                    ["mergedIds", str(i)],
                )
            )
        elif record is not None and record in seen:
            errors.append(
                DomainError(ErrorCode.INVALID, "A record is listed twice.", ["mergedIds", str(i)])
            )
        if record is not None:
            seen.add(record)
    if errors:
        raise DomainErrors(errors)
    return survivor, merged  # type: ignore[return-value]


async def _existing(model, workspace_id: int, survivor: int, merged: list[int], type_name: str):
    """The rows in the caller's workspace; records of other workspaces are NOT_FOUND."""
    rows = {
        r.id: r for r in await model.filter(workspace_id=workspace_id, id__in=[survivor, *merged])
    }
    errors = []
    if survivor not in rows:
        errors.append(
            DomainError(ErrorCode.NOT_FOUND, f"No {type_name} with that ID.", ["survivorId"])
        )
    errors += [
        DomainError(ErrorCode.NOT_FOUND, f"No {type_name} with that ID.", ["mergedIds", str(i)])
        for i, m in enumerate(merged)
        if m not in rows
    ]
    if errors:
        raise DomainErrors(errors)
    return rows


async def _lock(model, workspace_id: int, ids: list[int]) -> dict:
    rows = (
        await model.filter(workspace_id=workspace_id, id__in=ids).order_by("id").select_for_update()
    )
    return {r.id: r for r in rows}


def _fill(survivor, merged: list, names: list[str], skip=lambda name, value: False) -> dict:
    """Values for the survivor's empty fields, from the first merged record that has one."""
    filled = {}
    for name in names:
        if getattr(survivor, name) not in (None, ""):
            continue
        for row in merged:
            value = getattr(row, name)
            if value not in (None, "") and not skip(name, value):
                filled[name] = value
                break
    return filled


async def _note_moves(workspace_id: int, leads: list[dict], reason: str, actor: str | None):
    """One lead history entry per moved lead (its status stays)."""
    if not leads:
        return
    now = datetime.now(UTC)
    await LeadEvent.bulk_create(
        [
            LeadEvent(
                workspace_id=workspace_id,
                lead_id=lead["id"],
                at=now,
                from_status=lead["status"],
                to_status=lead["status"],
                reason=reason[:500],
                api_key_name=actor,
            )
            for lead in leads
        ]
    )


def _gids(type_name: str, ids: list[int]) -> list[relay.GlobalID]:
    return [relay.GlobalID(type_name, str(i)) for i in ids]


async def _merge_contacts(
    conn: BaseDBAsyncClient, ws: int, survivor_id: int, merged_ids: list[int], actor
):
    found = await _existing(ContactRow, ws, survivor_id, merged_ids, "Contact")
    change = await lock_affected_leads(
        conn,
        ws,
        contact_ids=[survivor_id, *merged_ids],
        account_ids=[r.account_id for r in found.values()],
        always=True,
    )
    rows = await _lock(ContactRow, ws, [survivor_id, *merged_ids])
    survivor, merged = rows[survivor_id], [rows[i] for i in merged_ids]
    filled = _fill(survivor, merged, CONTACT_FILL)
    account_id = filled.get("account_id", survivor.account_id)  # type: ignore[attr-defined]

    moved = await LeadRow.filter(workspace_id=ws, contact_id__in=merged_ids).values("id", "status")
    await LeadRow.filter(workspace_id=ws, contact_id__in=merged_ids).update(contact_id=survivor_id)
    if account_id is not None:  # a contact's leads belong to its account
        await LeadRow.filter(workspace_id=ws, contact_id=survivor_id).update(account_id=account_id)
    await InteractionRow.filter(workspace_id=ws, contact_id__in=merged_ids).update(
        contact_id=survivor_id
    )
    await Opportunity.filter(workspace_id=ws, contact_id__in=merged_ids).update(
        contact_id=survivor_id
    )
    await AccountRow.filter(workspace_id=ws, primary_contact_id__in=merged_ids).update(
        primary_contact_id=survivor_id
    )
    await ContactRow.filter(workspace_id=ws, id__in=merged_ids).delete()
    if "email" in filled:
        filled["email_normalized"] = filled["email"].lower()
    if filled:
        survivor.update_from_dict(filled)
        await survivor.save()
    names = ", ".join(str(g) for g in _gids("Contact", merged_ids))
    reason = f"Contact {names} merged into Contact {relay.GlobalID('Contact', str(survivor_id))}"
    await _note_moves(ws, moved, reason, actor)
    if change.lead_ids:  # interactions moved: every active model
        await rescore(conn, Scope(ws, change.lead_ids), actor=actor)
    return Contact.from_row(model_row(survivor))


async def _parent_cycle(conn: BaseDBAsyncClient, account_id: int) -> bool:
    """The account is its own ancestor."""
    q = Sql(is_postgres(conn))
    start = q.param(account_id)
    rows = await conn.execute_query_dict(
        "WITH RECURSIVE chain(id, depth) AS ("
        f"SELECT parent_account_id, 1 FROM account WHERE id = {start} "
        "UNION ALL SELECT a.parent_account_id, c.depth + 1 FROM account a "
        f"JOIN chain c ON a.id = c.id WHERE c.depth < {MAX_HIERARCHY_DEPTH}) "
        f"SELECT COUNT(*) AS n FROM chain WHERE id = {start}",
        q.params,
    )
    return bool(rows[0]["n"])


async def _merge_accounts(
    conn: BaseDBAsyncClient, ws: int, survivor_id: int, merged_ids: list[int], actor
):
    await _existing(AccountRow, ws, survivor_id, merged_ids, "Account")
    change = await lock_affected_leads(
        conn, ws, account_ids=[survivor_id, *merged_ids], always=True
    )
    rows = await _lock(AccountRow, ws, [survivor_id, *merged_ids])
    survivor, merged = rows[survivor_id], [rows[i] for i in merged_ids]
    gone = set(merged_ids)
    filled = _fill(
        survivor,
        merged,
        ACCOUNT_FILL,
        skip=lambda name, value: (
            name == "parent_account_id" and (value in gone or value == survivor_id)
        ),
    )

    moved = await LeadRow.filter(workspace_id=ws, account_id__in=merged_ids).values("id", "status")
    await LeadRow.filter(workspace_id=ws, account_id__in=merged_ids).update(account_id=survivor_id)
    await ContactRow.filter(workspace_id=ws, account_id__in=merged_ids).update(
        account_id=survivor_id
    )
    await AccountRow.filter(workspace_id=ws, parent_account_id__in=merged_ids).update(
        parent_account_id=survivor_id
    )
    await Opportunity.filter(workspace_id=ws, account_id__in=merged_ids).update(
        account_id=survivor_id
    )
    await AccountRow.filter(workspace_id=ws, id__in=merged_ids).delete()
    if filled:
        survivor.update_from_dict(filled)
        await survivor.save()
    if await _parent_cycle(conn, survivor_id):
        raise DomainError(
            ErrorCode.INVALID,
            "This merge would make an account its own ancestor (parent account cycle).",
            ["mergedIds"],
        )
    names = ", ".join(str(g) for g in _gids("Account", merged_ids))
    reason = f"Account {names} merged into Account {relay.GlobalID('Account', str(survivor_id))}"
    await _note_moves(ws, moved, reason, actor)
    await change.rescore(conn, actor=actor)  # attributes changed, interactions did not
    return Account.from_row(model_row(survivor))


async def _merge(info: Info, input: MergeInput, type_name: str, work) -> MergePayload:
    workspace_id = info.context.workspace_id
    actor = info.context.principal.api_key_name if info.context.principal else None
    try:
        survivor_id, merged_ids = validate_merge(input, type_name)
        async with in_transaction() as conn:
            survivor = await work(conn, workspace_id, survivor_id, merged_ids, actor)
    except DomainErrors as e:
        return MergePayload(survivor=None, merged_ids=[], user_errors=user_errors(e.errors))
    except DomainError as e:
        return MergePayload(survivor=None, merged_ids=[], user_errors=user_errors([e]))
    return MergePayload(survivor=survivor, merged_ids=_gids(type_name, merged_ids), user_errors=[])


async def merge_contacts(info: Info, input: MergeInput) -> MergePayload:
    return await _merge(info, input, "Contact", _merge_contacts)


async def merge_accounts(info: Info, input: MergeInput) -> MergePayload:
    return await _merge(info, input, "Account", _merge_accounts)
