"""accounts, createAccount, updateAccount, deleteAccount."""

import math

from strawberry import relay
from tortoise.transactions import in_transaction

from api.context import Info
from api.inputs.account import CreateAccountInput, DeleteInput, UpdateAccountInput
from api.inputs.filters import AccountFilter
from api.inputs.ordering import AccountOrder
from api.types.account import Account, AccountPayload
from api.types.common import Connection, DeletePayload
from models import Account as AccountRow
from models import Contact as ContactRow
from models import Lead as LeadRow
from models.attribute_rescoring import lock_affected_leads
from models.errors import DomainError, ErrorCode
from models.validation import Text, clean_fields
from resolvers.filtering import account_condition, account_search
from resolvers.mutations import fetch_in_workspace, given, model_id, model_row, user_errors
from resolvers.pagination import PageArgs, list_connection

FIELDS = {
    "name": Text(200, required=True),
    "industry": Text(100),
    "website": Text(500),
    "city": Text(100),
    "country": Text(100),
}


NUMBERS = ["number_of_employees", "annual_revenue"]
MAX_EMPLOYEES = 100_000_000
MAX_REVENUE = 1e15


def firmographics(input_) -> tuple[dict, list[DomainError]]:
    """numberOfEmployees and annualRevenue, checked: whole, finite, not negative."""
    values = given(input_, NUMBERS)
    errors = []
    employees = values.get("number_of_employees")
    if employees is not None and not 0 <= employees <= MAX_EMPLOYEES:
        errors.append(
            DomainError(
                ErrorCode.INVALID,
                f"numberOfEmployees must be 0 to {MAX_EMPLOYEES:,}.",
                ["numberOfEmployees"],
            )
        )
    revenue = values.get("annual_revenue")
    if revenue is not None and not (math.isfinite(revenue) and 0 <= revenue <= MAX_REVENUE):
        errors.append(
            DomainError(
                ErrorCode.INVALID,
                "annualRevenue must be a finite number from 0 to 1e15 (not NaN or Infinity).",
                ["annualRevenue"],
            )
        )
    return values, errors


async def accounts(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: AccountFilter | None = None,
    order_by: list[AccountOrder] | None = None,
    search: str | None = None,
) -> Connection[Account]:
    return await list_connection(
        info,
        table="account",
        conditions=lambda q: [account_condition(filter, "t", q), account_search(search, "t", q)],
        order_by=order_by,
        args=PageArgs(first, after, last, before),
        to_node=Account.from_row,
    )


async def _check_parent(account_id: int | None, parent_id: int, workspace_id: int) -> None:
    """The parent must exist in the workspace and must not be the account or a descendant."""
    seen: set[int] = set()
    current: int | None = parent_id
    while current is not None and current not in seen:
        if current == account_id:
            raise DomainError(
                ErrorCode.INVALID,
                "An account cannot be its own ancestor (parent account cycle).",
                ["parentAccountId"],
            )
        seen.add(current)
        row = await AccountRow.filter(id=current, workspace_id=workspace_id).first()
        if row is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No such parent account.", ["parentAccountId"])
        current = row.parent_account_id  # type: ignore[attr-defined]


async def _references(values: dict, account_id: int | None, workspace_id: int) -> dict:
    """Resolve `parentAccountId` and `primaryContactId` into column values."""
    refs: dict = {}
    if "parent_account_id" in values:
        gid = values["parent_account_id"]
        refs["parent_account_id"] = None
        if gid is not None:
            parent_id = model_id(gid, "Account", "parentAccountId")
            await _check_parent(account_id, parent_id, workspace_id)
            refs["parent_account_id"] = parent_id
    if "primary_contact_id" in values:
        gid = values["primary_contact_id"]
        refs["primary_contact_id"] = None
        if gid is not None:
            contact = await fetch_in_workspace(ContactRow, gid, workspace_id, "primaryContactId")
            refs["primary_contact_id"] = contact.id
    return refs


async def create_account(info: Info, input: CreateAccountInput) -> AccountPayload:
    workspace_id = info.context.workspace_id
    values, errors = clean_fields(given(input, list(FIELDS)), FIELDS)
    numbers, number_errors = firmographics(input)
    values.update(numbers)
    errors += number_errors
    if errors:
        return AccountPayload(account=None, user_errors=user_errors(errors))
    try:
        async with in_transaction():
            refs = await _references(
                given(input, ["parent_account_id", "primary_contact_id"]), None, workspace_id
            )
            row = await AccountRow.create(workspace_id=workspace_id, **values, **refs)
    except DomainError as e:
        return AccountPayload(account=None, user_errors=user_errors([e]))
    return AccountPayload(account=Account.from_row(model_row(row)), user_errors=[])


async def update_account(info: Info, input: UpdateAccountInput) -> AccountPayload:
    workspace_id = info.context.workspace_id
    values, errors = clean_fields(given(input, list(FIELDS)), FIELDS)
    numbers, number_errors = firmographics(input)
    values.update(numbers)
    errors += number_errors
    if errors:
        return AccountPayload(account=None, user_errors=user_errors(errors))
    actor = info.context.principal.api_key_name if info.context.principal else None
    try:
        async with in_transaction() as conn:
            existing = await fetch_in_workspace(AccountRow, input.id, workspace_id, "id")
            change = await lock_affected_leads(  # leads before the account, as everywhere
                conn, workspace_id, account_ids=[existing.id]
            )
            row = await fetch_in_workspace(AccountRow, input.id, workspace_id, "id", lock=True)
            refs = await _references(
                given(input, ["parent_account_id", "primary_contact_id"]), row.id, workspace_id
            )
            row.update_from_dict({**values, **refs})
            await row.save()
            await change.rescore(conn, actor=actor)
    except DomainError as e:
        return AccountPayload(account=None, user_errors=user_errors([e]))
    return AccountPayload(account=Account.from_row(model_row(row)), user_errors=[])


async def delete_account(info: Info, input: DeleteInput) -> DeletePayload:
    """Contacts, leads and child accounts stay, unlinked from the deleted account."""
    workspace_id = info.context.workspace_id
    try:
        async with in_transaction() as conn:
            existing = await fetch_in_workspace(AccountRow, input.id, workspace_id, "id")
            change = await lock_affected_leads(conn, workspace_id, account_ids=[existing.id])
            row = await fetch_in_workspace(AccountRow, input.id, workspace_id, "id", lock=True)
            await ContactRow.filter(workspace_id=workspace_id, account_id=row.id).update(
                account_id=None
            )
            await LeadRow.filter(workspace_id=workspace_id, account_id=row.id).update(
                account_id=None
            )
            await AccountRow.filter(workspace_id=workspace_id, parent_account_id=row.id).update(
                parent_account_id=None
            )
            await row.delete()
            await change.rescore(conn)
    except DomainError as e:
        return DeletePayload(deleted_id=None, user_errors=user_errors([e]))
    return DeletePayload(deleted_id=relay.GlobalID("Account", str(row.id)), user_errors=[])
