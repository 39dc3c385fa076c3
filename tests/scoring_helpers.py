"""Helpers for the scoring tests: a model made for the test, shorthand mutations, and a
session of the test's own holding a contact's lead locks."""

import asyncio
import contextlib

import asyncpg
from strawberry import relay

from models.recording import WRITE_QUEUE

MODEL = "scoringModel { id name primary active salesReadyThreshold rules { interactionType frequency minCount points maxPoints withinDays } grades { label minScore } }"
CHANGES = "scoreChanges { lead { id status score } model { name } previousScore score grade salesReady becameSalesReady }"


async def make_model(
    tenant, name="Test", threshold=20, rules=None, grades=None, primary=True, active=True
):
    rules = (
        rules
        if rules is not None
        else [
            {"interactionType": "EMAIL_OPENED", "points": 1, "maxPoints": 5},
            {"interactionType": "FORM_SUBMITTED", "points": 10},
            {"interactionType": "UNSUBSCRIBED", "points": -30, "frequency": "AT_LEAST"},
        ]
    )
    grades = (
        grades
        if grades is not None
        else [{"label": "hot", "minScore": 20}, {"label": "warm", "minScore": 5}]
    )
    result = await tenant.mutate(
        "createScoringModel",
        {
            "name": name,
            "salesReadyThreshold": threshold,
            "rules": rules,
            "grades": grades,
            "primary": primary,
            "active": active,
        },
        MODEL,
    )
    assert result["userErrors"] == [], result
    return result["scoringModel"]


async def only_model(tenant, **kwargs):
    """Make a test model the primary one and switch the default model off."""
    model = await make_model(tenant, **kwargs)
    data = await tenant.gql("{ scoringModels { id name } }")
    for m in data["scoringModels"]:
        if m["id"] != model["id"]:
            result = await tenant.mutate(
                "updateScoringModel", {"id": m["id"], "active": False}, "scoringModel { id }"
            )
            assert result["userErrors"] == [], result
    return model


async def contact_with_leads(tenant, topics=("Solar", "Wind"), email=None):
    contact = await tenant.mutate(
        "createContact", {"lastName": "Doe", "email": email}, "contact { id }"
    )
    contact_id = contact["contact"]["id"]
    leads = []
    for topic in topics:
        lead = await tenant.mutate(
            "createLead", {"topic": topic, "contactId": contact_id}, "lead { id }"
        )
        leads.append(lead["lead"]["id"])
    return contact_id, leads


async def record(tenant, **input):
    return await tenant.mutate(
        "recordInteraction",
        input,
        f"interaction {{ id type occurredAt lead {{ id }} contact {{ id }} }} {CHANGES}",
    )


async def lead_state(tenant, lead_id):
    data = await tenant.gql(
        """query($id: ID!) { node(id: $id) { ... on Lead { status score grade salesReady
            scores { model { name } score grade salesReady breakdown { rule { interactionType frequency } count points } }
            history { fromStatus toStatus reason apiKeyName } } } }""",
        {"id": lead_id},
    )
    return data["node"]


@contextlib.asynccontextmanager
async def holding_leads_of(settings, tenant, contact_id):
    """A connection of the test's own, in a transaction holding the contact's lead locks as
    recordInteraction takes them (`leadgraph_lock_leads`); closing it rolls back whatever the
    block left open."""
    holder = await asyncpg.connect(settings.database_url.replace("postgres://", "postgresql://"))
    try:
        await holder.execute("BEGIN")
        await holder.execute(
            "SELECT leadgraph_lock_leads($1, $2, NULL, $3)",
            WRITE_QUEUE,
            tenant.workspace.id,
            int(relay.GlobalID.from_id(contact_id).node_id),
        )
        yield holder
    finally:
        await holder.close()


async def blocked_session(holder) -> int:
    """The pid of the app's session once it waits for a lock (at most 5 s)."""
    for _ in range(500):
        pid = await holder.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock'"
        )
        if pid:
            return pid
        await asyncio.sleep(0.01)
    raise AssertionError("the statement never waited for the lock")
