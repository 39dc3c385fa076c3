"""Query cost from coerced arguments: how much work a query may make the database do.

A paged list costs its page size times the number of parents it is fetched for, as before; its
filter and search multiply that: each condition, each `and`/`or`/`not` term and each search word
adds one, and each relation hop (an `EXISTS` subquery) multiplies what it holds by `HOP`.
A top-level `totalCount` visits every matching row of the workspace and costs `SCAN` times the
same weight; a nested one is one grouped count per parent and costs one per parent.

Fields are costed by `FIELD_COSTS` (keys `"Type.field"` or `"field"`); a field returning a
`...Connection` is paged without an entry. Other fields cost nothing of their own.
"""

from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    get_named_type,
)

HOP = 5  # a relation filter: an EXISTS probe per candidate row; nested hops multiply
SCAN = 1_000  # totalCount: COUNT(*) over every matching row
COMBINATORS = frozenset({"and", "or", "not", "some", "none"})


@dataclass(frozen=True)
class FieldCost:
    """How one field is costed.

    paged: returns a page (first/last, else the default page size), weighted by its filter and
    search; list_argument: returns one item per element of that argument (`nodes(ids)`), at most
    LEADGRAPH_MAX_PAGE_SIZE; scans: visits every row its connection matches (`totalCount`);
    fixed: a flat amount; aggregates: reads every row its own filter and search match (a
    statistic over the workspace), SCAN times their weight; expensive: always counts as an
    expensive read (concurrency-capped)."""

    paged: bool = False
    aggregates: bool = False
    list_argument: str | None = None
    scans: bool = False
    fixed: int = 0
    expensive: bool = False


LIKE_LIST = FieldCost(paged=True)

FIELD_COSTS: dict[str, FieldCost] = {
    "Query.nodes": FieldCost(list_argument="ids"),
    "totalCount": FieldCost(scans=True),
    # Scores every lead of the workspace under a candidate model: a scan of its leads.
    "Query.previewScoringModel": FieldCost(fixed=SCAN, expensive=True),
    # Reports (issue 11): statistics over every matching row, like a top-level totalCount.
    "Query.leadStats": FieldCost(aggregates=True),
    "Query.contactStats": FieldCost(aggregates=True),
    "Query.interactionStats": FieldCost(aggregates=True),
    "Query.leadFunnel": FieldCost(aggregates=True),
    "Query.scoreHistogram": FieldCost(aggregates=True),
    "Account.rollup": FieldCost(fixed=10),  # one batched aggregate per account
    # Duplicate detection (issue 12) compares records pairwise: a page, and always expensive.
    "Query.duplicates": FieldCost(paged=True, expensive=True),
    # The change feed (issue 10): a page of `first` changes.
    "Query.changes": LIKE_LIST,
}


def field_cost(parent_type: str, field_name: str, return_type: Any) -> FieldCost | None:
    spec = FIELD_COSTS.get(f"{parent_type}.{field_name}") or FIELD_COSTS.get(field_name)
    if spec is None and get_named_type(return_type).name.endswith("Connection"):
        return LIKE_LIST
    return spec


def _unwrap(type_: GraphQLInputType) -> GraphQLInputType:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return type_


def _is_relation(type_: GraphQLInputType) -> bool:
    """A filter on other rows: an entity filter (it has `and`) or a list filter (`some`)."""
    named = get_named_type(type_)
    return isinstance(named, GraphQLInputObjectType) and bool({"and", "some"} & set(named.fields))


def input_terms(value: Any, type_: GraphQLInputType) -> int:
    """The weight of a coerced filter value (inputs are depth-checked before this runs)."""
    if value is None:
        return 0
    type_ = _unwrap(type_)
    if isinstance(type_, GraphQLList):
        if not isinstance(value, list):
            return input_terms(value, type_.of_type)
        item_type = _unwrap(type_.of_type)
        if not isinstance(item_type, (GraphQLInputObjectType, GraphQLList)):
            return 1 if value else 0  # an `in` list is one condition
        return sum(input_terms(v, item_type) for v in value)
    if isinstance(type_, GraphQLInputObjectType) and isinstance(value, dict):
        total = 0
        for name, field in type_.fields.items():
            inner = value.get(field.out_name or name)
            if inner is None:
                continue
            terms = input_terms(inner, field.type)
            if name in COMBINATORS:
                total += terms + 1
            elif _is_relation(field.type):
                total += HOP * (1 + terms)
            else:
                total += terms
        return total
    return 1


def search_terms(search: Any) -> int:
    return len(search.split()) if isinstance(search, str) else 0
