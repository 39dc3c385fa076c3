"""recordInteraction(s) and deleteInteraction: what counts for which lead, the returned score
changes, validation, idempotent replays, all-or-nothing batches, deletion re-scoring."""

from datetime import UTC, datetime, timedelta

from scoring_helpers import CHANGES, contact_with_leads, lead_state, make_model, only_model, record

from models import Interaction, LeadScore


def by_lead(changes):
    return {c["lead"]["id"]: c for c in changes}


async def test_contact_level_interaction_scores_every_lead_of_the_contact(tenant):
    await only_model(tenant)
    contact_id, (solar, wind) = await contact_with_leads(tenant)
    result = await record(tenant, contactId=contact_id, type="FORM_SUBMITTED")
    assert result["userErrors"] == []
    assert result["interaction"]["lead"] is None
    changes = by_lead(result["scoreChanges"])
    assert set(changes) == {solar, wind}
    for change in changes.values():
        assert change["model"] == {"name": "Test"}
        assert (change["previousScore"], change["score"], change["grade"]) == (0, 10, "warm")
        assert change["lead"]["score"] == 10  # the answer already carries the stored score


async def test_lead_level_interaction_counts_for_that_lead_only(tenant):
    await only_model(tenant)
    contact_id, (solar, wind) = await contact_with_leads(tenant)
    result = await record(tenant, leadId=solar, type="FORM_SUBMITTED")
    assert result["interaction"]["contact"]["id"] == contact_id  # inferred from the lead
    assert [c["lead"]["id"] for c in result["scoreChanges"]] == [solar]
    assert (await lead_state(tenant, wind))["score"] == 0
    both = await record(tenant, contactId=contact_id, leadId=wind, type="EMAIL_OPENED")
    assert [c["lead"]["id"] for c in both["scoreChanges"]] == [wind]


async def test_sales_only_lead_is_scored_from_lead_level_interactions(tenant):
    await only_model(tenant)
    lead = await tenant.mutate("createLead", {"topic": "Solar", "email": "x@y.io"}, "lead { id }")
    result = await record(tenant, leadId=lead["lead"]["id"], type="EMAIL_OPENED")
    assert result["interaction"]["contact"] is None
    assert result["scoreChanges"][0]["score"] == 1


async def test_caps_windows_and_penalties(tenant):
    await only_model(
        tenant,
        rules=[
            {"interactionType": "EMAIL_OPENED", "points": 2, "maxPoints": 5},
            {"interactionType": "PAGE_VISITED", "points": 3, "withinDays": 7},
            {"interactionType": "EMAIL_BOUNCED", "points": -4, "maxPoints": 6},
            {"interactionType": "MEETING", "points": 15, "frequency": "AT_LEAST", "minCount": 2},
            {
                "interactionType": "EVENT_ATTENDED",
                "points": -7,
                "frequency": "NONE",
                "withinDays": 30,
            },
        ],
    )
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    assert (await lead_state(tenant, lead))["score"] == -7  # NONE applies from creation
    now = datetime.now(UTC)
    old = (now - timedelta(days=10)).isoformat()
    for _ in range(4):
        await record(tenant, contactId=contact_id, type="EMAIL_OPENED")
    await record(tenant, contactId=contact_id, type="PAGE_VISITED")
    await record(
        tenant, contactId=contact_id, type="PAGE_VISITED", occurredAt=old
    )  # outside window
    for _ in range(3):
        await record(tenant, contactId=contact_id, type="EMAIL_BOUNCED")
    await record(tenant, contactId=contact_id, type="MEETING")
    state = await lead_state(tenant, lead)
    assert state["score"] == 5 + 3 - 6 + 0 - 7
    await record(tenant, contactId=contact_id, type="MEETING")
    last = await record(tenant, contactId=contact_id, type="EVENT_ATTENDED", occurredAt=old)
    assert last["scoreChanges"][0]["previousScore"] == 5 + 3 - 6 + 15 - 7
    assert last["scoreChanges"][0]["score"] == 5 + 3 - 6 + 15
    breakdown = {
        (b["rule"]["interactionType"], b["count"], b["points"])
        for b in (await lead_state(tenant, lead))["scores"][0]["breakdown"]
    }
    assert breakdown == {
        ("EMAIL_OPENED", 4, 5),
        ("PAGE_VISITED", 1, 3),
        ("EMAIL_BOUNCED", 3, -6),
        ("MEETING", 2, 15),
    }


async def test_several_models_and_sales_ready_under_any(tenant):
    await only_model(tenant, name="Strict", threshold=100)
    await make_model(tenant, name="Easy", threshold=5, primary=False)
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    result = await record(tenant, contactId=contact_id, type="FORM_SUBMITTED")
    changes = {c["model"]["name"]: c for c in result["scoreChanges"]}
    assert set(changes) == {"Strict", "Easy"}
    assert changes["Easy"]["becameSalesReady"] is True
    assert changes["Strict"]["becameSalesReady"] is False
    state = await lead_state(tenant, lead)
    assert state["status"] == "SALES_READY"
    assert state["salesReady"] is True
    assert state["score"] == 10  # the primary (Strict) model's
    assert {s["model"]["name"]: s["salesReady"] for s in state["scores"]} == {
        "Strict": False,
        "Easy": True,
    }
    assert state["history"][-1]["toStatus"] == "SALES_READY"


async def test_invalid_input_is_refused_with_nothing_written(tenant, make_tenant):
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    other_contact, _ = await contact_with_leads(tenant, topics=[])
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    cases = [
        ({"type": "EMAIL_OPENED"}, ["contactId"], "INVALID"),
        (
            {"contactId": contact_id, "type": "EMAIL_OPENED", "occurredAt": future},
            ["occurredAt"],
            "INVALID",
        ),
        (
            {"contactId": other_contact, "leadId": lead, "type": "EMAIL_OPENED"},
            ["leadId"],
            "INVALID",
        ),
        ({"leadId": contact_id, "type": "EMAIL_OPENED"}, ["leadId"], "NOT_FOUND"),
    ]
    foreign = await make_tenant("Other")
    foreign_contact, _ = await contact_with_leads(foreign, topics=[])
    cases.append(
        ({"contactId": foreign_contact, "type": "EMAIL_OPENED"}, ["contactId"], "NOT_FOUND")
    )
    for payload, field, code in cases:
        result = await record(tenant, **payload)
        assert result["interaction"] is None
        assert (result["userErrors"][0]["field"], result["userErrors"][0]["code"]) == (field, code)
    assert await Interaction.filter(workspace_id=tenant.workspace.id).count() == 0


async def test_idempotent_replay_and_conflict(tenant):
    await only_model(tenant)
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    first = await record(tenant, contactId=contact_id, type="FORM_SUBMITTED", idempotencyKey="k-1")
    replay = await record(tenant, contactId=contact_id, type="FORM_SUBMITTED", idempotencyKey="k-1")
    assert replay["interaction"]["id"] == first["interaction"]["id"]
    change = replay["scoreChanges"][0]
    assert change["previousScore"] == change["score"] == 10
    assert await Interaction.filter(workspace_id=tenant.workspace.id).count() == 1
    conflict = await record(tenant, contactId=contact_id, type="EMAIL_OPENED", idempotencyKey="k-1")
    assert conflict["userErrors"][0]["code"] == "CONFLICT"
    assert conflict["userErrors"][0]["field"] == ["idempotencyKey"]
    assert (await lead_state(tenant, lead))["score"] == 10


BULK = f"""mutation($input: RecordInteractionsInput!) {{ recordInteractions(input: $input) {{
  interactions {{ id type }} {CHANGES} userErrors {{ field message code }} }} }}"""


async def test_bulk_is_all_or_nothing(tenant):
    await only_model(tenant)
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    items = [{"contactId": contact_id, "type": "EMAIL_OPENED"} for _ in range(3)]
    bad = [
        *items,
        {"contactId": contact_id, "type": "EMAIL_OPENED", "occurredAt": "2999-01-01T00:00:00Z"},
    ]
    result = (await tenant.gql(BULK, {"input": {"interactions": bad}}))["recordInteractions"]
    assert result["interactions"] == []
    assert result["userErrors"][0]["field"] == ["interactions", "3", "occurredAt"]
    assert await Interaction.filter(workspace_id=tenant.workspace.id).count() == 0

    items.append({"leadId": lead, "type": "FORM_SUBMITTED"})
    result = (await tenant.gql(BULK, {"input": {"interactions": items}}))["recordInteractions"]
    assert result["userErrors"] == []
    assert len(result["interactions"]) == 4
    change = result["scoreChanges"][0]
    assert (change["previousScore"], change["score"]) == (0, 13)


async def test_bulk_size_limit(tenant):
    contact_id, _ = await contact_with_leads(tenant, topics=["Solar"])
    at_bound = [{"contactId": contact_id, "type": "EMAIL_OPENED"}] * 1000
    accepted = (await tenant.gql(BULK, {"input": {"interactions": at_bound}}))["recordInteractions"]
    assert accepted["userErrors"] == [] and len(accepted["interactions"]) == 1000
    items = [{"contactId": contact_id, "type": "EMAIL_OPENED"}] * 1001
    result = (await tenant.gql(BULK, {"input": {"interactions": items}}))["recordInteractions"]
    assert result["userErrors"][0]["field"] == ["interactions"]
    assert "At most 1000" in result["userErrors"][0]["message"]
    assert await Interaction.filter(workspace_id=tenant.workspace.id).count() == 1000


async def test_delete_interaction_rescores(tenant):
    await only_model(tenant)
    contact_id, (solar, wind) = await contact_with_leads(tenant)
    first = await record(tenant, contactId=contact_id, type="FORM_SUBMITTED")
    await record(tenant, contactId=contact_id, type="EMAIL_OPENED")
    deleted = await tenant.mutate(
        "deleteInteraction", {"id": first["interaction"]["id"]}, f"interaction {{ id }} {CHANGES}"
    )
    assert deleted["userErrors"] == []
    changes = by_lead(deleted["scoreChanges"])
    assert {(c["previousScore"], c["score"]) for c in changes.values()} == {(11, 1)}
    assert (await lead_state(tenant, wind))["score"] == 1


async def test_scores_are_stored_not_recomputed_on_read(tenant, count_statements):
    await only_model(tenant)
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    await record(tenant, contactId=contact_id, type="FORM_SUBMITTED")
    assert await LeadScore.filter(lead_id__isnull=False).count() >= 1
    count_statements.statements.clear()
    state = await lead_state(tenant, lead)
    assert state["score"] == 10
    assert not any("from interaction" in s.lower() for s in count_statements.statements)
