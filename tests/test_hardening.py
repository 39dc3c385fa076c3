"""Regression tests for the fourteen findings of issue 7, over HTTP (both databases unless a
test says why not). Each refusal is a typed error; none is a 500 or "Unexpected error."."""

import base64
import logging

import orjson
import pytest

from models import Account, Interaction, Role, ScoringModel

GRADES = "mutation($i: CreateScoringModelInput!) { createScoringModel(input: $i) { scoringModel { id } userErrors { field message code } } }"
PREVIEW = "query($i: CreateScoringModelInput!) { previewScoringModel(input: $i) { leadsScored } }"
RULE = {"interactionType": "PAGE_VISITED", "points": 1}


def errors(response) -> list[dict]:
    return response.json().get("errors") or []


def codes(response) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in errors(response)]


async def post_raw(tenant, body: bytes, role: Role = Role.ADMIN):
    return await tenant.http.post(
        "/graphql",
        content=body,
        headers={
            "Authorization": f"Bearer {tenant.keys[role]}",
            "Content-Type": "application/json",
        },
    )


def nested_filter(depth: int) -> dict:
    """A contact filter hopping contact -> account -> contacts -> ... `depth` times."""
    inner: dict = {"lastName": {"eq": "x"}}
    for i in range(depth):
        inner = {"account": {"contacts": {"some": inner}}} if i % 2 == 0 else inner
    return inner


# 1. grades were uncapped: 24,000 of them held PostgreSQL for minutes
async def test_1_grades_are_capped_like_rules(tenant):
    """previewScoringModel (READ_ONLY) and createScoringModel (MARKETING) refuse more than 20
    grades with a typed error, before any SQL scores a lead."""
    grades = [{"label": f"g{i}", "minScore": i} for i in range(24_000)]
    model = {"name": "Huge", "salesReadyThreshold": 1, "rules": [RULE], "grades": grades}
    preview = await tenant.post(PREVIEW, {"i": model}, Role.READ_ONLY)
    assert codes(preview) == ["BAD_USER_INPUT"]
    assert "At most 20 grades" in errors(preview)[0]["message"]
    created = await tenant.gql(GRADES, {"i": {**model, "grades": grades[:8000]}}, Role.MARKETING)
    assert created["createScoringModel"]["userErrors"][0]["message"] == "At most 20 grades."
    assert await ScoringModel.filter(name="Huge").count() == 0


# 2. cost counted page sizes only
async def test_2_cost_counts_filters_search_and_nesting(tenant):
    """Deep relation filters, huge `or`s (as variables), many search words under totalCount
    and big `or`s of nested relations are refused before any SQL runs."""
    query = "query($f: ContactFilter) { contacts(first: 20, filter: $f) { edges { node { id } } } }"
    deep = await tenant.post(query, {"f": nested_filter(80)})
    assert codes(deep) == ["BAD_USER_INPUT"]
    assert "deeper than" in errors(deep)[0]["message"]
    wide = {"or": [{"firstName": {"contains": f"t{i}"}} for i in range(20_000)]}
    assert codes(await tenant.post(query, {"f": wide})) == ["QUERY_TOO_EXPENSIVE"]
    aliases = " ".join(
        f'a{i}: contacts(first: 100, search: "a e i o") {{ totalCount }}' for i in range(30)
    )
    assert codes(await tenant.post(f"{{ {aliases} }}")) == ["QUERY_TOO_EXPENSIVE"]
    hops = {"or": [nested_filter(6) for _ in range(50)]}
    assert codes(await tenant.post(query, {"f": hops})) == ["QUERY_TOO_EXPENSIVE"]
    # an ordinary filtered page with its count still runs
    ordinary = {
        "account": {"industry": {"eq": "Retail"}},
        "leads": {"some": {"topic": {"eq": "Solar"}}},
    }
    fine = await tenant.post(
        'query($f: ContactFilter) { contacts(first: 50, filter: $f, search: "a") { totalCount edges { node { id } } } }',
        {"f": ordinary},
    )
    assert errors(fine) == []


async def test_2_nested_literal_input_is_refused_before_parsing(tenant):
    """A filter literal nested 500 deep is refused by the edge of the parser, not by a
    RecursionError (which reached clients as "maximum recursion depth exceeded")."""
    literal = '{lastName: {eq: "x"}}'
    for _ in range(500):
        literal = f"{{not: {literal}}}"
    response = await tenant.post(f"{{ contacts(filter: {literal}) {{ totalCount }} }}")
    assert codes(response) == ["BAD_USER_INPUT"]
    assert "nested deeper" in errors(response)[0]["message"]


# 3. variable coercion errors were masked as "Unexpected error."
@pytest.mark.parametrize(
    ("query", "variables", "names"),
    [
        (
            "mutation($i: DisqualifyLeadInput!) { disqualifyLead(input: $i) { userErrors { code } } }",
            {"i": {"leadId": "TGVhZDox", "reason": "SPAM"}},
            ["$i", "reason"],
        ),
        (
            "mutation($i: RecordInteractionInput!) { recordInteraction(input: $i) { userErrors { code } } }",
            {"i": {"type": "MEETING", "occurredAt": "not-a-date"}},
            ["$i", "occurredAt"],
        ),
        (
            "mutation($i: RecordInteractionInput!) { recordInteraction(input: $i) { userErrors { code } } }",
            {"i": {"type": "MEETING", "occurredAt": "2026-13-45T00:00:00Z"}},
            ["$i", "occurredAt"],
        ),
        (
            "mutation($i: RecordInteractionInput!) { recordInteraction(input: $i) { userErrors { code } } }",
            {"i": {"type": "MEETING", "occurredAt": 12345}},
            ["$i", "occurredAt"],
        ),
        ("query($n: Int) { contacts(first: $n) { totalCount } }", {"n": 1.5}, ["$n"]),
        ("query($n: Int) { contacts(first: $n) { totalCount } }", {"n": "abc"}, ["$n"]),
        (
            "query($f: LeadFilter) { leads(filter: $f) { totalCount } }",
            {"f": {"score": {"gt": 2**40}}},
            ["$f", "score"],
        ),
        (
            "query($f: ContactFilter) { contacts(filter: $f) { totalCount } }",
            {"f": {"createdAt": {"gt": "2026-02-30T00:00:00Z"}}},
            ["$f", "createdAt"],
        ),
        (
            "mutation($i: CreateAccountInput!) { createAccount(input: $i) { account { id } } }",
            {"i": {}},
            ["$i", "name"],
        ),
        ("query($n: Int!) { contacts(first: $n) { totalCount } }", {}, ["$n"]),
    ],
)
async def test_3_variable_coercion_errors_are_typed(tenant, query, variables, names):
    """Each wrong variable value is BAD_USER_INPUT with graphql-core's real message, which
    names the variable and the field; nothing runs."""
    response = await tenant.post(query, variables)
    assert codes(response) == ["BAD_USER_INPUT"], response.text
    message = errors(response)[0]["message"]
    assert all(name in message for name in names), message
    assert await Account.all().count() == 0


async def test_3_metadata_must_be_an_object_and_strings_must_be_unicode(tenant):
    """`metadata: "just a string"` is an INVALID user error; a lone surrogate in a JSON body is
    HTTP 400 BAD_USER_INPUT (it cannot be stored as UTF-8)."""
    contact = await tenant.mutate("createContact", {"lastName": "Ng"}, "contact { id }")
    result = await tenant.mutate(
        "recordInteraction",
        {"contactId": contact["contact"]["id"], "type": "MEETING", "metadata": "just a string"},
        "interaction { id }",
    )
    assert result["userErrors"] == [
        {"field": ["metadata"], "message": "metadata must be a JSON object.", "code": "INVALID"}
    ]
    body = b'{"query": "query($s: String) { contacts(search: $s) { totalCount } }", "variables": {"s": "\\udfff"}}'
    response = await post_raw(tenant, body)
    assert response.status_code == 400 and codes(response) == ["BAD_USER_INPUT"]
    assert await Interaction.all().count() == 0


# 4. internal error texts reached the client
async def test_4_driver_errors_do_not_reach_clients(tenant):
    """Forged cursors (1e308, a string id), an id beyond the column's range, a lone surrogate
    escape, a time that overflows in UTC and `first: "abc"` are typed client errors."""

    def cursor(values) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(["id:a", values])).decode().rstrip("=")

    page = "query($c: String) { accounts(first: 5, after: $c) { totalCount } }"
    for forged in ([1e308], ["abc"], [2**40]):
        response = await tenant.post(page, {"c": cursor(forged)})
        assert codes(response) == ["BAD_USER_INPUT"], response.text
        assert errors(response)[0]["message"] == "Invalid cursor."
    huge = await tenant.post('{ node(id: "QWNjb3VudDo5OTk5OTk5OTk5OTk5OTk5OTk5OQ==") { id } }')
    assert codes(huge) == ["BAD_USER_INPUT"], huge.text  # Account:99999999999999999999
    surrogate = await tenant.post('{ contacts(search: "\\udfff") { totalCount } }')
    assert errors(surrogate) and "Unicode" in errors(surrogate)[0]["message"]
    late = await tenant.post(
        "query($f: AccountFilter) { accounts(filter: $f) { totalCount } }",
        {"f": {"createdAt": {"gt": "9999-12-31T23:00:00-05:00"}}},
    )
    assert codes(late) == ["BAD_USER_INPUT"]
    assert "out of range" in errors(late)[0]["message"]
    for response in (huge, surrogate, late):
        assert "asyncpg" not in response.text and "codec" not in response.text


async def test_4_deep_metadata_is_refused(tenant):
    """Metadata nested 300 deep is refused (input depth), not a RecursionError."""
    contact = await tenant.mutate("createContact", {"lastName": "Ng"}, "contact { id }")
    metadata: object = {"x": 1}
    for _ in range(300):
        metadata = {"a": metadata}
    response = await tenant.post(
        "mutation($i: RecordInteractionInput!) { recordInteraction(input: $i) { interaction { id } } }",
        {"i": {"contactId": contact["contact"]["id"], "type": "MEETING", "metadata": metadata}},
    )
    assert response.status_code == 400 and codes(response) == ["BAD_USER_INPUT"]
    assert await Interaction.all().count() == 0


# 5. HTTP 500 for malformed bodies
@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ accounts { totalCount } }", "x": "\xff\xfe"}',
        b'"hello"',
        b"null",
        b"42",
        b'{"query": "{ __typename }", "variables": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001,
        b'{"query": "{ __typename }", "variables": {"m": ' + b"[" * 990 + b"]" * 990 + b"}}",
        b'{"query": "{ __typename }", "variables": [1, 2]}',
    ],
    ids=["not-utf8", "string", "null", "number", "5000-deep", "990-deep-list", "list-variables"],
)
async def test_5_malformed_bodies_are_400(tenant, body):
    """Malformed JSON bodies are HTTP 400 with a BAD_USER_INPUT error, never a 500."""
    response = await post_raw(tenant, body)
    assert response.status_code == 400, response.text
    assert codes(response) == ["BAD_USER_INPUT"]


# 6. Infinity was stored
async def test_6_non_finite_floats_are_refused(tenant):
    """`estimatedValue: 1e309` (a literal) is refused before the lead moves; as a JSON number
    the body itself is refused; nothing is stored."""
    lead = await tenant.mutate("createLead", {"topic": "Solar", "lastName": "Ng"}, "lead { id }")
    lead_id = lead["lead"]["id"]
    literal = await tenant.post(
        f'mutation {{ qualifyLead(input: {{leadId: "{lead_id}", estimatedValue: 1e309}}) {{ lead {{ status }} }} }}'
    )
    assert codes(literal) == ["BAD_USER_INPUT"]
    assert "finite" in errors(literal)[0]["message"]
    body = (
        b'{"query": "mutation($v: Float) { qualifyLead(input: {leadId: \\"'
        + lead_id.encode()
        + b'\\", estimatedValue: $v}) { lead { status } } }", "variables": {"v": 1e309}}'
    )
    assert (await post_raw(tenant, body)).status_code == 400
    status = await tenant.gql(f'{{ node(id: "{lead_id}") {{ ... on Lead {{ status }} }} }}')
    assert status["node"]["status"] == "NEW"


# 10. an empty idempotency key was taken as none
async def test_10_empty_idempotency_key_is_refused(tenant):
    """`idempotencyKey: ""` is INVALID like a blank one, so retries cannot duplicate."""
    contact = await tenant.mutate("createContact", {"lastName": "Ng"}, "contact { id }")
    for key in ("", "   "):
        result = await tenant.mutate(
            "recordInteraction",
            {"contactId": contact["contact"]["id"], "type": "MEETING", "idempotencyKey": key},
            "interaction { id }",
        )
        assert result["userErrors"][0]["field"] == ["idempotencyKey"]
    assert await Interaction.all().count() == 0


# 11. a mixed-permission document committed its allowed half
async def test_11_document_with_a_forbidden_field_runs_nothing(tenant):
    """SALES sends createAccount + deleteAccount: FORBIDDEN for deleteAccount, and
    createAccount never ran. Fragments and @include are resolved like execution does."""
    document = """mutation($skip: Boolean!) {
      ok: createAccount(input: {name: "Made"}) { account { id } }
      ...Danger @skip(if: $skip)
    }
    fragment Danger on Mutation { deleteAccount(input: {id: "QWNjb3VudDox"}) { deletedId } }"""
    refused = await tenant.post(document, {"skip": False}, Role.SALES)
    assert codes(refused) == ["FORBIDDEN"]
    assert errors(refused)[0]["path"] == ["deleteAccount"]
    assert refused.json()["data"] is None
    assert await Account.all().count() == 0
    allowed = await tenant.post(document, {"skip": True}, Role.SALES)
    assert errors(allowed) == [] and await Account.all().count() == 1


async def test_11_forbidden_query_field_stops_the_whole_read(tenant):
    """Query roots are checked the same way (so the SQL fast path never answers around a
    permission): apiKeys next to accounts, as READ_ONLY, is FORBIDDEN with no data."""
    response = await tenant.post(
        "{ accounts { totalCount } apiKeys { name } }", role=Role.READ_ONLY
    )
    assert codes(response) == ["FORBIDDEN"]
    assert response.json()["data"] is None


# 12. introspection stayed on and suggestions leaked the schema
async def test_12_no_suggestions_when_introspection_is_off():
    """With LEADGRAPH_INTROSPECTION off, validation errors carry no "Did you mean" hints."""
    from api.schema import build_schema
    from api.settings import Settings

    on = await build_schema(Settings()).execute("{ acounts { totalCount } }")
    assert "Did you mean" in on.errors[0].message
    off = await build_schema(Settings(introspection=False)).execute("{ acounts { totalCount } }")
    assert off.errors[0].message == "Cannot query field 'acounts' on type 'Query'."
    schema_off = await build_schema(Settings(introspection=False)).execute(
        "{ __schema { types { name } } }"
    )
    assert schema_off.data is None


# 13. nodes(ids:) was unbounded and one bad ID nulled everything
async def test_13_nodes_is_capped_and_counts_each_id(tenant):
    """More than LEADGRAPH_MAX_PAGE_SIZE IDs is BAD_USER_INPUT; a malformed ID nulls only its
    own entry, with an error at its index."""
    account = await tenant.mutate("createAccount", {"name": "A"}, "account { id }")
    account_id = account["account"]["id"]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    too_many = await tenant.post(query, {"ids": [account_id] * 20_000})
    assert codes(too_many) == ["BAD_USER_INPUT"]
    mixed = (await tenant.post(query, {"ids": [account_id, "not an id", account_id]})).json()
    assert mixed["data"]["nodes"] == [{"id": account_id}, None, {"id": account_id}]
    assert mixed["errors"][0]["path"] == ["nodes", 1]
    assert mixed["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# 14. expected errors were logged with tracebacks and unbounded input
async def test_14_client_errors_log_at_info_without_traceback(tenant, caplog):
    """FORBIDDEN and invalid-ID errors are logged at INFO with no traceback; user input in the
    line is truncated."""
    caplog.set_level(logging.INFO, logger="leadgraph")
    await tenant.post(
        'mutation { deleteAccount(input: {id: "QWNjb3VudDox"}) { deletedId } }', role=Role.SALES
    )
    await tenant.post("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["x" * 5000]})
    records = [r for r in caplog.records if r.name == "leadgraph" and "request" in r.getMessage()]
    assert records
    for record in records:
        assert record.levelno == logging.INFO and record.exc_info is None
        assert len(record.getMessage()) < 600


async def test_retry_classification():
    """Deadlocks, serialization failures and unique violations are retried; others are not."""
    import asyncpg
    from tortoise.exceptions import IntegrityError, OperationalError

    from api.retries import is_retryable

    deadlock = asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
    assert is_retryable(OperationalError(deadlock))
    assert is_retryable(IntegrityError(asyncpg.exceptions.UniqueViolationError("dup")))
    assert not is_retryable(ValueError("no"))
