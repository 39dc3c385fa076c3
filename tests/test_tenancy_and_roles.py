"""No caller sees or touches another workspace's rows; roles gate every mutation."""

import pytest

from models import Account, Role


@pytest.fixture
async def two_tenants(make_tenant):
    ours, theirs = await make_tenant("Ours"), await make_tenant("Theirs")
    ids = {}
    for name, t in (("ours", ours), ("theirs", theirs)):
        account = await t.mutate("createAccount", {"name": f"{name}-account"}, "account { id }")
        contact = await t.mutate(
            "createContact",
            {
                "lastName": f"{name}-contact",
                "email": "same@example.com",
                "accountId": account["account"]["id"],
            },
            "contact { id }",
        )
        lead = await t.mutate(
            "createLead",
            {"topic": f"{name}-lead", "contactId": contact["contact"]["id"]},
            "lead { id }",
        )
        ids[name] = {
            "account": account["account"]["id"],
            "contact": contact["contact"]["id"],
            "lead": lead["lead"]["id"],
        }
    return ours, theirs, ids


async def test_lists_only_show_own_rows(two_tenants):
    ours, _, _ = two_tenants
    data = await ours.gql(
        "{ accounts { totalCount edges { node { name } } } contacts { totalCount edges { node { lastName } } }"
        " leads { totalCount edges { node { topic } } } }"
    )
    assert data["accounts"] == {"totalCount": 1, "edges": [{"node": {"name": "ours-account"}}]}
    assert data["contacts"]["edges"] == [{"node": {"lastName": "ours-contact"}}]
    assert data["leads"]["edges"] == [{"node": {"topic": "ours-lead"}}]


async def test_node_and_nodes_with_foreign_ids_are_null(two_tenants):
    ours, _, ids = two_tenants
    foreign = list(ids["theirs"].values())
    data = await ours.gql(
        "query($id: ID!, $ids: [ID!]!) { node(id: $id) { id } nodes(ids: $ids) { id } }",
        {"id": foreign[0], "ids": [*foreign, ids["ours"]["lead"]]},
    )
    assert data["node"] is None
    assert data["nodes"] == [None, None, None, {"id": ids["ours"]["lead"]}]


async def test_filters_cannot_reach_foreign_rows(two_tenants):
    ours, _, ids = two_tenants
    data = await ours.gql(
        "query($id: ID!) { contacts(filter: {id: {eq: $id}}) { totalCount } "
        'accounts(filter: {contacts: {some: {lastName: {eq: "theirs-contact"}}}}) { totalCount } }',
        {"id": ids["theirs"]["contact"]},
    )
    assert data == {"contacts": {"totalCount": 0}, "accounts": {"totalCount": 0}}


@pytest.mark.parametrize(
    ("mutation", "payload"),
    [
        ("updateAccount", lambda i: {"id": i["account"], "name": "hijacked"}),
        ("updateContact", lambda i: {"id": i["contact"], "lastName": "hijacked"}),
        ("updateLead", lambda i: {"id": i["lead"], "topic": "hijacked"}),
        ("deleteAccount", lambda i: {"id": i["account"]}),
        ("deleteContact", lambda i: {"id": i["contact"]}),
        ("deleteLead", lambda i: {"id": i["lead"]}),
        ("createContact", lambda i: {"lastName": "x", "accountId": i["account"]}),
        ("createLead", lambda i: {"topic": "x", "contactId": i["contact"]}),
        ("createAccount", lambda i: {"name": "x", "parentAccountId": i["account"]}),
        ("updateAccount", lambda i: {"id": i["account"], "primaryContactId": i["contact"]}),
    ],
)
async def test_mutations_cannot_touch_foreign_rows(two_tenants, mutation, payload):
    ours, theirs, ids = two_tenants
    result = await ours.mutate(mutation, payload(ids["theirs"]), "__typename")
    assert result["userErrors"][0]["code"] == "NOT_FOUND"
    data = await theirs.gql(
        "{ accounts { edges { node { name contacts { edges { node { lastName leads { edges { node { topic } } } } } } } } } }"
    )
    account = data["accounts"]["edges"][0]["node"]
    assert account["name"] == "theirs-account"
    contact = account["contacts"]["edges"][0]["node"]
    assert contact["lastName"] == "theirs-contact"
    assert contact["leads"]["edges"][0]["node"]["topic"] == "theirs-lead"


EDIT = {"createAccount": {"name": "New"}}


@pytest.mark.parametrize(
    ("role", "mutation", "allowed"),
    [
        (Role.READ_ONLY, "createAccount", False),
        (Role.READ_ONLY, "deleteAccount", False),
        (Role.SALES, "createAccount", True),
        (Role.SALES, "deleteAccount", False),
        (Role.MARKETING, "createAccount", True),
        (Role.MARKETING, "deleteAccount", False),
        (Role.ADMIN, "createAccount", True),
        (Role.ADMIN, "deleteAccount", True),
    ],
)
async def test_role_matrix_for_mutations(tenant, role, mutation, allowed):
    existing = await tenant.mutate("createAccount", {"name": "Existing"}, "account { id }")
    payload = {"name": "New"} if mutation == "createAccount" else {"id": existing["account"]["id"]}
    input_type = "CreateAccountInput" if mutation == "createAccount" else "DeleteInput"
    response = await tenant.post(
        f"mutation($i: {input_type}!) {{ {mutation}(input: $i) {{ userErrors {{ code }} }} }}",
        {"i": payload},
        role=role,
    )
    body = response.json()
    count = await Account.filter(workspace_id=tenant.workspace.id).count()
    if allowed:
        assert body["data"][mutation]["userErrors"] == []
    else:
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert body["data"] is None
        assert count == 1  # no side effect


async def test_read_only_can_read(tenant):
    await tenant.mutate("createAccount", {"name": "Visible"}, "account { id }")
    data = await tenant.gql("{ accounts { totalCount } }", role=Role.READ_ONLY)
    assert data["accounts"]["totalCount"] == 1
