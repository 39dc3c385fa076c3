"""Lead lifecycle: every allowed transition, every refused one, stickiness, history,
qualification of contact and sales-only leads, closed leads are read-only."""

import pytest
from scoring_helpers import contact_with_leads, lead_state, only_model, record

from models import Account, Contact, Lead, LeadStatus, Opportunity

STATUS = "lead { id status } "
ACTIONS = {
    "accept": ("acceptLead", "LeadTransitionInput"),
    "back": ("sendLeadBackToMarketing", "LeadTransitionInput"),
    "disqualify": ("disqualifyLead", "DisqualifyLeadInput"),
    "qualify": ("qualifyLead", "QualifyLeadInput"),
    "reactivate": ("reactivateLead", "LeadTransitionInput"),
}
EXPECTED = {
    "accept": ({"NEW", "NURTURING", "SALES_READY"}, "SALES_ACCEPTED"),
    "back": ({"SALES_READY", "SALES_ACCEPTED"}, "NURTURING"),
    "disqualify": ({"NEW", "SALES_READY", "SALES_ACCEPTED", "NURTURING"}, "DISQUALIFIED"),
    "qualify": ({"NEW", "SALES_READY", "SALES_ACCEPTED", "NURTURING"}, "QUALIFIED"),
    "reactivate": ({"QUALIFIED", "DISQUALIFIED"}, "NEW"),
}


async def act(tenant, action, lead_id, **extra):
    name, input_type = ACTIONS[action]
    payload = {"leadId": lead_id, **extra}
    if action == "disqualify":
        payload.setdefault("reason", "LOST")
    query = f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ lead {{ id status }} userErrors {{ field message code }} }} }}"
    return (await tenant.gql(query, {"i": payload}))[name]


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("status", [s.value for s in LeadStatus])
async def test_transition_matrix(tenant, action, status):
    contact_id, (lead_id,) = await contact_with_leads(tenant, topics=["Solar"])
    await Lead.filter(workspace_id=tenant.workspace.id).update(status=status)
    result = await act(tenant, action, lead_id)
    sources, target = EXPECTED[action]
    if status in sources:
        assert result["userErrors"] == []
        assert result["lead"]["status"] == target
        history = (await lead_state(tenant, lead_id))["history"]
        assert history[-1]["fromStatus"] == status and history[-1]["toStatus"] == target
        assert history[-1]["apiKeyName"] == "ADMIN"
    else:
        assert result["lead"] is None
        assert result["userErrors"][0]["code"] == "INVALID_TRANSITION"
        assert (await Lead.get(workspace_id=tenant.workspace.id)).status == status


async def test_sales_ready_is_sticky_and_nurturing_needs_an_increase(tenant):
    await only_model(
        tenant,
        threshold=10,
        rules=[
            {"interactionType": "FORM_SUBMITTED", "points": 10},
            {"interactionType": "EMAIL_BOUNCED", "points": -5},
            {"interactionType": "EMAIL_OPENED", "points": 1},
        ],
    )
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    first = await record(tenant, contactId=contact_id, type="FORM_SUBMITTED")
    assert first["scoreChanges"][0]["becameSalesReady"] is True
    drop = await record(tenant, contactId=contact_id, type="EMAIL_BOUNCED")
    assert drop["scoreChanges"][0]["salesReady"] is False
    assert (await lead_state(tenant, lead))["status"] == "SALES_READY"  # sticky

    await record(tenant, contactId=contact_id, type="FORM_SUBMITTED")  # 15: ready again
    back = await act(tenant, "back", lead, reason="Not yet")
    assert back["lead"]["status"] == "NURTURING"
    assert (await lead_state(tenant, lead))["history"][-1]["reason"] == "Not yet"
    # a decrease that stays ready does not promote; an increase that stays ready does
    down = await record(tenant, contactId=contact_id, type="EMAIL_BOUNCED")
    assert down["scoreChanges"][0]["becameSalesReady"] is False
    assert (await lead_state(tenant, lead))["status"] == "NURTURING"
    up = await record(tenant, contactId=contact_id, type="EMAIL_OPENED")
    assert up["scoreChanges"][0]["becameSalesReady"] is True
    assert (await lead_state(tenant, lead))["status"] == "SALES_READY"


async def test_closed_leads_are_read_only_but_keep_scoring(tenant):
    await only_model(tenant)
    contact_id, (lead,) = await contact_with_leads(tenant, topics=["Solar"])
    await act(tenant, "disqualify", lead, reason="CANNOT_CONTACT")
    assert (await lead_state(tenant, lead))["history"][-1]["reason"] == "CANNOT_CONTACT"
    refused = await tenant.mutate("updateLead", {"id": lead, "topic": "Wind"}, STATUS)
    assert refused["userErrors"][0]["code"] == "INVALID_TRANSITION"
    scored = await record(tenant, contactId=contact_id, type="FORM_SUBMITTED")
    assert scored["scoreChanges"][0]["score"] == 10
    assert (await lead_state(tenant, lead))["status"] == "DISQUALIFIED"
    await act(tenant, "reactivate", lead)
    allowed = await tenant.mutate("updateLead", {"id": lead, "topic": "Wind"}, STATUS)
    assert allowed["userErrors"] == []


QUALIFY = """mutation($i: QualifyLeadInput!) { qualifyLead(input: $i) {
  lead { status contact { email } account { name } opportunity { name estimatedValue } }
  opportunity { name estimatedValue contact { lastName } account { name } lead { topic } }
  contact { firstName lastName email account { name } } account { name }
  userErrors { field message code } } }"""


async def test_qualify_contact_lead_creates_opportunity(tenant):
    account = await tenant.mutate("createAccount", {"name": "Contoso"}, "account { id }")
    contact = await tenant.mutate(
        "createContact", {"lastName": "Ng", "accountId": account["account"]["id"]}, "contact { id }"
    )
    lead = await tenant.mutate(
        "createLead", {"topic": "Solar", "contactId": contact["contact"]["id"]}, "lead { id }"
    )
    result = (
        await tenant.gql(QUALIFY, {"i": {"leadId": lead["lead"]["id"], "estimatedValue": 5000}})
    )["qualifyLead"]
    assert result["userErrors"] == []
    assert result["lead"]["status"] == "QUALIFIED"
    assert result["opportunity"] == {
        "name": "Solar – Contoso",
        "estimatedValue": 5000.0,
        "contact": {"lastName": "Ng"},
        "account": {"name": "Contoso"},
        "lead": {"topic": "Solar"},
    }
    assert result["lead"]["opportunity"]["name"] == "Solar – Contoso"


async def test_qualify_sales_only_lead_creates_contact_and_account(tenant):
    lead = await tenant.mutate(
        "createLead",
        {
            "topic": "Wind",
            "firstName": "Ida",
            "lastName": "Berg",
            "email": "ida@fjord.no",
            "companyName": "Fjord AS",
        },
        "lead { id }",
    )
    result = (
        await tenant.gql(
            QUALIFY, {"i": {"leadId": lead["lead"]["id"], "opportunityName": "Fjord wind"}}
        )
    )["qualifyLead"]
    assert result["userErrors"] == []
    assert result["contact"] == {
        "firstName": "Ida",
        "lastName": "Berg",
        "email": "ida@fjord.no",
        "account": {"name": "Fjord AS"},
    }
    assert result["account"] == {"name": "Fjord AS"}
    assert result["lead"]["contact"] == {"email": "ida@fjord.no"}
    assert result["opportunity"]["name"] == "Fjord wind"
    assert await Contact.filter(workspace_id=tenant.workspace.id).count() == 1
    assert await Account.filter(workspace_id=tenant.workspace.id).count() == 1


async def test_qualify_sales_only_lead_links_existing_records(tenant):
    account = await tenant.mutate(
        "createAccount", {"name": "Fjord AS", "city": "Oslo"}, "account { id }"
    )
    await tenant.mutate(
        "createContact", {"lastName": "Berg", "email": "IDA@fjord.no"}, "contact { id }"
    )
    lead = await tenant.mutate(
        "createLead",
        {
            "topic": "Wind",
            "firstName": "Ida",
            "lastName": "Berg",
            "email": "ida@fjord.no",
            "companyName": "fjord as",
        },
        "lead { id }",
    )
    result = (await tenant.gql(QUALIFY, {"i": {"leadId": lead["lead"]["id"]}}))["qualifyLead"]
    assert result["userErrors"] == []
    # matched by email ignoring case; only the empty firstName was filled in
    assert result["contact"] == {
        "firstName": "Ida",
        "lastName": "Berg",
        "email": "IDA@fjord.no",
        "account": {"name": "Fjord AS"},
    }
    assert result["account"] == {"name": "Fjord AS"}
    assert await Contact.filter(workspace_id=tenant.workspace.id).count() == 1
    assert await Account.filter(workspace_id=tenant.workspace.id).count() == 1
    assert account["account"]["id"]


async def test_qualify_validation_and_nothing_written(tenant):
    lead = await tenant.mutate("createLead", {"topic": "Wind", "lastName": "X"}, "lead { id }")
    result = (
        await tenant.gql(QUALIFY, {"i": {"leadId": lead["lead"]["id"], "estimatedValue": -1}})
    )["qualifyLead"]
    assert result["userErrors"][0]["field"] == ["estimatedValue"]
    assert await Opportunity.all().count() == 0
    assert (await Lead.get(workspace_id=tenant.workspace.id)).status == LeadStatus.NEW
