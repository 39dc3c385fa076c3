"""mergeContacts / mergeAccounts: every relation moves to the survivor, empty fields are
filled, merged records are deleted, scores are recomputed, lead history notes the merge; and
every refusal writes nothing."""

from scoring_helpers import lead_state, only_model

from models import Account, Contact, Interaction, LeadEvent, Opportunity

MERGE = """mutation($i: MergeInput!) { %s(input: $i) {
  survivor { id ... on Contact { firstName lastName email phone jobTitle account { name }
      leads { edges { node { id account { name } } } } }
    ... on Account { name industry numberOfEmployees annualRevenue parentAccount { name }
      primaryContact { lastName } contacts { edges { node { lastName } } }
      leads { edges { node { topic } } } childAccounts { edges { node { name } } } } }
  mergedIds userErrors { field message code } } }"""


async def _merge(tenant, name, survivor, merged, role=None):
    kwargs = {"role": role} if role else {}
    data = await tenant.gql(
        MERGE % name, {"i": {"survivorId": survivor, "mergedIds": merged}}, **kwargs
    )
    return data[name]


async def _create(tenant, mutation, input, field):
    result = await tenant.mutate(mutation, input, f"{field} {{ id }}")
    assert result["userErrors"] == [], result
    return result[field]["id"]


def _pk(gid: str) -> int:
    import base64

    return int(base64.b64decode(gid).decode().split(":")[1])


async def test_merge_contacts_moves_everything_and_rescores(tenant):
    """Leads, interactions, opportunities and primary-contact roles move; empty fields are
    filled in order; merged contacts are gone; scores count the moved interactions."""
    await only_model(
        tenant,
        rules=[
            {"interactionType": "EMAIL_OPENED", "points": 1},
            {"leadMatches": {"contact": {"jobTitle": {"eq": "CTO"}}}, "points": 10},
        ],
        threshold=1000,
        grades=[],
    )
    acme = await _create(tenant, "createAccount", {"name": "Acme"}, "account")
    survivor = await _create(tenant, "createContact", {"lastName": "Doe"}, "contact")
    first = await _create(
        tenant,
        "createContact",
        {"lastName": "Doe", "firstName": "Ann", "email": "ann@x.com", "phone": "555"},
        "contact",
    )
    second = await _create(
        tenant,
        "createContact",
        {"lastName": "D", "firstName": "Anne", "jobTitle": "CTO", "accountId": acme},
        "contact",
    )
    await tenant.mutate("updateAccount", {"id": acme, "primaryContactId": second}, "account { id }")
    own = await _create(tenant, "createLead", {"topic": "Own", "contactId": survivor}, "lead")
    moved = await _create(tenant, "createLead", {"topic": "Moved", "contactId": first}, "lead")
    won = await _create(tenant, "createLead", {"topic": "Won", "contactId": second}, "lead")
    await tenant.gql(
        "mutation($i: QualifyLeadInput!) { qualifyLead(input: $i) { userErrors { code } } }",
        {"i": {"leadId": won}},
    )
    for contact in (first, first, second):  # contact-level: count for every lead of the contact
        await tenant.mutate(
            "recordInteraction",
            {"contactId": contact, "type": "EMAIL_OPENED"},
            "interaction { id }",
        )
    await tenant.mutate(
        "recordInteraction", {"leadId": moved, "type": "EMAIL_OPENED"}, "interaction { id }"
    )
    assert (await lead_state(tenant, own))["score"] == 0
    assert (await lead_state(tenant, moved))["score"] == 3

    result = await _merge(tenant, "mergeContacts", survivor, [first, second])
    assert result["userErrors"] == []
    assert result["mergedIds"] == [first, second]
    got = result["survivor"]
    assert {k: got[k] for k in ("firstName", "lastName", "email", "phone", "jobTitle")} == {
        "firstName": "Ann",
        "lastName": "Doe",
        "email": "ann@x.com",
        "phone": "555",
        "jobTitle": "CTO",
    }
    assert got["account"] == {"name": "Acme"}
    leads = {e["node"]["id"]: e["node"]["account"] for e in got["leads"]["edges"]}
    assert leads == {own: {"name": "Acme"}, moved: {"name": "Acme"}, won: {"name": "Acme"}}

    survivor_pk = _pk(survivor)
    assert await Contact.filter(id__in=[_pk(first), _pk(second)]).count() == 0
    assert await Interaction.filter(contact_id=survivor_pk).count() == 4
    assert (await Opportunity.get(lead_id=_pk(won))).contact_id == survivor_pk  # type: ignore[attr-defined]
    assert (await Account.get(id=_pk(acme))).primary_contact_id == survivor_pk  # type: ignore[attr-defined]
    # own: 3 contact-level opens + CTO (10); moved: the same + its own lead-level open
    assert (await lead_state(tenant, own))["score"] == 13
    state = await lead_state(tenant, moved)
    assert state["score"] == 14
    assert (
        state["history"][-1]["reason"]
        == f"Contact {first}, {second} merged into Contact {survivor}"
    )
    assert await LeadEvent.filter(lead_id=_pk(own)).count() == 0  # it did not move


async def test_merge_accounts_moves_everything_and_rescores(tenant):
    """Contacts, leads, child accounts and opportunities move; empty fields are filled (a
    parent that is being merged is skipped); attribute scores follow the filled fields."""
    await only_model(
        tenant,
        rules=[{"leadMatches": {"account": {"numberOfEmployees": {"gte": 500}}}, "points": 15}],
        threshold=1000,
        grades=[],
    )
    holding = await _create(tenant, "createAccount", {"name": "Holding"}, "account")
    survivor = await _create(tenant, "createAccount", {"name": "Acme"}, "account")
    merged = await _create(
        tenant,
        "createAccount",
        {
            "name": "ACME Inc",
            "industry": "Energy",
            "numberOfEmployees": 900,
            "annualRevenue": 5e7,
            "parentAccountId": holding,
        },
        "account",
    )
    child = await _create(
        tenant, "createAccount", {"name": "Acme East", "parentAccountId": merged}, "account"
    )
    person = await _create(
        tenant, "createContact", {"lastName": "Ng", "accountId": merged}, "contact"
    )
    await tenant.mutate(
        "updateAccount", {"id": merged, "primaryContactId": person}, "account { id }"
    )
    lead = await _create(tenant, "createLead", {"topic": "Solar", "contactId": person}, "lead")
    own = await _create(
        tenant, "createLead", {"topic": "Own", "lastName": "X", "accountId": survivor}, "lead"
    )
    assert (await lead_state(tenant, lead))["score"] == 15
    assert (await lead_state(tenant, own))["score"] == 0

    result = await _merge(tenant, "mergeAccounts", survivor, [merged])
    assert result["userErrors"] == [] and result["mergedIds"] == [merged]
    got = result["survivor"]
    assert got["name"] == "Acme" and got["industry"] == "Energy"
    assert got["numberOfEmployees"] == 900 and got["annualRevenue"] == 5e7
    assert got["parentAccount"] == {"name": "Holding"}
    assert got["primaryContact"] == {"lastName": "Ng"}
    assert got["contacts"]["edges"] == [{"node": {"lastName": "Ng"}}]
    assert sorted(e["node"]["topic"] for e in got["leads"]["edges"]) == ["Own", "Solar"]
    assert got["childAccounts"]["edges"] == [{"node": {"name": "Acme East"}}]
    assert await Account.filter(id=_pk(merged)).count() == 0
    assert (await lead_state(tenant, own))["score"] == 15  # the survivor now has 900 people
    state = await lead_state(tenant, lead)
    assert state["score"] == 15
    assert state["history"][-1]["reason"] == f"Account {merged} merged into Account {survivor}"
    assert child


async def test_every_merge_refusal_writes_nothing(make_tenant):
    """Mixed types, foreign or unknown records, a survivor among the merged, a record listed
    twice, none or more than 10 merged records, and a hierarchy cycle: each is a user error and
    the records stay as they were."""
    tenant, other = await make_tenant("A"), await make_tenant("B")
    a = await _create(tenant, "createContact", {"lastName": "A"}, "contact")
    b = await _create(tenant, "createContact", {"lastName": "B"}, "contact")
    foreign = await _create(other, "createContact", {"lastName": "F"}, "contact")
    lead = await _create(tenant, "createLead", {"topic": "T", "contactId": b}, "lead")
    parent = await _create(tenant, "createAccount", {"name": "Parent"}, "account")
    child = await _create(
        tenant, "createAccount", {"name": "Child", "parentAccountId": parent}, "account"
    )
    grandchild = await _create(
        tenant, "createAccount", {"name": "Grandchild", "parentAccountId": child}, "account"
    )
    many = [
        await _create(tenant, "createContact", {"lastName": f"M{i}"}, "contact") for i in range(11)
    ]

    cases = [
        ("mergeContacts", a, [lead], [["mergedIds", "0"]], "INVALID"),
        ("mergeContacts", parent, [b], [["survivorId"]], "INVALID"),
        ("mergeAccounts", a, [b], [["survivorId"], ["mergedIds", "0"]], "INVALID"),
        ("mergeContacts", a, [foreign], [["mergedIds", "0"]], "NOT_FOUND"),
        ("mergeContacts", foreign, [a], [["survivorId"]], "NOT_FOUND"),
        ("mergeContacts", a, [b, a], [["mergedIds", "1"]], "INVALID"),
        ("mergeContacts", a, [b, b], [["mergedIds", "1"]], "INVALID"),
        ("mergeContacts", a, [], [["mergedIds"]], "INVALID"),
        ("mergeContacts", a, many, [["mergedIds"]], "INVALID"),
        ("mergeAccounts", grandchild, [parent], [["mergedIds"]], "INVALID"),  # cycle
        ("mergeAccounts", grandchild, [child], [["mergedIds"]], "INVALID"),  # self-parent
    ]
    for mutation, survivor, merged, fields, code in cases:
        result = await _merge(tenant, mutation, survivor, merged)
        assert result["survivor"] is None and result["mergedIds"] == [], (mutation, merged)
        assert [e["field"] for e in result["userErrors"]] == fields, (merged, result)
        assert {e["code"] for e in result["userErrors"]} == {code}, result
    assert await Contact.filter(workspace_id=tenant.workspace.id).count() == 13
    assert await Contact.filter(workspace_id=other.workspace.id).count() == 1
    parents = {
        a.name: a.parent_account_id for a in await Account.filter(workspace_id=tenant.workspace.id)
    }  # type: ignore[attr-defined]
    assert parents == {"Parent": None, "Child": _pk(parent), "Grandchild": _pk(child)}
    cycle = await _merge(tenant, "mergeAccounts", grandchild, [parent])
    assert "cycle" in cycle["userErrors"][0]["message"]


async def test_merge_without_edit_role_is_forbidden(tenant):
    """READ_ONLY keys may not merge (SALES and up may)."""
    from models import Role

    a = await _create(tenant, "createContact", {"lastName": "A"}, "contact")
    b = await _create(tenant, "createContact", {"lastName": "B"}, "contact")
    body = (
        await tenant.post(
            "mutation($i: MergeInput!) { mergeContacts(input: $i) { mergedIds } }",
            {"i": {"survivorId": a, "mergedIds": [b]}},
            role=Role.READ_ONLY,
        )
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    sales = await _merge(tenant, "mergeContacts", a, [b], role=Role.SALES)
    assert sales["mergedIds"] == [b]
