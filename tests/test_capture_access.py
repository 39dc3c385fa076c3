"""A CAPTURE key is FORBIDDEN for every query and every other mutation, cell by cell. The list
comes from the live schema, so a new root field is covered the day it is added."""

from types import SimpleNamespace

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)

from api.schema import build_schema
from api.settings import Settings
from models import Account, Contact, Interaction, Lead, Role, ScoringModel
from models.capture import AnonymousVisit, Visitor

SCHEMA = build_schema(Settings())
CAPTURE_CALLS = {"trackVisit", "submitForm"}
SCALARS = {
    "String": "x",
    "ID": "QWNjb3VudDo5OTk5",  # Account:9999, in no workspace
    "Int": 1,
    "Float": 1.0,
    "Boolean": False,
    "DateTime": "2020-01-01T00:00:00+00:00",
    "JSON": {},
}


def sample(type_):
    """A value of an input type that passes GraphQL validation (required fields only)."""
    if isinstance(type_, GraphQLNonNull):
        return sample(type_.of_type)
    if isinstance(type_, GraphQLList):
        return []
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if isinstance(type_, GraphQLInputObjectType):
        return {
            name: sample(field.type)
            for name, field in type_.fields.items()
            if isinstance(field.type, GraphQLNonNull)
        }
    assert isinstance(type_, GraphQLScalarType), type_
    return SCALARS[type_.name]


def document(operation: str, name: str) -> tuple[str, dict]:
    """`operation($a: T!) { name(a: $a) { __typename } }` with every argument given."""
    root = SCHEMA._schema.query_type if operation == "query" else SCHEMA._schema.mutation_type
    field = root.fields[name]
    definitions = ", ".join(f"${arg}: {a.type}" for arg, a in field.args.items())
    arguments = ", ".join(f"{arg}: ${arg}" for arg in field.args)
    result = field.type
    while hasattr(result, "of_type"):
        result = result.of_type
    selection = "" if isinstance(result, GraphQLScalarType | GraphQLEnumType) else "{ __typename }"
    head = f"{operation}({definitions})" if definitions else operation
    call = f"{name}({arguments})" if arguments else name
    variables = {arg: sample(a.type) for arg, a in field.args.items()}
    return f"{head} {{ {call} {selection} }}", variables


QUERIES = sorted(SCHEMA._schema.query_type.fields)
MUTATIONS = sorted(set(SCHEMA._schema.mutation_type.fields) - CAPTURE_CALLS)


async def snapshot() -> list[int]:
    return [
        await model.all().count()
        for model in (Account, Contact, Lead, Interaction, ScoringModel, AnonymousVisit, Visitor)
    ]


async def assert_forbidden(tenant, query: str, variables: dict) -> None:
    before = await snapshot()
    response = await tenant.post(query, variables, role=Role.CAPTURE)
    body = response.json()
    assert body.get("data") is None, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body
    assert await snapshot() == before


@pytest.mark.parametrize("field", QUERIES)
async def test_capture_key_is_forbidden_for_query(tenant, field):
    """Every query root field: FORBIDDEN, nothing read (on PostgreSQL too, where reads would
    otherwise take the SQL fast path)."""
    await assert_forbidden(tenant, *document("query", field))


@pytest.mark.parametrize("field", MUTATIONS)
async def test_capture_key_is_forbidden_for_mutation(tenant, field):
    """Every mutation but trackVisit and submitForm: FORBIDDEN, nothing written."""
    await assert_forbidden(tenant, *document("mutation", field))


@pytest.mark.parametrize("field", sorted(CAPTURE_CALLS))
async def test_capture_key_may_call_the_capture_mutations(tenant, field):
    query, variables = document("mutation", field)
    body = (await tenant.post(query, variables, role=Role.CAPTURE)).json()
    assert body.get("errors") is None and body["data"][field]["__typename"] == "CapturePayload"


@pytest.mark.parametrize(
    "query",
    [
        # A capture call next to another field: the whole document is refused before anything
        # runs, so the visit is not recorded either.
        'mutation { trackVisit(input: {visitorId: "v", url: "https://a.example/"}) { accepted }'
        ' createAccount(input: {name: "x"}) { __typename } }',
        'mutation { trackVisit(input: {visitorId: "v", url: "https://a.example/"}) { accepted }'
        ' ...F } fragment F on Mutation { deleteAccount(input: {id: "QWNjb3VudDo5OTk5"}) '
        "{ __typename } }",
        "{ __typename ... on Query { accounts { totalCount } } }",
        "{ __schema { types { name } } }",
    ],
)
async def test_mixed_documents_are_refused_whole(tenant, query):
    await assert_forbidden(tenant, query, {})


def test_permission_classes_refuse_capture_on_every_other_root():
    """The strawberry permission classes alone already refuse CAPTURE everywhere but the two
    capture calls (the early refusal is a second line)."""
    info = SimpleNamespace(context=SimpleNamespace(principal=SimpleNamespace(role=Role.CAPTURE)))
    for root in ("Query", "Mutation"):
        definition = SCHEMA.get_type_by_name(root)
        for field in definition.fields:
            name = SCHEMA.config.name_converter.get_graphql_name(field)
            allowed = all(p().has_permission(None, info) for p in field.permission_classes)
            assert allowed == (name in CAPTURE_CALLS), (root, name)
            assert field.permission_classes, (root, name)


def test_the_lists_cover_the_schema():
    assert len(QUERIES) >= 8 and len(MUTATIONS) >= 21
    assert isinstance(SCHEMA._schema.mutation_type, GraphQLObjectType)
