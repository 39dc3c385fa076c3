"""The role matrix, cell by cell: every mutation and admin-only query for every role.
A refused call is FORBIDDEN with no data; an allowed one reaches its resolver."""

import pytest

from models import Account, Role

R, S, M, A, C = Role.READ_ONLY, Role.SALES, Role.MARKETING, Role.ADMIN, Role.CAPTURE
EDIT, MARKET, ADMIN, CAPTURE = {S, M, A}, {M, A}, {A}, {C, M, A}
FAKE = {"id": "QWNjb3VudDo5OTk5"}  # Account:9999, in no workspace
LEAD = {"leadId": "TGVhZDo5OTk5"}

MUTATIONS = {
    "createAccount": ("CreateAccountInput", {"name": "x"}, EDIT),
    "updateAccount": ("UpdateAccountInput", {**FAKE, "name": "x"}, EDIT),
    "deleteAccount": ("DeleteInput", FAKE, ADMIN),
    "createContact": ("CreateContactInput", {"lastName": "x"}, EDIT),
    "updateContact": ("UpdateContactInput", FAKE, EDIT),
    "deleteContact": ("DeleteInput", FAKE, ADMIN),
    "createLead": ("CreateLeadInput", {"topic": "x", "lastName": "y"}, EDIT),
    "updateLead": ("UpdateLeadInput", FAKE, EDIT),
    "deleteLead": ("DeleteInput", FAKE, ADMIN),
    "acceptLead": ("LeadTransitionInput", LEAD, EDIT),
    "sendLeadBackToMarketing": ("LeadTransitionInput", LEAD, EDIT),
    "disqualifyLead": ("DisqualifyLeadInput", {**LEAD, "reason": "LOST"}, EDIT),
    "qualifyLead": ("QualifyLeadInput", LEAD, EDIT),
    "reactivateLead": ("LeadTransitionInput", LEAD, EDIT),
    "recordInteraction": ("RecordInteractionInput", {**LEAD, "type": "MEETING"}, MARKET),
    "recordInteractions": ("RecordInteractionsInput", {"interactions": []}, MARKET),
    "deleteInteraction": ("DeleteInput", FAKE, ADMIN),
    "createScoringModel": (
        "CreateScoringModelInput",
        {"name": "", "salesReadyThreshold": 1, "rules": []},
        MARKET,
    ),
    "updateScoringModel": ("UpdateScoringModelInput", FAKE, MARKET),
    "createApiKey": ("CreateApiKeyInput", {"name": "", "role": "ADMIN"}, ADMIN),
    "revokeApiKey": ("DeleteInput", FAKE, ADMIN),
    "trackVisit": ("TrackVisitInput", {"visitorId": "v", "url": "x"}, CAPTURE),
    "submitForm": ("SubmitFormInput", {"email": "x", "topic": "t"}, CAPTURE),
    "mergeContacts": (
        "MergeInput",
        {"survivorId": "Q29udGFjdDo5OTk5", "mergedIds": ["Q29udGFjdDo5OTk4"]},
        EDIT,
    ),
    "mergeAccounts": (
        "MergeInput",
        {"survivorId": FAKE["id"], "mergedIds": ["QWNjb3VudDo5OTk4"]},
        EDIT,
    ),
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_mutation_cell(tenant, mutation, role):
    input_type, payload, allowed = MUTATIONS[mutation]
    query = f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ __typename }} }}"
    body = (await tenant.post(query, {"i": payload}, role=role)).json()
    if role in allowed:
        assert body.get("errors") is None, body
        assert body["data"][mutation]["__typename"]
    else:
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # inputs that would create something only may do so when allowed
    created = await Account.filter(workspace_id=tenant.workspace.id).count()
    assert created == (1 if mutation == "createAccount" and role in allowed else 0)


@pytest.mark.parametrize("role", list(Role))
async def test_admin_only_query_cell(tenant, role):
    body = (await tenant.post("{ apiKeys { name } }", role=role)).json()
    if role is A:
        assert len(body["data"]["apiKeys"]) == len(Role)
    else:
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("role", sorted(set(Role) - {C}))
async def test_every_role_but_capture_reads(tenant, role):
    query = "{ accounts { totalCount } contacts { totalCount } leads { totalCount } scoringModels { name } }"
    body = (await tenant.post(query, role=role)).json()
    assert body.get("errors") is None and body["data"]["scoringModels"][0]["name"] == "Engagement"
