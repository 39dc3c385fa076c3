"""Rewrites a query the way client libraries write it: named fragments per type, inline
fragments (also on interfaces), `__typename` everywhere, `@include`/`@skip` directives.

The rewrite keeps the meaning: the executor's answer to the rewritten query is the answer to
the original (plus `__typename` keys). A seeded `random.Random` picks what to rewrite, so
hypothesis can shrink and replay the examples."""

import random
from dataclasses import replace

from graphql import (
    ArgumentNode,
    BooleanValueNode,
    DirectiveNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NamedTypeNode,
    NameNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    print_ast,
)


def _directive(name: str, value: bool) -> DirectiveNode:
    return DirectiveNode(
        name=NameNode(value=name),
        arguments=(ArgumentNode(name=NameNode(value="if"), value=BooleanValueNode(value=value)),),
    )


def _named(t):
    while isinstance(t, (GraphQLNonNull, GraphQLList)):
        t = t.of_type
    return t


class Rewriter:
    def __init__(self, schema: GraphQLSchema, rng: random.Random) -> None:
        self.schema = schema
        self.rng = rng
        self.fragments: list[FragmentDefinitionNode] = []

    def selection_set(self, node: SelectionSetNode, parent) -> SelectionSetNode:
        selections = []
        for sel in node.selections:
            if (
                isinstance(sel, FieldNode)
                and sel.selection_set
                and not sel.name.value.startswith("__")
            ):
                field_type = _named(parent.fields[sel.name.value].type)
                sel = replace(sel, selection_set=self.selection_set(sel.selection_set, field_type))
            elif isinstance(sel, InlineFragmentNode):
                inner = (
                    self.schema.get_type(sel.type_condition.name.value)
                    if sel.type_condition
                    else parent
                )
                sel = replace(sel, selection_set=self.selection_set(sel.selection_set, inner))
            selections.append(sel)
        if self.rng.random() < 0.5:
            selections.append(FieldNode(name=NameNode(value="__typename")))
        choice = self.rng.random()
        condition = NamedTypeNode(name=NameNode(value=parent.name))
        inner = SelectionSetNode(selections=tuple(selections))
        if choice < 0.4:
            name = f"{parent.name}Parts{len(self.fragments)}"
            self.fragments.append(
                FragmentDefinitionNode(
                    name=NameNode(value=name), type_condition=condition, selection_set=inner
                )
            )
            selections = [FragmentSpreadNode(name=NameNode(value=name))]
        elif choice < 0.6:
            selections = [
                InlineFragmentNode(
                    type_condition=condition,
                    directives=(_directive("include", True),),
                    selection_set=inner,
                )
            ]
        elif choice < 0.7:
            selections = [
                InlineFragmentNode(directives=(_directive("skip", False),), selection_set=inner)
            ]
        return SelectionSetNode(selections=tuple(selections))

    def document(self, document: DocumentNode) -> DocumentNode:
        definitions = []
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                definition = replace(
                    definition,
                    selection_set=self.selection_set(
                        definition.selection_set, self.schema.query_type
                    ),
                )
            definitions.append(definition)
        return DocumentNode(definitions=(*definitions, *self.fragments))


def with_fragments(schema: GraphQLSchema, document: DocumentNode, seed: int) -> str:
    """The query text as a client library would send it."""
    return print_ast(Rewriter(schema, random.Random(seed)).document(document))


VALID_IDS = ("QWNjb3VudDox", "Q29udGFjdDox", "TGVhZDox", "U2NvcmluZ01vZGVsOjE=")
# Arguments a client fills from the app's state, not at random: the value a real client sends.
CLIENT_VALUES = {
    "timeZone": StringValueNode(value="Europe/Berlin"),
    "from": StringValueNode(value="2026-01-01T00:00:00Z"),
    "to": StringValueNode(value="2026-07-01T00:00:00Z"),
    "modelId": StringValueNode(value=VALID_IDS[3]),
}
DUPLICATE_TYPES = ("CONTACT", "ACCOUNT")  # what `duplicates(type:)` takes of RecordType


def _realistic_value(value, of_type, index: int = 0):
    """IDs anywhere in an input (filters, lists) become well-formed IDs; the rest is kept."""
    while isinstance(of_type, GraphQLNonNull):
        of_type = of_type.of_type
    if isinstance(of_type, GraphQLList) and isinstance(value, ListValueNode):
        return replace(
            value,
            values=tuple(
                _realistic_value(v, of_type.of_type, i) for i, v in enumerate(value.values)
            ),
        )
    if isinstance(of_type, GraphQLInputObjectType) and isinstance(value, ObjectValueNode):
        return replace(
            value,
            fields=tuple(
                replace(f, value=_realistic_value(f.value, of_type.fields[f.name.value].type))
                for f in value.fields
            ),
        )
    if getattr(of_type, "name", None) == "ID" and isinstance(
        value, (StringValueNode, IntValueNode)
    ):
        return StringValueNode(value=VALID_IDS[index % len(VALID_IDS)])
    return value


def _realistic_arguments(field: FieldNode, field_def) -> tuple:
    arguments = []
    names = {a.name.value for a in field.arguments or ()}
    for argument in field.arguments or ():
        name, value = argument.name.value, argument.value
        if name in ("after", "before", "since") or (name == "last" and "first" in names):
            continue  # random cursors and sync tokens, first+last: client errors
        if name in ("first", "last") and isinstance(value, IntValueNode):
            value = IntValueNode(value=str(min(max(int(value.value), 1), 100)))
        elif name == "bucketSize" and isinstance(value, IntValueNode):
            value = IntValueNode(value=str(min(max(int(value.value), 1), 1000)))
        elif name in CLIENT_VALUES and isinstance(value, StringValueNode):
            value = CLIENT_VALUES[name]
        elif name == "type" and field.name.value == "duplicates":
            value = EnumValueNode(value=DUPLICATE_TYPES[len(str(value)) % 2])
        elif field_def is not None and name in field_def.args:
            value = _realistic_value(value, field_def.args[name].type)
        arguments.append(replace(argument, value=value))
    return tuple(arguments)


def _realistic(node: SelectionSetNode | None, parent, schema) -> SelectionSetNode | None:
    if node is None:
        return None
    selections = []
    for sel in node.selections:
        if isinstance(sel, FieldNode):
            field_def = getattr(parent, "fields", {}).get(sel.name.value)
            inner = _named(field_def.type) if field_def is not None else None
            sel = replace(
                sel,
                arguments=_realistic_arguments(sel, field_def),
                selection_set=_realistic(sel.selection_set, inner, schema),
            )
        elif isinstance(sel, InlineFragmentNode):
            inner = schema.get_type(sel.type_condition.name.value) if sel.type_condition else parent
            sel = replace(sel, selection_set=_realistic(sel.selection_set, inner, schema))
        selections.append(sel)
    return SelectionSetNode(selections=tuple(selections))


def realistic(document: DocumentNode, schema: GraphQLSchema) -> DocumentNode:
    """The same query without what only a fuzzer sends: random cursors, sync tokens and IDs
    (also inside filters), page and bucket sizes out of range, `first` with `last`, unknown time
    zones, an empty period, record types `duplicates` does not take. The compiler declines those
    as client errors, as it should; they say nothing about what it covers."""
    return DocumentNode(
        definitions=tuple(
            replace(d, selection_set=_realistic(d.selection_set, schema.query_type, schema))
            if isinstance(d, OperationDefinitionNode)
            else d
            for d in document.definitions
        )
    )
