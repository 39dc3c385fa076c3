"""Property-based fuzzing from the live schema (hypothesis-graphql and our own variable and body
strategies), over HTTP: never a 5xx, never an unmasked exception or leaked exception text, never
another workspace's row, never a partial write."""

import json
import os
from datetime import UTC

import pytest
from graphql import StringValueNode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from api.schema import build_schema
from api.settings import Settings
from models import Account, Contact, Interaction, Lead, Role, ScoringModel

SDL = build_schema(Settings()).as_str()
EXAMPLES = int(os.environ.get("LEADGRAPH_FUZZ_EXAMPLES", "120"))
SCALARS = {
    "DateTime": st.datetimes(timezones=st.just(UTC)).map(
        lambda d: StringValueNode(value=d.isoformat())
    ),
    "JSON": st.text(max_size=20).map(lambda s: StringValueNode(value=s)),
}
FUZZ = settings(
    max_examples=EXAMPLES,
    # CI replays the same examples every run; locally each run explores new ones.
    derandomize=bool(os.environ.get("CI")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SECRET = "THEIRS-SECRET"


@pytest.fixture
async def world(make_tenant):
    """Our workspace with a little data, and theirs, whose every text carries SECRET."""
    ours, theirs = await make_tenant("Ours"), await make_tenant("Theirs")
    for tenant, mark in ((ours, "ours"), (theirs, SECRET)):
        account = await tenant.mutate(
            "createAccount", {"name": f"{mark} Co", "industry": mark}, "account { id }"
        )
        contact = await tenant.mutate(
            "createContact",
            {
                "lastName": f"{mark} person",
                "email": f"{mark.lower()}@example.com",
                "accountId": account["account"]["id"],
            },
            "contact { id }",
        )
        await tenant.mutate(
            "createLead",
            {"topic": f"{mark} topic", "contactId": contact["contact"]["id"]},
            "lead { id }",
        )
    return ours, theirs


async def snapshot(workspace_id: int) -> list:
    rows = []
    for model in (Account, Contact, Lead, Interaction, ScoringModel):
        rows.append(sorted(map(str, await model.filter(workspace_id=workspace_id).values())))
    return rows


def check_response(response) -> dict:
    assert response.status_code < 500, response.text
    assert SECRET not in response.text, response.text
    if response.status_code in (401, 413, 429):
        return {}
    body = response.json()
    for error in body.get("errors") or []:
        assert error["message"] != "Unexpected error.", body  # an unmasked/unexpected failure
        assert "Traceback" not in error["message"]
    return body


async def fuzz_query(tenant, query) -> None:
    response = await tenant.http.post(
        "/graphql",
        json={"query": query},
        headers={"Authorization": f"Bearer {tenant.keys[Role.ADMIN]}"},
    )
    check_response(response)


QUERIES = from_schema(SDL, custom_scalars=SCALARS).filter(
    lambda q: not str(q).lstrip().startswith("mutation")
)
INVALID = from_schema(SDL, custom_scalars=SCALARS, mode=Mode.NEGATIVE)
MUTATION_FIELDS = [
    "createAccount",
    "updateAccount",
    "deleteAccount",
    "createContact",
    "updateContact",
    "deleteContact",
    "createLead",
    "updateLead",
    "deleteLead",
    "recordInteraction",
    "recordInteractions",
    "deleteInteraction",
    "createScoringModel",
    "updateScoringModel",
    "acceptLead",
    "sendLeadBackToMarketing",
    "disqualifyLead",
    "qualifyLead",
    "reactivateLead",
    "createApiKey",
    "revokeApiKey",
    "trackVisit",
    "submitForm",
]
# One root field per document: each root mutation field is its own transaction by design.
MUTATIONS = (
    st.sampled_from(MUTATION_FIELDS)
    .flatmap(lambda field: from_schema(SDL, custom_scalars=SCALARS, fields=[field]))
    .filter(lambda q: str(q).lstrip().startswith("mutation"))
)


@FUZZ
@given(query=QUERIES)
async def test_fuzzed_queries(world, query):
    await fuzz_query(world[0], query)


@FUZZ
@given(query=INVALID)
async def test_fuzzed_invalid_documents(world, query):
    await fuzz_query(world[0], query)


@FUZZ
@given(mutation=MUTATIONS)
async def test_fuzzed_mutations_never_write_partially(world, mutation):
    ours, theirs = world
    before_ours, before_theirs = (
        await snapshot(ours.workspace.id),
        await snapshot(theirs.workspace.id),
    )
    response = await ours.http.post(
        "/graphql",
        json={"query": mutation},
        headers={"Authorization": f"Bearer {ours.keys[Role.ADMIN]}"},
    )
    body = check_response(response)
    failed = bool(body.get("errors")) or any(
        (payload or {}).get("userErrors") for payload in (body.get("data") or {}).values()
    )
    if failed:
        assert await snapshot(ours.workspace.id) == before_ours, mutation
    assert await snapshot(theirs.workspace.id) == before_theirs, mutation


# --- Variables, HTTP bodies and edge numbers (issue 7) ---------------------------------------

from base64 import b64encode  # noqa: E402

from graphql import (  # noqa: E402
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
)

GRAPHQL = build_schema(Settings())._schema
EDGE_INTS = [2**31 - 1, -(2**31), 2**31, -(2**31) - 1, 2**53, -(2**53), 0, -1]
EDGE_NUMBERS = [*EDGE_INTS, 1e308, -1e308, 1.5, "NaN", "Infinity", "-Infinity", "1e309"]
NODE_TYPES = ["Account", "Contact", "Lead", "Interaction", "ScoringModel", "ApiKey", "Nope"]
# Text that means a Python or driver exception reached the client.
LEAKS = (
    "Traceback",
    "asyncpg",
    "sqlite3",
    "psycopg",
    "object has no attribute",
    "NoneType",
    "unsupported operand",
    "invalid input for query argument",
    "codec can't",
    "maximum recursion",
    "canceling statement",
    "duplicate key",
    "violates",
    "Errno",
    "out of int32 range",
    "date value out of range",
)


def global_ids():
    return st.builds(
        lambda t, n: b64encode(f"{t}:{n}".encode()).decode(),
        st.sampled_from(NODE_TYPES),
        st.one_of(st.integers(0, 6), st.sampled_from([2**31, 10**20]), st.text(max_size=4)),
    )


def junk():
    """Any JSON value: what a careless or hostile client may put anywhere."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(EDGE_NUMBERS),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=10),
    )
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=8,
    )


def values_for(type_, depth: int = 0, valid_only: bool = False):
    """Values for a GraphQL input type: mostly well-typed (edges included), sometimes junk."""
    nullable = not isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if not nullable else type_
    if isinstance(inner, GraphQLList):
        typed = st.lists(values_for(inner.of_type, depth + 1, valid_only), max_size=3)
    elif isinstance(inner, GraphQLInputObjectType):
        if depth > 3:
            typed = st.just({})
        else:
            typed = st.fixed_dictionaries(
                {},
                optional={
                    name: values_for(field.type, depth + 1, valid_only)
                    for name, field in inner.fields.items()
                },
            )
    elif isinstance(inner, GraphQLEnumType):
        typed = st.one_of(st.sampled_from(list(inner.values)), st.just("SPAM"))
    elif isinstance(inner, GraphQLScalarType):
        typed = {
            "Int": st.one_of(st.sampled_from(EDGE_INTS), st.integers(-5, 200)),
            "Float": st.sampled_from(EDGE_NUMBERS),
            "Boolean": st.booleans(),
            "String": st.one_of(st.text(max_size=12), st.sampled_from(["", "   ", "a e i"])),
            "ID": global_ids(),
            "DateTime": st.one_of(
                st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
                st.sampled_from(
                    ["not-a-date", "2026-02-30T00:00:00Z", "9999-12-31T23:00:00-05:00", 12345]
                ),
            ),
            "JSON": junk(),
        }.get(inner.name, junk())
    else:
        typed = junk()
    if nullable:
        typed = st.one_of(st.none(), typed)
    return typed if valid_only or depth > 0 else st.one_of(typed, typed, typed, junk())


def selection(type_) -> str:
    named = get_named_type(type_)
    if not isinstance(named, GraphQLObjectType):
        return ""
    return (
        "{ __typename userErrors { code } }" if "userErrors" in named.fields else "{ __typename }"
    )


def operations(root: GraphQLObjectType, keyword: str) -> list[tuple[str, str, dict]]:
    """One document per root field with arguments, every argument a variable."""
    ops = []
    for name, field in root.fields.items():
        if not field.args:
            continue
        definitions = ", ".join(f"${a}: {arg.type}" for a, arg in field.args.items())
        arguments = ", ".join(f"{a}: ${a}" for a in field.args)
        document = f"{keyword}({definitions}) {{ {name}({arguments}) {selection(field.type)} }}"
        ops.append((name, document, field.args))
    return ops


VARIABLE_OPERATIONS = operations(GRAPHQL.query_type, "query") + operations(
    GRAPHQL.mutation_type, "mutation"
)
WITH_VARIABLES = st.sampled_from(VARIABLE_OPERATIONS).flatmap(
    lambda op: st.tuples(
        st.just(op[1]),
        st.fixed_dictionaries({a: values_for(arg.type) for a, arg in op[2].items()}),
    )
)


def check_no_leak(response) -> dict:
    body = check_response(response)
    for error in body.get("errors") or []:
        assert not any(leak in error["message"] for leak in LEAKS), body
    return body


# Half the examples each: these two add to the five above, and CI runs them on both databases.
HALF = settings(FUZZ, max_examples=max(EXAMPLES // 2, 10))


@HALF
@given(case=WITH_VARIABLES)
async def test_fuzzed_variables(world, case):
    """Valid and invalid values for every variable of every root field (edge numbers, NaN and
    Infinity spelled as strings, bad dates, forged IDs, junk JSON): never a 5xx, never
    "Unexpected error.", never exception text, never a partial write."""
    document, variables = case
    ours, theirs = world
    writes = document.startswith("mutation")
    before_ours, before_theirs = (
        (await snapshot(ours.workspace.id), await snapshot(theirs.workspace.id))
        if writes
        else (None, None)
    )
    body = json.dumps({"query": document, "variables": variables}).encode()  # big ints too
    response = await ours.http.post(
        "/graphql",
        content=body,
        headers={
            "Authorization": f"Bearer {ours.keys[Role.ADMIN]}",
            "Content-Type": "application/json",
        },
    )
    payload = check_no_leak(response)
    if not document.startswith("mutation"):
        return  # a query writes nothing (and the other workspace is checked by the mutations)
    failed = bool(payload.get("errors")) or any(
        (p or {}).get("userErrors") for p in (payload.get("data") or {}).values()
    )
    if failed:
        assert await snapshot(ours.workspace.id) == before_ours, (document, variables)
    assert await snapshot(theirs.workspace.id) == before_theirs, (document, variables)


def nested(depth: int) -> bytes:
    return b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * depth + b"]" * depth + b"}}"


BODIES = st.one_of(
    st.binary(max_size=64),
    junk().map(lambda v: json.dumps(v).encode()),
    st.integers(900, 6000).map(nested),
    st.binary(min_size=1, max_size=4).map(
        lambda b: b'{"query": "{ accounts { totalCount } }", "x": "' + b"\xff" + b + b'"}'
    ),
    st.sampled_from([b'"hello"', b"null", b"42", b"[]", b'{"query": 1}', b'{"variables": 3}']),
)


@HALF
@given(body=BODIES)
async def test_fuzzed_http_bodies(world, body):
    """Arbitrary bytes, non-object JSON, deep nesting and invalid UTF-8 posted as
    application/json: a 4xx with a typed error, never a 5xx or leaked exception text."""
    ours, _ = world
    response = await ours.http.post(
        "/graphql",
        content=body,
        headers={
            "Authorization": f"Bearer {ours.keys[Role.ADMIN]}",
            "Content-Type": "application/json",
        },
    )
    payload = check_no_leak(response)
    if response.status_code >= 400:
        assert all(e.get("extensions", {}).get("code") or e["message"] for e in payload["errors"])
