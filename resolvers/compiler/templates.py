"""Plans shared across variable values: a document compiled once serves every request that
differs only in values the statement takes as parameters (a new `$id`, a new `eq` value).

A request's variables are walked by their GraphQL types into *leaves* (scalar values at a path)
and a *shape* (which keys, which list lengths, which JSON types). A non-blank String or ID, or a
non-zero Int or Float, is a *candidate*: perhaps the compiler only passes it to the statement
as a parameter, as it is (`IDENTITY`) or, for a global ID, as its row number (`GLOBAL_ID`).
Nothing in the compiler says so, so it is found out, once per shape, by compiling again with
*probes*: two values per candidate of the same kind as the request's (a global ID of the same
type, text, a number of the same sign), chosen to make any other use show: text with spaces at
both ends, mixed case, LIKE wildcards, quotes and a backslash, one short and one long; a small
and a huge number. A set of candidates is *data* when, with both probe sets, the statement's
text is the same, every parameter that differs is exactly one candidate's probe under one
transform, and the preflight's bill (cost, page and cursor checks) is the same and free of
errors. The template must then give the request's own plan when bound with the request's own
values: three values of a kind took the same path through the compiler.

Every other leaf is *structural*: its value is part of the template's key, so a value never seen
is compiled by the full pipeline (which then learns its template); blank text, zero and a value
of another kind (a global ID of another type, a number of the other sign) never share a
template with the probed ones. A request answered by a template has the checks that depend on
values run again on its own variables: NUL, coercion and the per-value input checks
(`api.input_checks.check_value`). Everything else the pipeline checks depends only on the
document, the caller and the structural values, which the key holds, or was shown unchanged by
the probes (the bill). `tests/test_compiler_templates.py` holds template answers to strawberry's
on generated queries whose literals are lifted into variables and sent with other values.
"""

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    get_operation_ast,
    type_from_ast,
)
from strawberry import relay
from strawberry.relay import GlobalID
from strawberry.relay.types import GlobalIDValueError

from api.errors import ApiError
from api.input_checks import check_value
from api.limits import _has_nul
from resolvers.compiler.compiler import MAX_NODE_ID
from resolvers.compiler.outcomes import Decline

IDENTITY, GLOBAL_ID = "identity", "global id"
MIN_INT, MAX_INT = -(2**31), 2**31 - 1  # GraphQL's Int
CANDIDATE_TYPES = frozenset({"String", "ID", "Int", "Float"})
MAX_CANDIDATES = 16  # more leaves than this: every one is structural (probing costs compiles)
CACHE_SIZE = 2000
# Two probes per kind of value (see the module docstring); distinct from each other.
TEXT_PROBES = (" Lg%_\\'\"Probe É1 x ", " lG_%\\\"'pROBE é2 y " * 40)
INT_PROBES = (7_919, 1_999_990_013)  # negated for a negative value
FLOAT_PROBES = (1_234.375, 7.5e9)
ROW_PROBES = (1_999_990_001, 1_999_990_007)  # row numbers of probe global IDs (< MAX_NODE_ID)


@dataclass(frozen=True)
class Leaf:
    path: tuple  # keys and list indexes from the variables object
    value: Any  # as sent (JSON)
    scalar: GraphQLScalarType | None  # the leaf's type when it is a candidate, else None
    node_type: str | None = None  # the type of a global ID whose row number is valid
    row: int | None = None  # that global ID's row number

    @property
    def candidate(self) -> bool:
        return self.scalar is not None

    @property
    def kind(self) -> str:
        """What the probes share with the value (part of the pre-key): a global ID's type,
        non-blank text, or a number's sign. Blank text and zero are never candidates."""
        if self.node_type is not None:
            return self.node_type
        if isinstance(self.value, str):
            return "text"
        return "negative" if self.value < 0 else "positive"


@dataclass(frozen=True)
class Slot:
    """A parameter of a template filled from leaf `index` by `transform`."""

    index: int
    transform: str


@dataclass(frozen=True)
class Template:
    sql: str
    params: tuple  # constants and Slots
    operation: str
    explains: bool


@dataclass
class DocumentTemplates:
    """What one (document, operation, caller, database) has learnt: which leaves are data per
    key of everything else, and the templates by the structural values."""

    types: list  # (variable name, GraphQL type) per definition
    data: dict = field(default_factory=dict)  # pre-key -> frozenset of data leaf indexes
    templates: OrderedDict = field(default_factory=OrderedDict)  # key -> Template


def walk(variables: dict, types: list) -> tuple[tuple, list[Leaf]]:
    """The shape of the variables as sent and their leaves, in a fixed order."""
    leaves: list[Leaf] = []

    def visit(value: Any, type_: Any, path: tuple) -> Any:
        while isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            if isinstance(value, list):
                return (
                    "[",
                    tuple(visit(v, type_.of_type, (*path, i)) for i, v in enumerate(value)),
                )
            return ("1", visit(value, type_.of_type, path))
        if isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
            keys = sorted(value)
            fields = type_.fields
            return (
                "{",
                tuple(
                    (k, visit(value[k], fields[k].type if k in fields else None, (*path, k)))
                    for k in keys
                ),
            )
        if isinstance(value, dict | list):
            return ("?", repr(value))  # not what the type takes: coercion refuses it
        leaves.append(_leaf(value, type_, path))
        return type(value).__name__

    shape = tuple(
        (name, visit(variables[name], type_, (name,)) if name in variables else "-")
        for name, type_ in types
    )
    return shape, leaves


def variable_types(definitions: Any, schema: Any) -> list[tuple[str, Any]]:
    return [(d.variable.name.value, type_from_ast(schema, d.type)) for d in definitions]


def _leaf(value: Any, type_: Any, path: tuple) -> Leaf:
    if (
        not isinstance(type_, GraphQLScalarType)
        or type_.name not in CANDIDATE_TYPES
        or isinstance(value, bool)
        or value is None
    ):
        return Leaf(path, value, None)
    kinds = {"String": (str,), "ID": (str,), "Int": (int,), "Float": (int, float)}[type_.name]
    if not isinstance(value, kinds) or (
        value.strip() == "" if isinstance(value, str) else not value
    ):
        return Leaf(path, value, None)  # blank and zero may well mean something of their own
    if type_.name == "ID":
        gid = _global_id(value)
        if gid is not None:
            return Leaf(path, value, type_, gid.type_name, int(gid.node_id))
    return Leaf(path, value, type_)


def _global_id(text: str) -> GlobalID | None:
    """A global ID whose row number the compiler looks up (else None)."""
    try:
        gid = GlobalID.from_id(text)
    except GlobalIDValueError:
        return None
    node_id = gid.node_id
    if not (node_id.isascii() and node_id.isdigit()) or int(node_id) > MAX_NODE_ID:
        return None
    return gid


def pre_key(shape: tuple, leaves: list[Leaf]) -> tuple:
    """Everything but the candidates' values (their kind is kept)."""
    return (shape, tuple(leaf.kind if leaf.candidate else leaf.value for leaf in leaves))


def key_of(pre: tuple, leaves: list[Leaf], data: frozenset) -> tuple:
    return (
        pre,
        tuple(leaf.value for i, leaf in enumerate(leaves) if leaf.candidate and i not in data),
    )


def probe(leaf: Leaf, n: int, index: int) -> Any:
    """Probe `n` (0 or 1) of leaf `index`: distinct from every other leaf's probes."""
    if leaf.node_type is not None:
        return relay.to_base64(leaf.node_type, ROW_PROBES[n] + 16 * index)
    if isinstance(leaf.value, str):
        return f"{TEXT_PROBES[n]}{index} "
    number = (FLOAT_PROBES if isinstance(leaf.value, float) else INT_PROBES)[n] + 16 * index
    return -number if leaf.value < 0 else number


def transformed(leaf: Leaf, raw: Any, transform: str) -> Any:
    value = leaf.scalar.parse_value(raw)  # type: ignore[union-attr]
    if transform == GLOBAL_ID:
        return int(GlobalID.from_id(value).node_id)
    return value


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type, inside lists too (1, 1.0 and True are different parameters)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def substitute(variables: dict, replacements: dict[tuple, Any]) -> dict:
    """A copy of `variables` with the values at the given paths replaced."""

    def copy(value: Any, path: tuple) -> Any:
        if path in replacements:
            return replacements[path]
        if isinstance(value, dict):
            return {k: copy(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [copy(v, (*path, i)) for i, v in enumerate(value)]
        return value

    return {k: copy(v, (k,)) for k, v in variables.items()}


class Learner:
    """Derives templates (the module docstring) with the compiler and the preflight's bill."""

    def __init__(self, compile_plan, bill_of, plan: Any, bill: Any) -> None:
        self.compile_plan = compile_plan  # variables -> Plan (raises Decline)
        self.bill_of = bill_of  # variables -> bill (raises GraphQLError/ApiError)
        self.plan = plan
        self.bill = bill

    def attempt(self, variables: dict, leaves: list[Leaf], chosen: list[int]):
        """(sql, params with Slots) when every leaf in `chosen` is data, else None."""
        plans = []
        for n in (0, 1):
            probed = substitute(variables, {leaves[i].path: probe(leaves[i], n, i) for i in chosen})
            try:
                plan = self.compile_plan(probed)
                if self.bill_of(probed) != self.bill:
                    return None
            except (Decline, GraphQLError, ApiError):
                return None
            plans.append(plan)
        first, second = plans
        if first.sql != second.sql or len(first.params) != len(second.params):
            return None
        params: list[Any] = []
        for a, b in zip(first.params, second.params, strict=True):
            if same(a, b):
                params.append(a)
                continue
            owners = [
                Slot(i, t)
                for i in chosen
                for t in ((GLOBAL_ID, IDENTITY) if leaves[i].node_type else (IDENTITY,))
                if same(a, transformed(leaves[i], probe(leaves[i], 0, i), t))
                and same(b, transformed(leaves[i], probe(leaves[i], 1, i), t))
            ]
            if len(owners) != 1:
                return None
            params.append(owners[0])
        return first.sql, tuple(params)

    def learn(self, variables: dict, leaves: list[Leaf], data: frozenset | None):
        """(data leaves, template or None). `data` is known for this pre-key, or None."""
        if data is None:
            candidates = [i for i, leaf in enumerate(leaves) if leaf.candidate]
            if not candidates or len(candidates) > MAX_CANDIDATES:
                return frozenset(), None
            found = self.attempt(variables, leaves, candidates)
            if found is None:
                good = [i for i in candidates if self.attempt(variables, leaves, [i])]
                found = self.attempt(variables, leaves, good) if good else None
                candidates = good if found is not None else []
            data = frozenset(candidates)
        elif data:
            found = self.attempt(variables, leaves, sorted(data))
        else:
            found = None
        if not data or found is None:
            return (data if found is not None else frozenset()), None
        sql, params = found
        template = Template(sql, params, self.plan.operation, self.plan.explains)
        bound = bind(template, leaves)
        if sql != self.plan.sql or bound is None or not same(list(bound), list(self.plan.params)):
            return frozenset(), None  # the request's own values take another path
        return data, template


def bind(template: Template, leaves: list[Leaf]) -> tuple | None:
    """The template's parameters for these leaves (None when a value does not convert)."""
    try:
        return tuple(
            (
                leaves[p.index].row
                if p.transform == GLOBAL_ID
                else transformed(leaves[p.index], leaves[p.index].value, p.transform)
            )
            if isinstance(p, Slot)
            else p
            for p in template.params
        )
    except (GraphQLError, GlobalIDValueError, ValueError, TypeError):
        return None


def _takes(leaf: Leaf, max_depth: int) -> bool:
    """Whether a candidate's value passes coercion and the per-value input checks. The rest of
    the variables coerced and passed when the template was learnt: the same shape (keys, list
    lengths, JSON types) and the same structural values coerce the same way, so a candidate's
    own value is what is left: an Int in 32 bits, and `check_value`'s text and ID checks."""
    if leaf.scalar is GraphQLInt and not MIN_INT <= leaf.value <= MAX_INT:
        return False
    try:
        check_value(leaf.value, list(leaf.path), max_depth, leaf.scalar)
    except ApiError:
        return False
    return True


class Templates:
    """Templates by (query, operation name, workspace, role, database); bounded, LRU out."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.documents: OrderedDict[tuple, DocumentTemplates] = OrderedDict()

    def find(self, schema: Any, settings: Any, key: tuple, variables: Any) -> tuple | None:
        """(template, parameters) for a request, after its value checks; None: the pipeline."""
        document = self.documents.get(key)
        if document is None or not isinstance(variables, dict) or _has_nul(variables):
            return None
        shape, leaves = walk(variables, document.types)
        pre = pre_key(shape, leaves)
        data = document.data.get(pre)
        if not data:
            return None
        template = document.templates.get(key_of(pre, leaves, data))
        if template is None:
            return None
        if not all(_takes(leaf, settings.max_input_depth) for leaf in leaves if leaf.candidate):
            return None
        params = bind(template, leaves)
        return None if params is None else (template, params)

    def learn(
        self, schema: Any, key: tuple, document: Any, operation_name: Any, variables: Any, learner
    ) -> None:
        """After the pipeline answered this request by `learner.plan`: derive its template."""
        if not isinstance(variables, dict) or not variables:
            return  # no variables: exact repeats (PlanCache.answered) serve it
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return
        found = self.documents.get(key)
        if found is None:
            found = self.documents[key] = DocumentTemplates(
                variable_types(operation.variable_definitions or (), schema._schema)
            )
            if len(self.documents) > self.size:
                self.documents.popitem(last=False)
        else:
            self.documents.move_to_end(key)
        shape, leaves = walk(variables, found.types)
        pre = pre_key(shape, leaves)
        known = found.data.get(pre)
        if known is not None and (not known or key_of(pre, leaves, known) in found.templates):
            return  # nothing to learn: no data leaves, or the template is known
        data, template = learner.learn(variables, leaves, known)
        if known is None or not data:
            found.data[pre] = data
        if template is not None:
            found.templates[key_of(pre, leaves, data)] = template
            if len(found.templates) > self.size:
                found.templates.popitem(last=False)
