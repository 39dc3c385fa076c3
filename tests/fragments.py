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
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NamedTypeNode,
    NameNode,
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


def _realistic_arguments(field: FieldNode) -> tuple:
    arguments = []
    names = {a.name.value for a in field.arguments or ()}
    for argument in field.arguments or ():
        name, value = argument.name.value, argument.value
        if name in ("after", "before") or (name == "last" and "first" in names):
            continue  # random cursors and first+last are client errors
        if name in ("first", "last") and isinstance(value, IntValueNode):
            value = IntValueNode(value=str(min(max(int(value.value), 0), 100)))
        elif name == "id" and isinstance(value, StringValueNode):
            value = StringValueNode(value=VALID_IDS[len(value.value) % len(VALID_IDS)])
        elif name == "ids" and isinstance(value, ListValueNode):
            value = ListValueNode(
                values=tuple(StringValueNode(value=i) for i in VALID_IDS[: len(value.values)])
            )
        arguments.append(replace(argument, value=value))
    return tuple(arguments)


def _realistic(node: SelectionSetNode | None) -> SelectionSetNode | None:
    if node is None:
        return None
    selections = []
    for sel in node.selections:
        if isinstance(sel, FieldNode):
            sel = replace(
                sel,
                arguments=_realistic_arguments(sel),
                selection_set=_realistic(sel.selection_set),
            )
        elif isinstance(sel, InlineFragmentNode):
            sel = replace(sel, selection_set=_realistic(sel.selection_set))
        selections.append(sel)
    return SelectionSetNode(selections=tuple(selections))


def realistic(document: DocumentNode) -> DocumentNode:
    """The same query without what only a fuzzer sends: random cursors and IDs, page sizes out of
    range, `first` with `last` (the compiler declines those as client errors, as it should)."""
    return DocumentNode(
        definitions=tuple(
            replace(d, selection_set=_realistic(d.selection_set))
            if isinstance(d, OperationDefinitionNode)
            else d
            for d in document.definitions
        )
    )
