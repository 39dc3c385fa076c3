"""contacts, createContact, updateContact, deleteContact."""

from strawberry import relay
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from api.context import Info
from api.inputs.account import DeleteInput
from api.inputs.contact import CreateContactInput, UpdateContactInput
from api.inputs.filters import ContactFilter
from api.inputs.ordering import ContactOrder
from api.types.common import Connection, DeletePayload
from api.types.contact import Contact, ContactPayload
from models import Account as AccountRow
from models import Contact as ContactRow
from models import Interaction as InteractionRow
from models import Lead as LeadRow
from models.attribute_rescoring import lock_affected_leads
from models.errors import DomainError, DomainErrors, ErrorCode
from models.rescoring import Scope, lock_leads, rescore
from models.validation import Text, clean_fields, normalize_email
from resolvers.filtering import contact_condition, contact_search
from resolvers.mutations import fetch_in_workspace, given, model_row, user_errors
from resolvers.pagination import PageArgs, list_connection

FIELDS = {
    "first_name": Text(100),
    "last_name": Text(100, required=True),
    "email": Text(254, email=True),
    "phone": Text(50),
    "job_title": Text(200),
}


async def contacts(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    filter: ContactFilter | None = None,
    order_by: list[ContactOrder] | None = None,
    search: str | None = None,
) -> Connection[Contact]:
    return await list_connection(
        info,
        table="contact",
        conditions=lambda q: [contact_condition(filter, "t", q), contact_search(search, "t", q)],
        order_by=order_by,
        args=PageArgs(first, after, last, before),
        to_node=Contact.from_row,
    )


async def _email_is_free(email: str | None, workspace_id: int, contact_id: int | None) -> None:
    if email is None:
        return
    query = ContactRow.filter(workspace_id=workspace_id, email_normalized=normalize_email(email))
    if contact_id is not None:
        query = query.exclude(id=contact_id)
    clashing = await query.order_by("id").values_list("id", flat=True)
    if clashing:
        raise DomainError(
            ErrorCode.DUPLICATE,
            f"A contact with the email {email} already exists.",
            ["email"],
            existing=[("Contact", i) for i in clashing],
        )


async def _contact_values(input_, workspace_id: int, contact_id: int | None) -> dict:
    values, errors = clean_fields(given(input_, list(FIELDS)), FIELDS)
    if errors:
        raise DomainErrors(errors)
    if "email" in values:
        await _email_is_free(values["email"], workspace_id, contact_id)
        values["email_normalized"] = normalize_email(values["email"])
    account_gid = given(input_, ["account_id"]).get("account_id", "unset")
    if account_gid is None:
        values["account_id"] = None
    elif account_gid != "unset":
        account = await fetch_in_workspace(AccountRow, account_gid, workspace_id, "accountId")
        values["account_id"] = account.id
    return values


async def _save(info: Info, input_, contact_id_gid: relay.GlobalID | None) -> ContactPayload:
    workspace_id = info.context.workspace_id
    actor = info.context.principal.api_key_name if info.context.principal else None
    try:
        async with in_transaction() as conn:
            if contact_id_gid is None:
                values = await _contact_values(input_, workspace_id, None)
                change = await lock_affected_leads(
                    conn, workspace_id, account_ids=[values.get("account_id")]
                )
                row = await ContactRow.create(workspace_id=workspace_id, **values)
            else:
                existing = await fetch_in_workspace(ContactRow, contact_id_gid, workspace_id, "id")
                values = await _contact_values(input_, workspace_id, existing.id)
                change = await lock_affected_leads(  # leads before the contact: see the module
                    conn,
                    workspace_id,
                    contact_ids=[existing.id],
                    account_ids=[existing.account_id, values.get("account_id")],  # type: ignore[attr-defined]
                )
                row = await fetch_in_workspace(
                    ContactRow, contact_id_gid, workspace_id, "id", lock=True
                )
                row.update_from_dict(values)
                await row.save()
            await change.rescore(conn, actor=actor)
    except DomainErrors as e:
        return ContactPayload(contact=None, user_errors=user_errors(e.errors))
    except DomainError as e:
        return ContactPayload(contact=None, user_errors=user_errors([e]))
    except IntegrityError:  # a concurrent insert took the email between check and write
        email = given(input_, ["email"]).get("email")
        clashing = await ContactRow.filter(
            workspace_id=workspace_id, email_normalized=normalize_email(email)
        ).values_list("id", flat=True)
        error = DomainError(
            ErrorCode.DUPLICATE,
            "A contact with this email already exists.",
            ["email"],
            existing=[("Contact", i) for i in clashing],
        )
        return ContactPayload(contact=None, user_errors=user_errors([error]))
    return ContactPayload(contact=Contact.from_row(model_row(row)), user_errors=[])


async def create_contact(info: Info, input: CreateContactInput) -> ContactPayload:
    return await _save(info, input, None)


async def update_contact(info: Info, input: UpdateContactInput) -> ContactPayload:
    return await _save(info, input, input.id)


async def delete_contact(info: Info, input: DeleteInput) -> DeletePayload:
    """Deletes the contact's interactions; its leads stay as sales-only leads that carry the
    contact's name, email and company."""
    workspace_id = info.context.workspace_id
    try:
        async with in_transaction() as conn:
            existing = await fetch_in_workspace(ContactRow, input.id, workspace_id, "id")
            attribute_change = await lock_affected_leads(  # account.contacts filters
                conn,
                workspace_id,
                account_ids=[existing.account_id],  # type: ignore[attr-defined]
            )
            row = await fetch_in_workspace(ContactRow, input.id, workspace_id, "id", lock=True)
            lead_ids = await lock_leads(conn, workspace_id, contact_ids=[row.id])
            company = None
            if row.account_id is not None:  # type: ignore[attr-defined]
                account = await AccountRow.filter(id=row.account_id).first()  # type: ignore[attr-defined]
                company = account.name if account else None
            for lead in await LeadRow.filter(workspace_id=workspace_id, contact_id=row.id):
                lead.contact_id = None  # type: ignore[attr-defined]
                lead.first_name = lead.first_name or row.first_name
                lead.last_name = lead.last_name or row.last_name
                lead.email = lead.email or row.email
                lead.company_name = lead.company_name or company
                await lead.save()
            await InteractionRow.filter(workspace_id=workspace_id, contact_id=row.id).delete()
            await AccountRow.filter(workspace_id=workspace_id, primary_contact_id=row.id).update(
                primary_contact_id=None
            )
            await row.delete()
            if lead_ids:  # they lost the contact's interactions
                await rescore(conn, Scope(workspace_id, list(lead_ids)))
            await attribute_change.rescore(conn)
    except DomainError as e:
        return DeletePayload(deleted_id=None, user_errors=user_errors([e]))
    return DeletePayload(deleted_id=relay.GlobalID("Contact", str(row.id)), user_errors=[])
