"""leads, createLead, updateLead, deleteLead."""

from strawberry import relay
from tortoise.transactions import in_transaction

from api.context import Info
from api.inputs.account import DeleteInput
from api.inputs.filters import LeadFilter
from api.inputs.lead import CreateLeadInput, UpdateLeadInput
from api.inputs.ordering import LeadOrder
from api.types.common import Connection, DeletePayload
from api.types.lead import Lead, LeadPayload
from models import Account as AccountRow
from models import Contact as ContactRow
from models import Interaction as InteractionRow
from models import Lead as LeadRow
from models import LeadStatus
from models.errors import DomainError, DomainErrors, ErrorCode
from models.rescoring import Scope, rescore
from models.validation import Text, clean_fields
from resolvers.filtering import lead_condition, lead_search
from resolvers.mutations import fetch_in_workspace, given, model_row, user_errors
from resolvers.pagination import PageArgs, list_connection

FIELDS = {
    "topic": Text(200, required=True),
    "source": Text(100),
    "first_name": Text(100),
    "last_name": Text(100),
    "email": Text(254, email=True),
    "company_name": Text(200),
}
CLOSED = {LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED}


async def leads(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: LeadFilter | None = None,
    order_by: list[LeadOrder] | None = None,
    search: str | None = None,
) -> Connection[Lead]:
    return await list_connection(
        info,
        table="lead",
        conditions=lambda q: [lead_condition(filter, "t", q), lead_search(search, "t", q)],
        order_by=order_by,
        args=PageArgs(first, after, last, before),
        to_node=Lead.from_row,
    )


async def _apply(row: LeadRow, input_, workspace_id: int) -> None:
    """Validate the input, resolve references and check the resulting lead is whole."""
    values, errors = clean_fields(given(input_, list(FIELDS)), FIELDS)
    if errors:
        raise DomainErrors(errors)
    refs = given(input_, ["contact_id", "account_id"])
    contact = None
    if refs.get("contact_id") is not None:
        contact = await fetch_in_workspace(
            ContactRow, refs["contact_id"], workspace_id, "contactId"
        )
    if refs.get("account_id") is not None:
        account = await fetch_in_workspace(
            AccountRow, refs["account_id"], workspace_id, "accountId"
        )
        values["account_id"] = account.id
    elif "account_id" in refs:
        values["account_id"] = None
    if "contact_id" in refs:
        values["contact_id"] = contact.id if contact else None
        if contact is not None and values.get("account_id") is None:
            values["account_id"] = contact.account_id  # type: ignore[attr-defined]
    row.update_from_dict(values)

    if row.contact_id is not None and row.account_id is not None:  # type: ignore[attr-defined]
        contact = contact or await ContactRow.filter(id=row.contact_id).first()  # type: ignore[attr-defined]
        contact_account = contact.account_id if contact else None  # type: ignore[attr-defined]
        if contact_account is not None and contact_account != row.account_id:  # type: ignore[attr-defined]
            raise DomainError(
                ErrorCode.INVALID,
                "The lead's account must be its contact's account.",
                ["accountId"],
            )
    if row.contact_id is None and not (row.last_name or row.email or row.company_name):  # type: ignore[attr-defined]
        raise DomainError(
            ErrorCode.INVALID,
            "A lead without a contact needs its own lastName, email or companyName.",
            ["contactId"],
        )


async def _score(conn, info: Info, row: LeadRow) -> None:
    """Score the lead from its interactions now (a new lead, or one whose contact changed)."""
    actor = info.context.principal.api_key_name if info.context.principal else None
    await rescore(conn, Scope(row.workspace_id, [row.id]), actor=actor)  # type: ignore[attr-defined]
    await row.refresh_from_db(using_db=conn)


async def create_lead(info: Info, input: CreateLeadInput) -> LeadPayload:
    workspace_id = info.context.workspace_id
    try:
        async with in_transaction() as conn:
            row = LeadRow(workspace_id=workspace_id, status=LeadStatus.NEW)
            await _apply(row, input, workspace_id)
            await row.save(using_db=conn)
            await _score(conn, info, row)
    except DomainErrors as e:
        return LeadPayload(lead=None, user_errors=user_errors(e.errors))
    except DomainError as e:
        return LeadPayload(lead=None, user_errors=user_errors([e]))
    return LeadPayload(lead=Lead.from_row(model_row(row)), user_errors=[])


async def update_lead(info: Info, input: UpdateLeadInput) -> LeadPayload:
    workspace_id = info.context.workspace_id
    try:
        async with in_transaction() as conn:
            row = await fetch_in_workspace(LeadRow, input.id, workspace_id, "id", lock=True)
            if row.status in CLOSED:
                raise DomainError(
                    ErrorCode.INVALID_TRANSITION,
                    f"The lead is {row.status.value}; reactivate it before changing it.",
                    ["id"],
                )
            await _apply(row, input, workspace_id)
            await row.save(using_db=conn)
            await _score(conn, info, row)
    except DomainErrors as e:
        return LeadPayload(lead=None, user_errors=user_errors(e.errors))
    except DomainError as e:
        return LeadPayload(lead=None, user_errors=user_errors([e]))
    return LeadPayload(lead=Lead.from_row(model_row(row)), user_errors=[])


async def delete_lead(info: Info, input: DeleteInput) -> DeletePayload:
    """Deletes the lead and the interactions recorded on it; contact-level ones stay."""
    workspace_id = info.context.workspace_id
    try:
        async with in_transaction():
            row = await fetch_in_workspace(LeadRow, input.id, workspace_id, "id", lock=True)
            await InteractionRow.filter(workspace_id=workspace_id, lead_id=row.id).delete()
            await row.delete()
    except DomainError as e:
        return DeletePayload(deleted_id=None, user_errors=user_errors([e]))
    return DeletePayload(deleted_id=relay.GlobalID("Lead", str(row.id)), user_errors=[])
