"""Templates: a document compiled once answers requests with other variable values
(resolvers/compiler/templates.py). Each answer must be strawberry's for those values, and a value
the template cannot vouch for must go through the full pipeline."""

import random
from dataclasses import replace

import pytest
from fragments import realistic, with_fragments
from graphql import (
    FieldNode,
    FloatValueNode,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    InlineFragmentNode,
    IntValueNode,
    ListTypeNode,
    ListValueNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
    parse,
)
from hypothesis import given
from hypothesis import strategies as st
from strawberry import relay
from strawberry.schema.schema import Schema as StrawberrySchema
from test_compiler import (  # noqa: F401 (data is a fixture)
    DOCUMENTS,
    GENERATED,
    GRAPHQL_SCHEMA,
    data,
    first_difference,
    tokens_without_time,
)

from api.auth import Principal
from api.context import Context
from api.preflight import bill_of
from api.schema import build_schema
from api.settings import Settings
from models import Role
from resolvers.compiler import compile_read, learner_for
from resolvers.compiler.templates import IDENTITY, Slot, Templates, pre_key, variable_types, walk
from resolvers.loaders import Loaders

NODE = """query Lookup($id: ID!) { node(id: $id) { __typename id ...C ...L } }
fragment C on Contact { firstName email account { name }
  leads(first: 5) { edges { node { topic score } } } }
fragment L on Lead { topic status contact { lastName } }"""
FILTERED = """query Find($email: String, $part: String, $n: Int) {
  contacts(first: $n, filter: {email: {eq: $email}, lastName: {contains: $part}}) {
    edges { node { email lastName } } } }"""


async def strawberry_answer(tenant, app_settings, query: str, variables: dict) -> tuple:
    """(data, errors) from strawberry's execution with the fast path off, as the tenant's admin."""
    plain = replace(app_settings, sql_fast_path=False)
    principal = Principal(tenant.workspace.id, Role.ADMIN, None, "reference")
    context = Context(None, None, principal, plain, Loaders(tenant.workspace.id, plain))
    result = await build_schema(plain).execute(
        query, variable_values=variables, context_value=context
    )
    return result.data, result.errors


class Pipelines:
    """Counts the requests strawberry's pipeline runs (the others were answered by a plan)."""

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        execute = StrawberrySchema.execute

        async def counted(schema, *args, **kwargs):
            self.count += 1
            return await execute(schema, *args, **kwargs)

        monkeypatch.setattr(StrawberrySchema, "execute", counted)


async def ids_of(tenant, root: str) -> list[str]:
    page = await tenant.gql(f"{{ {root}(first: 100) {{ edges {{ node {{ id }} }} }} }}")
    return [e["node"]["id"] for e in page[root]["edges"]]


@pytest.mark.usefixtures("data")
async def test_new_ids_are_answered_by_the_template(
    tenant, settings, monkeypatch, count_statements
):
    """`node(id: $id)` answered once through the pipeline is then answered for every other
    contact without strawberry's pipeline or a compilation, in one statement, with strawberry's
    JSON."""
    contacts = await ids_of(tenant, "contacts")
    assert len(contacts) >= 5
    await tenant.gql(NODE, {"id": contacts[0]})
    pipelines = Pipelines(monkeypatch)
    count_statements.statements.clear()
    answers = [await tenant.gql(NODE, {"id": gid}) for gid in contacts[1:]]
    assert pipelines.count == 0
    assert len(count_statements.statements) == len(answers)
    monkeypatch.undo()
    for gid, answer in zip(contacts[1:], answers, strict=True):
        expected, errors = await strawberry_answer(tenant, settings, NODE, {"id": gid})
        assert errors is None and answer == expected, first_difference(answer, expected)


@pytest.mark.usefixtures("data")
async def test_another_type_or_workspace_is_not_answered_by_the_template(
    tenant, make_tenant, settings, monkeypatch
):
    """The ID's type is part of the template's key (a Lead's ID is compiled anew, then has its
    own template), and so is the caller's workspace: another tenant asking for this tenant's
    contact goes through its own pipeline and gets null."""
    contacts, leads = await ids_of(tenant, "contacts"), await ids_of(tenant, "leads")
    for gid in contacts[:3]:
        await tenant.gql(NODE, {"id": gid})
    pipelines = Pipelines(monkeypatch)
    lead_answers = [await tenant.gql(NODE, {"id": gid}) for gid in leads[:3]]
    assert pipelines.count == 1  # the first lead; the others by the Lead template
    assert lead_answers[0]["node"]["__typename"] == "Lead"
    other = await make_tenant("Other")
    assert await other.gql(NODE, {"id": contacts[3]}) == {"node": None}
    assert pipelines.count == 2
    monkeypatch.undo()
    for gid, answer in zip(leads, lead_answers, strict=False):
        expected, errors = await strawberry_answer(tenant, settings, NODE, {"id": gid})
        assert errors is None and answer == expected


@pytest.mark.usefixtures("data")
async def test_values_the_template_cannot_vouch_for_get_the_pipelines_answer(tenant):
    """After the template is learnt, values that fail a check still get the typed error: an ID
    beyond the id column, NUL in text, a variable of the wrong type; a malformed ID gets the
    pipeline's answer."""
    contacts = await ids_of(tenant, "contacts")
    for gid in contacts[:3]:
        await tenant.gql(NODE, {"id": gid})
    huge = relay.to_base64("Contact", 2**31)
    for variables, code in (
        ({"id": huge}, "BAD_USER_INPUT"),
        ({"id": "Q29udGFjdDox\x00"}, "BAD_USER_INPUT"),
        ({"id": 12.5}, "BAD_USER_INPUT"),
        ({}, "BAD_USER_INPUT"),
    ):
        body = (await tenant.post(NODE, variables)).json()
        assert body["errors"][0]["extensions"]["code"] == code, (variables, body)
    body = (await tenant.post(NODE, {"id": "not an id"})).json()
    assert body.get("data") in (None, {"node": None}) and body.get("errors"), body


@pytest.mark.parametrize(
    "email",
    [" P0@X.IO ", "p0@x.io", "p%@x.io", "p_@x.io", "P1@x.io", "\\", "", "é", "p3@x.io"],
)
@pytest.mark.usefixtures("data")
async def test_filter_values_agree_with_strawberry(tenant, settings, email):
    """An `eq` value is a parameter (data); the `contains` one is not (the compiler escapes it
    into a LIKE pattern) and stays part of the key: whatever the values, the answer is
    strawberry's."""
    for part in ("L", "l1", "%", "_", "L1"):
        for variables in (
            {"email": "p0@x.io", "part": "L", "n": 10},
            {"email": email, "part": part, "n": 10},
        ):
            answer = await tenant.gql(FILTERED, variables)
            expected, errors = await strawberry_answer(tenant, settings, FILTERED, variables)
            assert errors is None and answer == expected, (variables, answer, expected)


@pytest.mark.usefixtures("data")
async def test_eq_is_data_and_contains_and_page_size_are_structural(tenant, monkeypatch):
    """Which leaves are data is found by probing: a new `eq` value is answered by the template,
    a new `contains` value or page size by the pipeline."""
    base = {"email": "p0@x.io", "part": "L", "n": 10}
    await tenant.gql(FILTERED, base)
    await tenant.gql(FILTERED, base | {"email": "p1@x.io"})
    pipelines = Pipelines(monkeypatch)
    await tenant.gql(FILTERED, base | {"email": "p2@x.io"})
    assert pipelines.count == 0
    await tenant.gql(FILTERED, base | {"part": "L2"})
    assert pipelines.count == 1
    await tenant.gql(FILTERED, base | {"n": 3})
    assert pipelines.count == 2


def learnt(query: str, variables: dict, postgres: bool = True):
    """What templates.py learns for a document and values, without a database."""
    app_settings = Settings()
    schema = build_schema(app_settings)
    document = parse(query)
    principal = Principal(1, Role.ADMIN, None, "test")
    plan = compile_read(
        schema,
        app_settings,
        postgres=postgres,
        workspace_id=1,
        role=Role.ADMIN,
        document=document,
        operation_name=None,
        variables=variables,
    )
    bill = bill_of(schema, document, variables, app_settings)
    learner = learner_for(
        schema,
        app_settings,
        postgres=postgres,
        principal=principal,
        document=document,
        operation_name=None,
        plan=plan,
        bill=bill,
    )
    templates = Templates()
    templates.learn(schema, ("key",), document, None, variables, learner)
    found = templates.documents[("key",)]
    _, leaves = walk(variables, found.types)
    return found, leaves, plan


@pytest.mark.parametrize("postgres", [True, False])
def test_probes_tell_data_from_structure(postgres):
    """A global ID's row and an `eq` value are data; a `contains` needle (escaped into a
    pattern), a page size (a LIMIT) and a search (split into words) are structural. The
    template bound with the request's own values is the request's own plan."""
    gid = relay.to_base64("Contact", 7)
    variables = {"id": gid, "email": "a@b.c", "part": "x", "n": 5, "q": "ann bo"}
    query = """query($id: ID!, $email: String, $part: String, $n: Int, $q: String) {
      node(id: $id) { ... on Contact { email } }
      contacts(first: $n, search: $q, filter: {email: {eq: $email}, lastName: {contains: $part}})
      { edges { node { email } } } }"""
    found, leaves, plan = learnt(query, variables, postgres)
    (learnt_data,) = found.data.values()
    names = {leaves[i].path[0] for i in learnt_data}
    assert names == {"id", "email"}
    (template,) = found.templates.values()
    assert template.sql == plan.sql
    kinds = {leaves[p.index].path[0]: p.transform for p in template.params if isinstance(p, Slot)}
    assert kinds == {"id": "global id", "email": IDENTITY}


def test_a_value_inside_a_list_or_an_input_is_a_leaf_of_its_own():
    """`nodes(ids: $ids)` has one leaf per ID, each data; the list's length is in the shape."""
    ids = [relay.to_base64("Contact", 3), relay.to_base64("Lead", 4)]
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    found, leaves, _ = learnt(query, {"ids": ids})
    (learnt_data,) = found.data.values()
    assert sorted(leaves[i].path for i in learnt_data) == [("ids", 0), ("ids", 1)]


# --- generated documents with their literal arguments lifted into variables ----------------


def type_node(type_):
    if isinstance(type_, GraphQLNonNull):
        return NonNullTypeNode(type=type_node(type_.of_type))
    if isinstance(type_, GraphQLList):
        return ListTypeNode(type=type_node(type_.of_type))
    return NamedTypeNode(name=NameNode(value=type_.name))


class Lifter:
    """Replaces scalar literals (String, ID, Int, Float) in arguments by variables of the
    argument's type, as client code does, remembering the literal as the variable's value."""

    def __init__(self) -> None:
        self.definitions: list[VariableDefinitionNode] = []
        self.values: dict = {}

    def value(self, node, type_):
        inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if isinstance(inner, GraphQLList) and isinstance(node, ListValueNode):
            return replace(node, values=tuple(self.value(v, inner.of_type) for v in node.values))
        if isinstance(inner, GraphQLInputObjectType) and isinstance(node, ObjectValueNode):
            return replace(
                node,
                fields=tuple(
                    replace(f, value=self.value(f.value, inner.fields[f.name.value].type))
                    for f in node.fields
                ),
            )
        name = getattr(inner, "name", None)
        literals = {
            "String": StringValueNode,
            "ID": StringValueNode | IntValueNode,
            "Int": IntValueNode,
            "Float": FloatValueNode | IntValueNode,
        }
        if name not in literals or not isinstance(node, literals[name]):
            return node
        variable = f"v{len(self.definitions)}"
        self.definitions.append(
            VariableDefinitionNode(
                variable=VariableNode(name=NameNode(value=variable)), type=type_node(type_)
            )
        )
        raw = node.value
        self.values[variable] = (
            int(raw) if name == "Int" else float(raw) if name == "Float" else raw
        )
        return VariableNode(name=NameNode(value=variable))

    def selection_set(self, node, parent):
        if node is None:
            return None
        selections = []
        for sel in node.selections:
            if isinstance(sel, FieldNode):
                field_def = getattr(parent, "fields", {}).get(sel.name.value)
                inner = field_def.type if field_def is not None else None
                while isinstance(inner, GraphQLNonNull | GraphQLList):
                    inner = inner.of_type
                arguments = tuple(
                    replace(a, value=self.value(a.value, field_def.args[a.name.value].type))
                    if field_def is not None and a.name.value in field_def.args
                    else a
                    for a in sel.arguments or ()
                )
                sel = replace(
                    sel,
                    arguments=arguments,
                    selection_set=self.selection_set(sel.selection_set, inner),
                )
            elif isinstance(sel, InlineFragmentNode):
                inner = (
                    GRAPHQL_SCHEMA.get_type(sel.type_condition.name.value)
                    if sel.type_condition
                    else parent
                )
                sel = replace(sel, selection_set=self.selection_set(sel.selection_set, inner))
            selections.append(sel)
        return SelectionSetNode(selections=tuple(selections))

    def document(self, document):
        definitions = []
        for d in document.definitions:
            if isinstance(d, OperationDefinitionNode):
                selection_set = self.selection_set(d.selection_set, GRAPHQL_SCHEMA.query_type)
                d = replace(
                    d,
                    selection_set=selection_set,
                    variable_definitions=(*(d.variable_definitions or ()), *self.definitions),
                )
            definitions.append(d)
        return replace(document, definitions=tuple(definitions))


POOLS: dict[int, dict] = {}
TEXTS = ("", "L1", "l1", "p1@x.io", "P1@X.IO", "%", "_", " Solar ", "Solar", "é", "a\\b", "x y")


def other_values(values: dict, pools: dict, rng: random.Random) -> dict:
    """The same variables with other values a client might send: IDs of other rows of the same
    type (and of other types), other texts and numbers."""
    changed = {}
    for name, value in values.items():
        if rng.random() < 0.5:  # kept: a template serves only values that differ in data
            changed[name] = value
        elif isinstance(value, str):
            try:
                kind = relay.GlobalID.from_id(value).type_name
            except Exception:  # noqa: BLE001 - not an ID: any text
                kind = None
            pool = pools.get(kind) or TEXTS
            changed[name] = rng.choice([*pool, *TEXTS[:2]] if kind else pool)
        elif isinstance(value, float):
            changed[name] = rng.choice([value, 0.5, -2.0, 1e6])
        else:
            changed[name] = rng.choice([value, 0, 1, 2, 5, 100])
    return changed


@GENERATED
@given(document=DOCUMENTS, seed=st.integers(0, 2**32))
@pytest.mark.usefixtures("data")
async def test_generated_queries_with_other_values_agree_with_strawberry(
    tenant, settings, document, seed
):
    """Generated queries (fragments, realistic values) with their literal arguments lifted into
    variables: asked with the generated values (the template is learnt), then with other values. Whenever strawberry answers, the answer is strawberry's; whenever strawberry refuses
    the values, so does leadgraph."""
    lifter = Lifter()
    document = lifter.document(realistic(document, GRAPHQL_SCHEMA))
    if not lifter.values:
        return
    query = with_fragments(GRAPHQL_SCHEMA, document, seed)
    body = (await tenant.post(query, lifter.values)).json()
    if body.get("errors"):
        return
    rng = random.Random(seed)
    pools = POOLS.get(tenant.workspace.id)
    if pools is None:  # once per test (the data fixture is made once): keys are rate limited
        pools = POOLS[tenant.workspace.id] = {
            "Contact": await ids_of(tenant, "contacts"),
            "Lead": await ids_of(tenant, "leads"),
            "Account": await ids_of(tenant, "accounts"),
        }
    for _ in range(2):
        values = other_values(lifter.values, pools, rng)
        response = await tenant.post(query, values)
        body = response.json()
        expected, errors = await strawberry_answer(tenant, settings, query, values)
        if errors:
            assert body.get("errors"), (values, errors)
            continue
        assert not body.get("errors"), (values, body)
        fast, slow = tokens_without_time(body["data"]), tokens_without_time(expected)
        assert fast == slow, first_difference(fast, slow)


def test_blank_text_zero_and_other_kinds_never_share_a_template():
    """Values share a template key only with values of their kind: non-blank text with
    non-blank text, a number with one of the same sign, a global ID with one of the same type;
    blank text and zero are structural (their value is the key)."""
    query = parse("query($s: String, $n: Int, $x: Float, $id: ID) { __typename }")
    types = variable_types(query.definitions[0].variable_definitions, GRAPHQL_SCHEMA)

    def key(**values):
        return pre_key(*walk(values, types))

    contact, lead = relay.to_base64("Contact", 1), relay.to_base64("Lead", 1)
    base = {"s": "ann", "n": 5, "x": 2.5, "id": contact}
    assert key(**base) == key(s="bo", n=7, x=9.0, id=relay.to_base64("Contact", 9))
    for other in ({"s": ""}, {"s": "  "}, {"n": 0}, {"n": -5}, {"x": -2.5}, {"id": lead}):
        assert key(**base) != key(**(base | other)), other
    assert key(**(base | {"n": 0})) != key(**(base | {"n": 0, "s": ""}))


@pytest.mark.usefixtures("data")
async def test_a_data_number_out_of_range_is_refused_after_the_template_is_learnt(
    tenant, monkeypatch
):
    """A number the template takes as a parameter still has to be a GraphQL Int: a value out
    of 32 bits gets the pipeline's BAD_USER_INPUT, not a statement."""
    query = "query($n: Int) { leads(filter: {score: {gte: $n}}) { edges { node { score } } } }"
    await tenant.gql(query, {"n": 5})
    pipelines = Pipelines(monkeypatch)
    await tenant.gql(query, {"n": 7})
    assert pipelines.count == 0  # the template answered
    body = (await tenant.post(query, {"n": 2**31})).json()
    assert pipelines.count == 1
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
    assert "$n" in body["errors"][0]["message"]
