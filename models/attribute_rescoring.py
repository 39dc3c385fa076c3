"""Re-scoring after a contact, account or lead changes: only the models whose attribute rules
or entry criteria read those fields, only the leads whose filters can see the change.

Callers lock the affected leads (in id order) BEFORE they lock and change the contact or
account row: recordInteraction holds a lead lock while its insert takes a key-share lock on the
contact, so taking the contact first and the leads second could deadlock with it."""

from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from models.rescoring import Scope, active_models, rescore
from models.scoring import Rule
from models.scoring_model import ScoringModel
from models.sql import Sql, disjunction, is_postgres


def reads_attributes(model: ScoringModel) -> bool:
    """The model's scores depend on lead, contact or account fields."""
    return bool(model.applies_to) or any(Rule.from_json(r).is_attribute for r in model.rules)


@dataclass
class AttributeChange:
    """The models to re-score and the locked leads to re-score under them."""

    workspace_id: int
    models: list[ScoringModel]
    lead_ids: list[int]

    async def rescore(
        self, conn: BaseDBAsyncClient, *, actor: str | None = None, now: datetime | None = None
    ) -> None:
        if self.models and self.lead_ids:
            await rescore(
                conn,
                Scope(self.workspace_id, self.lead_ids),
                models=self.models,
                actor=actor,
                now=now,
            )


async def lock_affected_leads(
    conn: BaseDBAsyncClient,
    workspace_id: int,
    *,
    contact_ids: list[int] = (),  # type: ignore[assignment]
    account_ids: list[int] = (),  # type: ignore[assignment]
    lead_ids: list[int] = (),  # type: ignore[assignment]
    always: bool = False,
) -> AttributeChange:
    """Lock, in id order, every lead whose filters can see a change of these records: the
    leads themselves, the contacts' leads and the leads of their accounts, the accounts' leads,
    their contacts' leads and the leads of their child accounts (`parentAccount` filters).

    Deeper paths (a parent's parent, `leads.some` of a sibling lead) catch up at the periodic
    re-score. Nothing is locked when no active model reads attributes, unless `always` (a
    merge moves those leads whatever the models)."""
    models = [m for m in await active_models(workspace_id, conn) if reads_attributes(m)]
    contact_ids = [i for i in contact_ids if i is not None]
    account_ids = [i for i in account_ids if i is not None]
    lead_ids = [i for i in lead_ids if i is not None]
    if not (models or always) or not (contact_ids or account_ids or lead_ids):
        return AttributeChange(workspace_id, models, [])
    q = Sql(is_postgres(conn))
    ws = q.param(workspace_id)
    which = []
    if lead_ids:
        which.append(q.in_list("l.id", lead_ids))
    if contact_ids:
        contacts = q.in_list("c.id", contact_ids)
        which.append(q.in_list("l.contact_id", contact_ids))
        which.append(
            f"l.account_id IN (SELECT c.account_id FROM contact c WHERE c.workspace_id = {ws} "
            f"AND {contacts})"
        )
    if account_ids:
        itself = q.in_list("a.id", account_ids)
        children = q.in_list("a.parent_account_id", account_ids)
        accounts = (
            f"(SELECT a.id FROM account a WHERE a.workspace_id = {ws} AND ({itself} OR {children}))"
        )
        which.append(f"l.account_id IN {accounts}")
        which.append(
            f"l.contact_id IN (SELECT c.id FROM contact c WHERE c.workspace_id = {ws} "
            f"AND c.account_id IN {accounts})"
        )
    lock = " FOR UPDATE" if q.postgres else ""
    rows = await conn.execute_query_dict(
        f"SELECT l.id FROM lead l WHERE l.workspace_id = {ws} AND {disjunction(which)} "
        f"ORDER BY l.id{lock}",
        q.params,
    )
    return AttributeChange(workspace_id, models, [row["id"] for row in rows])
