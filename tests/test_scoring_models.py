"""Scoring models: creation and changes re-score every lead, primary and active rules, validation,
the default model, the dry-run preview, and `leadgraph rescore`."""

from scoring_helpers import MODEL, contact_with_leads, lead_state, make_model, only_model, record

from models.periodic import rescore_all


async def test_new_workspace_has_a_primary_default_model(tenant):
    data = await tenant.gql(
        "{ scoringModels { name primary active salesReadyThreshold grades { label } } }"
    )
    assert data["scoringModels"] == [
        {
            "name": "Engagement",
            "primary": True,
            "active": True,
            "salesReadyThreshold": 30,
            "grades": [{"label": "A"}, {"label": "B"}, {"label": "C"}, {"label": "D"}],
        }
    ]


async def test_creating_and_changing_a_model_rescores_every_lead(tenant):
    contact_id, (solar, wind) = await contact_with_leads(tenant)
    await record(tenant, contactId=contact_id, type="FORM_SUBMITTED")
    await record(tenant, leadId=solar, type="MEETING")
    model = await only_model(tenant, threshold=50)
    assert model["primary"] is True
    assert (await lead_state(tenant, solar))["score"] == 10
    assert (await lead_state(tenant, wind))["score"] == 10

    rules = [
        {"interactionType": "FORM_SUBMITTED", "points": 7},
        {"interactionType": "MEETING", "points": 50},
    ]
    updated = await tenant.mutate("updateScoringModel", {"id": model["id"], "rules": rules}, MODEL)
    assert updated["userErrors"] == []
    solar_state = await lead_state(tenant, solar)
    assert (solar_state["score"], solar_state["salesReady"], solar_state["status"]) == (
        57,
        True,
        "SALES_READY",
    )
    assert (await lead_state(tenant, wind))["score"] == 7

    lowered = await tenant.mutate(
        "updateScoringModel", {"id": model["id"], "salesReadyThreshold": 5}, MODEL
    )
    assert lowered["userErrors"] == []
    assert (await lead_state(tenant, wind))["status"] == "SALES_READY"  # a re-score raised it


async def test_deactivating_removes_from_scores_and_primary_moves(tenant):
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    await record(tenant, contactId=contact_id, type="FORM_SUBMITTED")
    other = await make_model(tenant, name="Other", primary=False)
    assert {s["model"]["name"] for s in (await lead_state(tenant, lead))["scores"]} == {
        "Engagement",
        "Other",
    }
    default_id = (await tenant.gql("{ scoringModels { id name } }"))["scoringModels"][0]["id"]

    refused = await tenant.mutate("updateScoringModel", {"id": default_id, "active": False}, MODEL)
    assert refused["userErrors"][0]["code"] == "INVALID"  # the primary must stay active
    made_primary = await tenant.mutate(
        "updateScoringModel", {"id": other["id"], "primary": True}, MODEL
    )
    assert made_primary["scoringModel"]["primary"] is True
    models = {
        m["name"]: m["primary"]
        for m in (await tenant.gql("{ scoringModels { name primary } }"))["scoringModels"]
    }
    assert models == {"Engagement": False, "Other": True}
    off = await tenant.mutate("updateScoringModel", {"id": default_id, "active": False}, MODEL)
    assert off["userErrors"] == []
    state = await lead_state(tenant, lead)
    assert [s["model"]["name"] for s in state["scores"]] == ["Other"]
    assert state["score"] == 10


async def test_model_validation_errors(tenant):
    result = await tenant.mutate(
        "createScoringModel",
        {
            "name": "",
            "salesReadyThreshold": 1,
            "rules": [
                {"interactionType": "MEETING", "points": 1, "frequency": "AT_LEAST", "minCount": 0},
                {"interactionType": "MEETING", "points": 1, "withinDays": 0},
            ],
            "grades": [{"label": "A", "minScore": 1}, {"label": "A", "minScore": 2}],
        },
        MODEL,
    )
    fields = sorted(tuple(e["field"]) for e in result["userErrors"])
    assert fields == [
        ("grades", "1"),
        ("name",),
        ("rules", "0", "minCount"),
        ("rules", "1", "withinDays"),
    ]
    assert result["scoringModel"] is None
    assert len((await tenant.gql("{ scoringModels { id } }"))["scoringModels"]) == 1


PREVIEW = """query($input: CreateScoringModelInput!) { previewScoringModel(input: $input) {
  leadsScored becomeSalesReady gradeCounts { grade count }
  changes(first: 1) { totalCount pageInfo { hasNextPage endCursor } edges { node { lead { topic } currentScore score currentGrade grade currentSalesReady salesReady } } } } }"""


async def test_preview_writes_nothing(tenant):
    await only_model(tenant)  # current primary: FORM_SUBMITTED is worth 10
    contact_id, (solar, wind) = await contact_with_leads(tenant)
    await tenant.mutate("createLead", {"topic": "Quiet", "lastName": "Q"}, "lead { id }")
    await record(tenant, contactId=contact_id, type="FORM_SUBMITTED")
    candidate = {
        "name": "Candidate",
        "salesReadyThreshold": 10,
        "rules": [{"interactionType": "FORM_SUBMITTED", "points": 12}],
        "grades": [{"label": "top", "minScore": 12}],
    }
    preview = (await tenant.gql(PREVIEW, {"input": candidate}))["previewScoringModel"]
    assert preview["leadsScored"] == 3
    assert preview["becomeSalesReady"] == 2
    assert sorted((g["grade"] or "", g["count"]) for g in preview["gradeCounts"]) == [
        ("", 1),
        ("top", 2),
    ]
    changes = preview["changes"]
    assert changes["totalCount"] == 2  # the quiet lead's score (0, no grade) would not move
    node = changes["edges"][0]["node"]
    assert (node["currentScore"], node["score"], node["grade"], node["salesReady"]) == (
        10,
        12,
        "top",
        True,
    )
    assert changes["pageInfo"]["hasNextPage"] is True
    data = await tenant.gql("{ scoringModels { name } }")
    assert [m["name"] for m in data["scoringModels"]] == ["Engagement", "Test"]
    assert (await lead_state(tenant, solar))["score"] == 10


async def test_rescore_applies_time_windows(tenant):
    from datetime import UTC, datetime, timedelta

    from models import Interaction

    await only_model(
        tenant, rules=[{"interactionType": "PAGE_VISITED", "points": 4, "withinDays": 1}]
    )
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    await record(tenant, contactId=contact_id, type="PAGE_VISITED")
    assert (await lead_state(tenant, lead))["score"] == 4
    # the interaction ages past the window
    await Interaction.all().update(occurred_at=datetime.now(UTC) - timedelta(days=2))
    assert (await lead_state(tenant, lead))["score"] == 4  # stored until re-scored
    done = await rescore_all(tenant.workspace.slug)
    assert done == {tenant.workspace.slug: True}
    assert (await lead_state(tenant, lead))["score"] == 0
