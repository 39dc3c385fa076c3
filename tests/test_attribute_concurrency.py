"""Attribute re-scoring under concurrency, on PostgreSQL through a real uvicorn: contact and
account updates racing recordInteraction on the same leads neither deadlock nor leave a
stale score."""

import asyncio
import os

import httpx
import pytest
from scoring_helpers import contact_with_leads, lead_state, only_model
from test_concurrency import RECORD, server  # noqa: F401  (the real uvicorn fixture)

from models import Account, Contact, Role

pytestmark = pytest.mark.skipif(
    not os.environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="SQLite runs one writer at a time; concurrency is proven on PostgreSQL",
)

UPDATE_CONTACT = """mutation($i: UpdateContactInput!) { updateContact(input: $i) {
  contact { id } userErrors { code } } }"""
UPDATE_ACCOUNT = """mutation($i: UpdateAccountInput!) { updateAccount(input: $i) {
  account { id } userErrors { code } } }"""


async def test_attribute_changes_racing_interactions_stay_exact(tenant, server):  # noqa: F811
    """120 interactions, 30 job-title and 20 company-size changes at once: every request
    succeeds, and each lead ends with exactly the score its final attributes and its 120
    interactions give."""
    url, _ = server
    await only_model(
        tenant,
        threshold=100_000,
        grades=[],
        rules=[
            {"interactionType": "EMAIL_OPENED", "points": 1},
            {"leadMatches": {"contact": {"jobTitle": {"eq": "CTO"}}}, "points": 100},
            {"leadMatches": {"account": {"numberOfEmployees": {"gte": 500}}}, "points": 1000},
        ],
    )
    account = await tenant.mutate("createAccount", {"name": "Acme"}, "account { id }")
    account_id = account["account"]["id"]
    contact_id, leads = await contact_with_leads(tenant, topics=["A", "B"])
    await tenant.mutate(
        "updateContact", {"id": contact_id, "accountId": account_id}, "contact { id }"
    )
    requests = [
        (RECORD, {"contactId": contact_id, "type": "EMAIL_OPENED"}, Role.MARKETING)
        for _ in range(120)
    ]
    requests += [
        (UPDATE_CONTACT, {"id": contact_id, "jobTitle": "CTO" if i % 2 else "CEO"}, Role.SALES)
        for i in range(30)
    ]
    requests += [
        (UPDATE_ACCOUNT, {"id": account_id, "numberOfEmployees": 100 + 300 * (i % 3)}, Role.SALES)
        for i in range(20)
    ]
    requests = requests[::2] + requests[1::2]  # interleave the kinds
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    "/graphql",
                    json={"query": query, "variables": {"i": variables}},
                    headers={"Authorization": f"Bearer {tenant.keys[role]}"},
                )
                for query, variables, role in requests
            )
        )
    for response in responses:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body.get("errors") is None, body
        (payload,) = body["data"].values()
        assert payload["userErrors"] == [], payload

    contact = await Contact.get(workspace_id=tenant.workspace.id)
    company = await Account.get(workspace_id=tenant.workspace.id)
    expected = (
        120
        + (100 if contact.job_title == "CTO" else 0)
        + (1000 if (company.number_of_employees or 0) >= 500 else 0)
    )
    for lead_id in leads:
        assert (await lead_state(tenant, lead_id))["score"] == expected
