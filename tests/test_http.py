"""The HTTP edge: authentication, health endpoints, GET queries, GraphiQL, error masking."""

from datetime import UTC, datetime

from models import ApiKey, Role


async def test_missing_key_is_401_with_graphql_error_body(http):
    response = await http.post("/graphql", json={"query": "{ accounts { totalCount } }"})
    assert response.status_code == 401
    assert response.json() == {
        "errors": [{"message": "Missing API key.", "extensions": {"code": "UNAUTHENTICATED"}}]
    }


async def test_unknown_key_is_401(http, tenant):
    response = await http.post(
        "/graphql",
        json={"query": "{ accounts { totalCount } }"},
        headers={"Authorization": "Bearer lg_not-a-real-key"},
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_revoked_key_is_401(http, tenant):
    await ApiKey.filter(workspace_id=tenant.workspace.id, role=Role.ADMIN).update(
        revoked_at=datetime.now(UTC)
    )
    response = await tenant.post("{ accounts { totalCount } }")
    assert response.status_code == 401


async def test_health_and_readiness(http):
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_query_over_get(http, tenant):
    response = await http.get(
        "/graphql",
        params={"query": "{ accounts { totalCount } }"},
        headers={"Authorization": f"Bearer {tenant.keys[Role.READ_ONLY]}"},
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"accounts": {"totalCount": 0}}}


async def test_graphiql_page_for_browsers_without_key(http):
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_validation_errors_are_not_masked(tenant):
    response = await tenant.post("{ accounts { noSuchField } }")
    message = response.json()["errors"][0]["message"]
    assert "noSuchField" in message


async def test_bad_user_input_keeps_its_code(tenant):
    response = await tenant.post("{ accounts(first: 101) { totalCount } }")
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "At most 100" in error["message"]


async def test_relay_nesting_passes_the_depth_limit(tenant):
    query = """{ accounts(first: 5) { edges { node { contacts(first: 5) { edges { node {
        leads(first: 5) { edges { node { contact { account {
        childAccounts(first: 5) { edges { node { name } } } } } } } } } } } } } } }"""
    await tenant.gql(query)


async def test_depth_limit_refuses_absurd_nesting(tenant):
    inner = "name"
    for _ in range(20):
        inner = f"parentAccount {{ {inner} }}"
    response = await tenant.post(f"{{ accounts {{ edges {{ node {{ {inner} }} }} }} }}")
    assert "exceeds maximum operation depth" in response.json()["errors"][0]["message"]


async def test_unexpected_errors_are_masked_and_logged_with_request_id(tenant, monkeypatch, caplog):
    import resolvers.pagination

    async def broken(**kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(resolvers.pagination, "fetch_page", broken)
    response = await tenant.http.post(
        "/graphql",
        # introspection keeps the query off the compiled read path, so fetch_page runs
        json={"query": "{ accounts { totalCount } __schema { queryType { name } } }"},
        headers={"Authorization": f"Bearer {tenant.keys[Role.ADMIN]}", "X-Request-ID": "req-42"},
    )
    body = response.json()
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in response.text
    assert any("req-42" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_graphql_response_media_type_and_request_errors(tenant):
    headers = {
        "Authorization": f"Bearer {tenant.keys[Role.ADMIN]}",
        "Accept": "application/graphql-response+json, application/json;q=0.9",
    }
    ok = await tenant.http.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("application/graphql-response+json")
    for query in ["{ accounts {", "{ noSuchField }"]:
        bad = await tenant.http.post("/graphql", json={"query": query}, headers=headers)
        assert bad.status_code == 400
        assert "data" not in bad.json() and bad.json()["errors"]
    # legacy clients asking for application/json keep 200 with data: null
    legacy = await tenant.post("{ noSuchField }")
    assert legacy.status_code == 200 and legacy.headers["content-type"] == "application/json"


async def test_mutations_are_refused_over_get(tenant):
    response = await tenant.http.get(
        "/graphql",
        params={"query": 'mutation { createAccount(input: {name: "x"}) { account { id } } }'},
        headers={"Authorization": f"Bearer {tenant.keys[Role.ADMIN]}"},
    )
    assert response.status_code in (400, 405)  # refused, whatever the media type
    assert (await tenant.gql("{ accounts { totalCount } }"))["accounts"]["totalCount"] == 0


async def test_cors_is_off_by_default_and_configurable(http, settings):
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    off = await http.options("/graphql", headers=preflight)
    assert "access-control-allow-origin" not in off.headers

    from dataclasses import replace

    import httpx

    from api.app import create_app

    # A preflight is answered by the middleware alone: no lifespan or database needed.
    app = create_app(replace(settings, cors_origins=("https://app.example",)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        allowed = await client.options("/graphql", headers=preflight)
        other = await client.options(
            "/graphql", headers={**preflight, "Origin": "https://evil.example"}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
