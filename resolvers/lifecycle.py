"""acceptLead, sendLeadBackToMarketing, disqualifyLead, qualifyLead, reactivateLead."""

from tortoise.transactions import in_transaction

from api.context import Info
from api.inputs.lead import DisqualifyLeadInput, LeadTransitionInput, QualifyLeadInput
from api.types.account import Account
from api.types.contact import Contact
from api.types.lead import Lead, LeadPayload, QualifyLeadPayload
from api.types.opportunity import Opportunity
from models import Account as AccountRow
from models import Contact as ContactRow
from models import Lead as LeadRow
from models import LeadEvent, LeadStatus
from models import Opportunity as OpportunityRow
from models.errors import DomainError, DomainErrors, ErrorCode
from models.lifecycle import Action, transition
from models.rescoring import Scope, rescore
from models.sql import is_postgres
from models.validation import Text, clean_fields, normalize_email
from resolvers.mutations import fetch_in_workspace, model_row, user_errors

REASON = {"reason": Text(500)}


def _actor(info: Info) -> str | None:
    return info.context.principal.api_key_name if info.context.principal else None


async def _move(conn, lead: LeadRow, target: LeadStatus, reason: str | None, actor: str | None):
    await LeadEvent.create(
        using_db=conn,
        workspace_id=lead.workspace_id,  # type: ignore[attr-defined]
        lead_id=lead.id,
        from_status=lead.status.value,
        to_status=target.value,
        reason=reason,
        api_key_name=actor,
    )
    lead.status = target
    await lead.save(using_db=conn)


async def _simple(info: Info, lead_gid, action: Action, reason: str | None) -> LeadPayload:
    workspace_id = info.context.workspace_id
    try:
        values, errors = clean_fields({"reason": reason}, REASON)
        if errors:
            raise DomainErrors(errors)
        async with in_transaction() as conn:
            lead = await fetch_in_workspace(LeadRow, lead_gid, workspace_id, "leadId", lock=True)
            target = transition(action, LeadStatus(lead.status))
            await _move(conn, lead, target, values["reason"], _actor(info))
    except DomainErrors as e:
        return LeadPayload(lead=None, user_errors=user_errors(e.errors))
    except DomainError as e:
        return LeadPayload(lead=None, user_errors=user_errors([e]))
    return LeadPayload(lead=Lead.from_row(model_row(lead)), user_errors=[])


async def accept_lead(info: Info, input: LeadTransitionInput) -> LeadPayload:
    return await _simple(info, input.lead_id, Action.ACCEPT, input.reason)


async def send_lead_back_to_marketing(info: Info, input: LeadTransitionInput) -> LeadPayload:
    return await _simple(info, input.lead_id, Action.SEND_BACK, input.reason)


async def disqualify_lead(info: Info, input: DisqualifyLeadInput) -> LeadPayload:
    return await _simple(info, input.lead_id, Action.DISQUALIFY, input.reason.value)


async def reactivate_lead(info: Info, input: LeadTransitionInput) -> LeadPayload:
    return await _simple(info, input.lead_id, Action.REACTIVATE, input.reason)


QUALIFY_LOCK = 0x9A11  # advisory-lock namespace: find-or-create of contacts and accounts


async def _lock_name(conn, workspace_id: int, name: str) -> None:
    """Serialise find-or-create of one email or company name in a workspace until commit, so
    concurrent qualifications reuse the record the first one creates (PostgreSQL; SQLite has
    one writer at a time anyway)."""
    if is_postgres(conn):
        await conn.execute_query(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            [QUALIFY_LOCK, f"{workspace_id}:{name.lower()}"],
        )


async def _contact_for(conn, lead: LeadRow, workspace_id: int) -> ContactRow | None:
    """A sales-only lead's contact: the one with its email, or a new one. Only empty fields of
    a matched contact are filled."""
    email = normalize_email(lead.email)
    contact = None
    if email:
        await _lock_name(conn, workspace_id, f"email:{email}")
        contact = (
            await ContactRow.filter(workspace_id=workspace_id, email_normalized=email)
            .using_db(conn)
            .first()
        )
    if contact is None:
        last_name = (
            lead.last_name
            or (lead.email.split("@")[0] if lead.email else None)
            or lead.company_name
        )
        if last_name is None:
            return None
        return await ContactRow.create(
            using_db=conn,
            workspace_id=workspace_id,
            first_name=lead.first_name,
            last_name=last_name,
            email=lead.email,
            email_normalized=email,
        )
    if not contact.first_name and lead.first_name:
        contact.first_name = lead.first_name
        await contact.save(using_db=conn)
    return contact


async def _account_for(conn, lead: LeadRow, workspace_id: int) -> AccountRow | None:
    """A sales-only lead's account: the one named like its company (ignoring case), or new."""
    if not lead.company_name:
        return None
    await _lock_name(conn, workspace_id, f"account:{lead.company_name}")
    for account in (
        await AccountRow.filter(workspace_id=workspace_id, name__iexact=lead.company_name)
        .using_db(conn)
        .order_by("id")
        .limit(1)
    ):
        return account
    return await AccountRow.create(using_db=conn, workspace_id=workspace_id, name=lead.company_name)


async def qualify_lead(info: Info, input: QualifyLeadInput) -> QualifyLeadPayload:
    workspace_id = info.context.workspace_id

    def failed(errors: list[DomainError]) -> QualifyLeadPayload:
        return QualifyLeadPayload(
            lead=None, opportunity=None, contact=None, account=None, user_errors=user_errors(errors)
        )

    values, errors = clean_fields(
        {"opportunity_name": input.opportunity_name}, {"opportunity_name": Text(200)}
    )
    if input.estimated_value is not None and input.estimated_value < 0:
        errors.append(
            DomainError(
                ErrorCode.INVALID, "estimatedValue must not be negative.", ["estimatedValue"]
            )
        )
    if errors:
        return failed(errors)
    try:
        async with in_transaction() as conn:
            lead = await fetch_in_workspace(
                LeadRow, input.lead_id, workspace_id, "leadId", lock=True
            )
            target = transition(Action.QUALIFY, LeadStatus(lead.status))
            if lead.contact_id is None:  # type: ignore[attr-defined]
                contact = await _contact_for(conn, lead, workspace_id)
                account = await _account_for(conn, lead, workspace_id)
                if contact is not None and account is not None and contact.account_id is None:  # type: ignore[attr-defined]
                    contact.account_id = account.id  # type: ignore[attr-defined]
                    await contact.save(using_db=conn)
                if account is None and contact is not None and contact.account_id is not None:  # type: ignore[attr-defined]
                    account = await AccountRow.get(id=contact.account_id).using_db(conn)  # type: ignore[attr-defined]
                lead.contact_id = contact.id if contact else None  # type: ignore[attr-defined]
                lead.account_id = account.id if account else None  # type: ignore[attr-defined]
            else:
                contact = await ContactRow.get(id=lead.contact_id).using_db(conn)  # type: ignore[attr-defined]
                account_id = lead.account_id or contact.account_id  # type: ignore[attr-defined]
                account = await AccountRow.get(id=account_id).using_db(conn) if account_id else None
            name = values["opportunity_name"] or (
                f"{lead.topic} – {account.name}"
                if account
                else f"{lead.topic} – {contact.last_name if contact else lead.id}"
            )
            await _move(conn, lead, target, None, _actor(info))
            opportunity = await OpportunityRow.filter(lead_id=lead.id).using_db(conn).first()
            if opportunity is None:
                opportunity = OpportunityRow(workspace_id=workspace_id, lead_id=lead.id)
            opportunity.update_from_dict(
                {
                    "name": name,
                    "estimated_value": input.estimated_value,
                    "contact_id": contact.id if contact else None,
                    "account_id": account.id if account else None,
                }
            )
            await opportunity.save(using_db=conn)
            await rescore(conn, Scope(workspace_id, [lead.id]), actor=_actor(info))
            await lead.refresh_from_db(using_db=conn)
    except DomainError as e:
        return failed([e])
    return QualifyLeadPayload(
        lead=Lead.from_row(model_row(lead)),
        opportunity=Opportunity.from_row(model_row(opportunity)),
        contact=Contact.from_row(model_row(contact)) if contact else None,
        account=Account.from_row(model_row(account)) if account else None,
        user_errors=[],
    )
