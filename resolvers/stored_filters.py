"""LeadFilter inputs stored as JSON (attribute rules, entry criteria) and compiled back to SQL.

A filter is stored as the GraphQL value the client sent (field names, ID strings, ISO
timestamps, enum names), and read back through graphql-core's and strawberry's own input
coercion, so a stored filter means exactly what it meant in the list query."""

import datetime as dt
import enum
from functools import cache
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLInputType, coerce_input_value
from strawberry import relay
from strawberry.types.arguments import convert_argument

from api.inputs.filters import LeadFilter
from models import lead_matching
from models.sql import Sql
from resolvers.filtering import lead_condition

# Filters on what a re-score itself writes (scores, readiness, status promotion) would feed back
# into the score they decide.
REFUSED_FIELDS = {"score", "salesReady", "status"}


@strawberry.type
class _FilterSchemaQuery:
    @strawberry.field
    def lead_filter(self, filter: LeadFilter) -> int:  # pragma: no cover - never executed
        return 0


@cache
def _schema() -> strawberry.Schema:
    """A one-field schema holding LeadFilter, for coercion only."""
    return strawberry.Schema(query=_FilterSchemaQuery)


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if isinstance(value, relay.GlobalID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.name
    definition = getattr(value, "__strawberry_definition__", None)
    if definition is None:
        return value
    converter = _schema().config.name_converter
    out = {}
    for field in definition.fields:
        item = getattr(value, field.python_name)
        if item is None or item is strawberry.UNSET:
            continue
        out[converter.get_graphql_name(field)] = _dump(item)
    return out


def dump_lead_filter(value: LeadFilter) -> dict[str, Any]:
    """The filter as the JSON a client would send for it."""
    return _dump(value)


def load_lead_filter(data: dict[str, Any]) -> LeadFilter:
    schema = _schema()
    graphql_type: GraphQLInputType = schema._schema.get_type("LeadFilter")  # type: ignore[assignment]
    coerced = coerce_input_value(data, graphql_type)
    return convert_argument(  # type: ignore[return-value]
        coerced, LeadFilter, schema.schema_converter.scalar_registry, schema.config
    )


def refused_fields(data: Any, path: tuple[str, ...] = ()) -> list[str]:
    """Dotted paths of filter fields that a rule may not use (see REFUSED_FIELDS)."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in REFUSED_FIELDS:
                found.append(".".join((*path, key)))
            found += refused_fields(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += refused_fields(value, (*path, str(index)))
    return found


def stored_lead_condition(data: dict[str, Any], alias: str, q: Sql) -> str:
    try:
        return lead_condition(load_lead_filter(data), alias, q)
    except GraphQLError:  # a stored filter the schema no longer accepts matches nothing
        return "1 = 0"


lead_matching.register(stored_lead_condition)
