"""API keys over GraphQL: admins list, create and revoke them; secrets are shown once."""

from models import Role

LIST = "{ apiKeys { id name role createdAt lastUsedAt revokedAt } }"


async def test_create_list_and_revoke(tenant, http):
    created = await tenant.mutate(
        "createApiKey", {"name": "Reporting", "role": "READ_ONLY"}, "apiKey { id name role } secret"
    )
    assert created["userErrors"] == []
    secret = created["secret"]
    assert secret.startswith("lg_")
    headers = {"Authorization": f"Bearer {secret}"}
    ok = await http.post("/graphql", json={"query": "{ accounts { totalCount } }"}, headers=headers)
    assert ok.status_code == 200

    keys = (await tenant.gql(LIST))["apiKeys"]
    reporting = next(k for k in keys if k["name"] == "Reporting")
    assert reporting["role"] == "READ_ONLY" and reporting["lastUsedAt"] is not None
    assert "secret" not in str(keys) and secret not in str(keys)

    revoked = await tenant.mutate("revokeApiKey", {"id": reporting["id"]}, "deletedId")
    assert revoked == {"deletedId": reporting["id"], "userErrors": []}
    refused = await http.post(
        "/graphql", json={"query": "{ accounts { totalCount } }"}, headers=headers
    )
    assert refused.status_code == 401
    again = await tenant.mutate("revokeApiKey", {"id": reporting["id"]}, "deletedId")
    assert again["userErrors"][0]["code"] == "INVALID"


async def test_only_admins_manage_keys(tenant):
    for role in (Role.MARKETING, Role.SALES, Role.READ_ONLY):
        listing = (await tenant.post(LIST, role=role)).json()
        assert listing["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        response = await tenant.post(
            'mutation { createApiKey(input: {name: "x", role: ADMIN}) { secret } }', role=role
        )
        assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert len((await tenant.gql(LIST))["apiKeys"]) == len(Role)  # no key was created


async def test_keys_of_another_workspace_are_invisible(tenant, make_tenant):
    other = await make_tenant("Other")
    theirs = (await other.gql(LIST))["apiKeys"][0]["id"]
    result = await tenant.mutate("revokeApiKey", {"id": theirs}, "deletedId")
    assert result["userErrors"][0]["code"] == "NOT_FOUND"
    assert {k["id"] for k in (await tenant.gql(LIST))["apiKeys"]}.isdisjoint({theirs})
