"""Where set-based re-scoring gets the SQL of a stored LeadFilter (attribute rules, entry
criteria) without importing the API layer.

The list filters' compiler (`resolvers.filtering`) registers itself here when `resolvers` is
imported, so rules and lists compile the same filter language to the same SQL."""

from collections.abc import Callable
from typing import Any

from models.sql import Sql

LeadCondition = Callable[[dict[str, Any], str, Sql], str]
_compiler: LeadCondition | None = None


def register(compiler: LeadCondition) -> None:
    global _compiler
    _compiler = compiler


def lead_condition(stored: dict[str, Any], alias: str, q: Sql) -> str:
    """SQL that is true for the rows of `lead {alias}` matching the stored filter."""
    if _compiler is None:
        raise RuntimeError("No LeadFilter compiler registered: import resolvers first.")
    return _compiler(stored, alias, q)
