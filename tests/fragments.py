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
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
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
