"""recordInteraction's lane: the mutation answered without strawberry's execution.

When the full pipeline has answered a recordInteraction document without errors (on PostgreSQL,
for a caller's workspace and role), every check that depends only on the document and the
caller held: parsing, validation, depth, aliases, tokens, NUL in literals, permissions, the
capture-only rule, and the cost (the lane takes only selections without arguments below the root,
whose cost is nil whatever the variables). `mark` then stores the lane for that key: the root
field, its variable definitions and a plan of the payload's selection (graphql-core's
`collect_fields`/`collect_subfields`, so fragments, aliases and `__typename` are the library's).

`answer` serves a later request with the same key: it coerces the variables with graphql-core,
runs the checks that depend on them (coercion, NUL, input depth and sizes), converts the input as
strawberry does, records it through `resolvers.recording.record_rows` and renders the payload by
the plan, each leaf serialised by its GraphQL type as execution would. Anything else goes to the
full pipeline (None): a document with directives, a field with a resolver of its own, variables
that do not coerce, an input `resolvers.recording` does not take, and any error before the
COMMIT (nothing was written; the pipeline runs it with its retries and reports it as it does).
"""

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from graphql import (
    DirectiveNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    OperationType,
    get_named_type,
    get_operation_ast,
    is_leaf_type,
    is_object_type,
    visit,
)
from graphql.execution.collect_fields import FragmentDetails, collect_fields, collect_subfields
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language import Visitor
from strawberry import relay
from strawberry.types.arguments import convert_arguments
from strawberry.types.base import StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition

from api.input_checks import check_value
from api.inputs.interaction import RecordInteractionInput
from api.limits import _has_nul
from api.types.interaction import RecordInteractionPayload
from api.types.lead import Lead
from models.errors import DomainError, DomainErrors
from models.sql import connection, is_postgres
from resolvers import recording
from resolvers.mutations import user_errors

FIELD = "recordInteraction"
STRAWBERRY_FIELD = "strawberry-definition"
CACHE_SIZE = 2000
TYPENAME, ID, LEAF, OBJECT, REF = range(5)


class Ineligible(Exception):
    """The selection needs something the lane does not render; the pipeline answers it."""


@dataclass(frozen=True)
class Lane:
    operation_name: str  # as metrics and logs name it
    key: str  # the root field's response key (its alias)
    node: FieldNode
    field_def: GraphQLField
    variable_definitions: Any
    payload: tuple
    input_fields: tuple | None  # see input_fields()


answered = 0  # requests the lane answered (tests read it)
uncertain = 0  # of which their COMMIT failed (tests read it)


def input_fields(schema: Any) -> tuple | None:
    """(GraphQL name, Python name, is a GlobalID) per field of RecordInteractionInput when each
    is a scalar, an enum or a GlobalID: what strawberry's `convert_arguments` does to such an
    input (GlobalID.from_id on the IDs, every other coerced value as it is) in a few
    microseconds instead of its generic walk; None sends the lane through `convert_arguments`."""
    definition = RecordInteractionInput.__strawberry_definition__  # type: ignore[attr-defined]
    registry = schema.schema_converter.scalar_registry
    fields = []
    for field in definition.fields:
        type_ = field.resolve_type(type_definition=definition)
        if isinstance(type_, StrawberryOptional):
            type_ = type_.of_type
        if type_ is not relay.GlobalID and not (
            isinstance(type_, StrawberryEnumDefinition) or _registered(type_, registry)
        ):
            return None
        name = schema.config.name_converter.from_field(field)
        fields.append((name, field.python_name, type_ is relay.GlobalID))
    return tuple(fields)


def _registered(type_: Any, registry: Any) -> bool:
    try:
        return type_ in registry
    except TypeError:  # unhashable: not a scalar
        return False


def convert_input(schema: Any, lane: Lane, args: dict) -> Any:
    """The resolver's `input` argument from the coerced arguments, as strawberry builds it."""
    if lane.input_fields is None:
        strawberry_field = lane.field_def.extensions[STRAWBERRY_FIELD]
        return convert_arguments(
            args,
            strawberry_field.arguments,
            scalar_registry=schema.schema_converter.scalar_registry,
            config=schema.config,
        )["input"]
    value, kwargs = args["input"], {}
    for graphql_name, python_name, global_id in lane.input_fields:
        if graphql_name in value:
            given = value[graphql_name]
            kwargs[python_name] = (
                relay.GlobalID.from_id(given) if global_id and given is not None else given
            )
    return RecordInteractionInput(**kwargs)


def lanes(schema: Any) -> OrderedDict:
    """The schema's lanes by `lane_key` (None: the pipeline answers that document): each app
    has its own schema and settings, so lanes never cross apps."""
    found = schema.__dict__.get("_leadgraph_recording_lanes")
    if found is None:
        found = schema.__dict__["_leadgraph_recording_lanes"] = OrderedDict()
    return found


def lane_key(query: Any, operation_name: Any, principal: Any, postgres: bool) -> tuple:
    return (query, operation_name, principal.workspace_id, principal.role, postgres)


class _Directives(Visitor):
    found = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        self.found = True


def _is_list(type_: Any) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def _plan(schema, fragments, operation, parent: GraphQLObjectType, fields: dict) -> tuple:
    """How to render `fields` of a `parent` object (see `render`)."""
    plan = []
    node_type = "Node" in {i.name for i in parent.interfaces}
    for key, details_list in fields.items():
        name = details_list[0].node.name.value
        if name == "__typename":
            plan.append((TYPENAME, key, parent.name))
            continue
        field_def = parent.fields[name]
        field = (field_def.extensions or {}).get(STRAWBERRY_FIELD)
        if field is None or field_def.args or details_list[0].node.arguments:
            raise Ineligible(name)
        named = get_named_type(field_def.type)
        if name == "id" and node_type:
            plan.append((ID, key, parent.name))
        elif field.base_resolver is not None:
            if parent.name == "ScoreChange" and name == "lead":
                # The lead as the write statement read it back: what the pipeline primes the
                # leads' loader with (resolvers/recording.py: record_one).
                sub = _subplan(schema, fragments, operation, named, details_list)
                plan.append((REF, key, "lead_id", sub))
            else:
                raise Ineligible(name)
        elif is_leaf_type(named):
            plan.append((LEAF, key, field.python_name, named.serialize, _is_list(field_def.type)))
        elif is_object_type(named):
            sub = _subplan(schema, fragments, operation, named, details_list)
            plan.append((OBJECT, key, field.python_name, sub, _is_list(field_def.type)))
        else:
            raise Ineligible(name)
    return tuple(plan)


def _subplan(schema, fragments, operation, type_: GraphQLObjectType, details_list) -> tuple:
    collected = collect_subfields(schema, fragments, {}, operation, type_, details_list)
    return _plan(schema, fragments, operation, type_, collected.grouped_field_set)


def build(schema: Any, document: Any, operation_name: str | None) -> Lane | None:
    """The lane for a document whose only root field is recordInteraction, or None."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.MUTATION:
        return None
    directives = _Directives()
    visit(document, directives)
    if directives.found:
        return None
    gschema = schema._schema
    fragments = {
        d.name.value: FragmentDetails(d)
        for d in document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    root = gschema.mutation_type
    grouped = collect_fields(gschema, fragments, {}, root, operation).grouped_field_set
    if len(grouped) != 1:
        return None
    ((key, details_list),) = grouped.items()
    if details_list[0].node.name.value != FIELD or len(details_list) != 1:
        return None
    field_def = root.fields[FIELD]
    try:
        payload = _subplan(
            gschema, fragments, operation, get_named_type(field_def.type), details_list
        )
    except Ineligible:
        return None
    return Lane(
        operation.name.value if operation.name else "",
        key,
        details_list[0].node,
        field_def,
        operation.variable_definitions or (),
        payload,
        input_fields(schema),
    )


def mark(schema: Any, ctx: Any, principal: Any, postgres: bool) -> None:
    """The pipeline answered this request without errors: store its lane (or that it has none)."""
    sent_name = getattr(ctx, "_provided_operation_name", ctx.operation_name)
    key = lane_key(ctx.query, sent_name, principal, postgres)
    stored = lanes(schema)
    if key in stored:
        return
    stored[key] = build(schema, ctx.graphql_document, ctx.operation_name) if postgres else None
    if len(stored) > CACHE_SIZE:
        stored.popitem(last=False)


def render(plan: tuple, value: Any, leads: dict[int, Any]) -> dict:
    """`value`'s selection as execution would build it; `leads` by id for ScoreChange.lead."""
    out: dict[str, Any] = {}
    for entry in plan:
        kind, key = entry[0], entry[1]
        if kind == TYPENAME:
            out[key] = entry[2]
        elif kind == ID:
            out[key] = relay.to_base64(entry[2], value.id)
        elif kind == LEAF:
            found, serialize = getattr(value, entry[2]), entry[3]
            if found is None:
                out[key] = None
            elif entry[4]:
                out[key] = [None if v is None else serialize(v) for v in found]
            else:
                out[key] = serialize(found)
        elif kind == OBJECT:
            found = getattr(value, entry[2])
            if found is None:
                out[key] = None
            elif entry[4]:
                out[key] = [None if v is None else render(entry[3], v, leads) for v in found]
            else:
                out[key] = render(entry[3], found, leads)
        else:  # REF: every lead a change names is among the leads the statement read back
            out[key] = render(entry[3], leads[getattr(value, entry[2])], leads)
    return out


class Uncertain(Exception):
    """The COMMIT failed: the caller reports the error as execution would, and retries nothing."""

    def __init__(self, error: Exception, node: FieldNode, key: str, operation_name: str) -> None:
        super().__init__(str(error))
        self.error, self.node, self.key, self.operation_name = error, node, key, operation_name


@dataclass(frozen=True)
class Answer:
    data: dict
    operation_name: str


async def answer(schema: Any, settings: Any, request_data: Any, principal: Any) -> Answer | None:
    """The answer to a recordInteraction request with a stored lane, or None (see the module)."""
    global answered, uncertain
    stored = lanes(schema)
    if not stored or principal is None:
        return None
    postgres = is_postgres(connection())
    key = lane_key(request_data.query, request_data.operation_name, principal, postgres)
    lane = stored.get(key)
    if lane is None:
        return None
    variables = request_data.variables or {}
    if _has_nul(variables):
        return None
    gschema = schema._schema
    coerced = get_variable_values(gschema, lane.variable_definitions, variables)
    if isinstance(coerced, list):
        return None
    try:
        args = get_argument_values(lane.field_def, lane.node, coerced)
        argument = lane.field_def.args["input"]
        check_value(args["input"], [lane.key, "input"], settings.max_input_depth, argument.type)
        item = convert_input(schema, lane, args)
    except Exception:  # the pipeline reports it (a malformed ID, say) as it does
        return None
    if not recording.takes(item):
        return None
    try:
        interaction, changes, rows = await recording.record_rows(principal, item)
        payload = RecordInteractionPayload(
            interaction=interaction, score_changes=changes, user_errors=[]
        )
    except DomainErrors as e:
        rows = []
        payload = RecordInteractionPayload(
            interaction=None, score_changes=[], user_errors=user_errors(e.errors)
        )
    except DomainError as e:
        rows = []
        payload = RecordInteractionPayload(
            interaction=None, score_changes=[], user_errors=user_errors([e])
        )
    except Exception as exc:
        if recording.committing(exc):  # it may have been written: report it, run nothing again
            uncertain += 1
            raise Uncertain(exc, lane.node, lane.key, lane.operation_name) from exc
        return None
    leads = {row["id"]: Lead.from_row(row) for row in rows} if payload.score_changes else {}
    answered += 1
    return Answer({lane.key: render(lane.payload, payload, leads)}, lane.operation_name)


def lane_marker():
    """A SchemaExtension class storing lanes after answers without errors (see `mark`)."""
    from strawberry.extensions import SchemaExtension

    class RecordingLanes(SchemaExtension):
        def on_execute(self):
            yield
            ctx = self.execution_context
            result = ctx.result
            principal = getattr(ctx.context, "principal", None)
            if (
                principal is not None
                and result is not None
                and not result.errors
                and result.data is not None
                and ctx.graphql_document is not None
                and isinstance(ctx.query, str)
                and FIELD in ctx.query
                and not getattr(ctx.context, "needs_slot", False)
            ):
                mark(ctx.schema, ctx, principal, is_postgres(connection()))

    return RecordingLanes
