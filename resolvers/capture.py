"""trackVisit and submitForm: the publishable capture calls of landing pages.

Both answer only `accepted` or user errors about the input, never what the workspace already
knew (whether the email belonged to a contact, whether a lead existed)."""

import logging
from datetime import UTC, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from api import metrics
from api.context import Info
from api.inputs.capture import SubmitFormInput, TrackVisitInput
from api.types.capture import CapturePayload
from models import Account as AccountRow
from models import Contact as ContactRow
from models import Interaction as InteractionRow
from models import InteractionType, LeadStatus
from models import Lead as LeadRow
from models.capture import AnonymousVisit, stitch, upsert_visitor, visit_metadata
from models.errors import DomainError, DomainErrors, ErrorCode
from models.rescoring import Scope, lock_leads, rescore
from models.sql import Sql, is_postgres
from models.validation import camel, normalize_email
from resolvers.capture_input import Form, validate_form, validate_visit
from resolvers.mutations import user_errors

logger = logging.getLogger("leadgraph.capture")
IDEMPOTENCY_PREFIX = "submitForm:"  # keeps form keys apart from recordInteraction's
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CLOSED = (LeadStatus.QUALIFIED.value, LeadStatus.DISQUALIFIED.value)
# The standard form fields kept on the FORM_SUBMITTED interaction, as the visitor typed them.
TYPED = ("first_name", "last_name", "company_name", "job_title", "phone")
CONTACT_FIELDS = ("first_name", "last_name", "job_title", "phone")


def record_capture_call(call: str, outcome: str) -> None:
    """Every capture call ends here with `accepted` or `refused`: counted for /metrics."""
    logger.debug("capture %s %s", call, outcome)
    metrics.capture_call(call, outcome)


def _actor(info: Info) -> str | None:
    return info.context.principal.api_key_name if info.context.principal else None


def _refused(call: str, errors: list[DomainError]) -> CapturePayload:
    record_capture_call(call, "refused")
    return CapturePayload(accepted=False, user_errors=user_errors(errors))


def _accepted(call: str) -> CapturePayload:
    record_capture_call(call, "accepted")
    return CapturePayload(accepted=True, user_errors=[])


async def track_visit(info: Info, input: TrackVisitInput) -> CapturePayload:
    """A known visitor's visit is its contact's PAGE_VISITED interaction at once (re-scoring its
    leads); an unknown visitor's waits as an anonymous visit."""
    workspace_id = info.context.workspace_id
    settings = info.context.settings
    now = datetime.now(UTC)
    try:
        visit = validate_visit(input, now, settings.visit_retention_days)
    except DomainErrors as e:
        return _refused("trackVisit", e.errors)
    async with in_transaction() as conn:
        visitor_pk, contact_id = await upsert_visitor(conn, workspace_id, visit.visitor_id, now)
        if contact_id is None:
            await AnonymousVisit.create(
                using_db=conn,
                workspace_id=workspace_id,
                visitor_id=visitor_pk,
                occurred_at=visit.occurred_at,
                url=visit.url,
                referrer=visit.referrer,
                utm=visit.utm,
            )
        else:
            touched = await lock_leads(conn, workspace_id, contact_ids=[contact_id])
            await InteractionRow.create(
                using_db=conn,
                workspace_id=workspace_id,
                type=InteractionType.PAGE_VISITED,
                occurred_at=visit.occurred_at,
                contact_id=contact_id,
                metadata=visit_metadata(visit.url, visit.referrer, visit.utm, visit.visitor_id),
            )
            if touched:
                await rescore(conn, Scope(workspace_id, list(touched)), actor=_actor(info), now=now)
    return _accepted("trackVisit")


async def _account_id(conn: BaseDBAsyncClient, workspace_id: int, name: str | None) -> int | None:
    """The existing account named `name` ignoring case (the oldest if several); never created."""
    if name is None:
        return None
    account = (
        await AccountRow.filter(workspace_id=workspace_id, name__iexact=name)
        .using_db(conn)
        .order_by("id")
        .first()
    )
    return account.id if account else None


async def _contact(
    conn: BaseDBAsyncClient, workspace_id: int, form: Form, account_id: int | None, now: datetime
) -> ContactRow:
    """The contact with the form's email (ignoring case), locked; created when missing, else
    only its empty fields are filled. Concurrent forms with one new email make one contact: the
    insert waits on the unique (workspace, email) index and then finds the winner's row."""
    values = form.values
    email = values["email"]
    q = Sql(is_postgres(conn))
    row = {
        "workspace_id": workspace_id,
        "first_name": values["first_name"],
        "last_name": values["last_name"] or email.split("@")[0][:100],
        "email": email,
        "email_normalized": normalize_email(email),
        "phone": values["phone"],
        "job_title": values["job_title"],
        "account_id": account_id,
        "created_at": now,
        "updated_at": now,
    }
    inserted = await conn.execute_query_dict(
        f"INSERT INTO contact ({', '.join(row)}) "
        f"VALUES ({', '.join(q.param(v) for v in row.values())}) "
        "ON CONFLICT (workspace_id, email_normalized) DO NOTHING RETURNING id",
        q.params,
    )
    query = ContactRow.filter(workspace_id=workspace_id, email_normalized=row["email_normalized"])
    if not inserted:
        query = query.select_for_update()
    contact = await query.using_db(conn).get()
    if inserted:
        return contact
    changed = False
    for name in CONTACT_FIELDS:
        if not getattr(contact, name) and values[name]:
            setattr(contact, name, values[name])
            changed = True
    if contact.account_id is None and account_id is not None:  # type: ignore[attr-defined]
        contact.account_id = account_id  # type: ignore[attr-defined]
        changed = True
    if changed:
        await contact.save(using_db=conn)
    return contact


async def _lead(conn: BaseDBAsyncClient, workspace_id: int, form: Form, contact: ContactRow):
    """The contact's open lead with the form's topic (ignoring case), or a new one."""
    topic = form.values["topic"]
    lead = (
        await LeadRow.filter(workspace_id=workspace_id, contact_id=contact.id, topic__iexact=topic)
        .exclude(status__in=CLOSED)
        .using_db(conn)
        .order_by("id")
        .first()
    )
    if lead is not None:
        return lead
    return await LeadRow.create(
        using_db=conn,
        workspace_id=workspace_id,
        topic=topic,
        source=form.values["source"] or (form.utm or {}).get("source"),
        contact_id=contact.id,
        account_id=contact.account_id,  # type: ignore[attr-defined]
    )


def _form_metadata(form: Form) -> dict:
    typed = {camel(name): form.values[name] for name in TYPED if form.values[name] is not None}
    return {
        "url": form.url,
        "utm": form.utm,
        "fields": form.fields,
        "submitted": typed or None,
        "visitorId": form.values["visitor_id"],
    }


async def _submit(info: Info, form: Form) -> None:
    workspace_id = info.context.workspace_id
    settings = info.context.settings
    now = datetime.now(UTC)
    key = form.values["idempotency_key"]
    async with in_transaction() as conn:
        if key is not None:
            original = (
                await InteractionRow.filter(
                    workspace_id=workspace_id, idempotency_key=IDEMPOTENCY_PREFIX + key
                )
                .using_db(conn)
                .first()
            )
            if original is not None:
                if original.idempotency_fingerprint != form.fingerprint:
                    raise DomainError(
                        ErrorCode.CONFLICT,
                        "This idempotencyKey was already used for a different form.",
                        ["idempotencyKey"],
                    )
                return  # a replay: accepted, nothing changes
        # Lock order: visitor, contact, then leads (trackVisit takes visitor, then leads).
        visitor_pk = None
        if form.values["visitor_id"] is not None:
            visitor_pk, _ = await upsert_visitor(conn, workspace_id, form.values["visitor_id"], now)
        account_id = await _account_id(conn, workspace_id, form.values["company_name"])
        contact = await _contact(conn, workspace_id, form, account_id, now)
        lead = await _lead(conn, workspace_id, form, contact)
        await InteractionRow.create(
            using_db=conn,
            workspace_id=workspace_id,
            type=InteractionType.FORM_SUBMITTED,
            occurred_at=now,
            contact_id=contact.id,
            lead_id=lead.id,
            metadata=_form_metadata(form),
            idempotency_key=IDEMPOTENCY_PREFIX + key if key else None,
            idempotency_fingerprint=form.fingerprint if key else None,
        )
        if visitor_pk is not None:
            retention = settings.visit_retention_days
            await stitch(
                conn,
                workspace_id=workspace_id,
                visitor_pk=visitor_pk,
                external_id=form.values["visitor_id"],
                contact_id=contact.id,
                since=now - timedelta(days=retention) if retention > 0 else EPOCH,
            )
        touched = await lock_leads(conn, workspace_id, contact_ids=[contact.id])
        await rescore(conn, Scope(workspace_id, list(touched)), actor=_actor(info), now=now)


async def submit_form(info: Info, input: SubmitFormInput) -> CapturePayload:
    """Contact, lead, FORM_SUBMITTED interaction, stitched visits and one re-score, in one
    transaction."""
    referer = info.context.request.headers.get("referer") if info.context.request else None
    try:
        form = validate_form(input, referer)
        try:
            await _submit(info, form)
        except IntegrityError:
            # A concurrent request with the same idempotencyKey won the insert: a replay now.
            await _submit(info, form)
    except DomainErrors as e:
        return _refused("submitForm", e.errors)
    except DomainError as e:
        return _refused("submitForm", [e])
    return _accepted("submitForm")
