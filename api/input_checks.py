"""Checks on coerced argument values that GraphQL's own coercion lets through but the database
cannot take: non-finite floats, lone surrogates, timestamps that overflow in UTC, IDs outside
the id column's range, and input nested deeper than LEADGRAPH_MAX_INPUT_DEPTH."""

import base64
import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson
from graphql import (
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSyntaxError,
    Source,
    TokenKind,
)
from graphql.language.lexer import Lexer
from strawberry.relay import GlobalID
from strawberry.relay.types import GlobalIDValueError

from api.errors import BadUserInput

MAX_ID = 2**31 - 1  # the id columns are PostgreSQL `integer`
OPENING = {TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L}
CLOSING = {TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R}


def clip(text: Any, limit: int = 200) -> str:
    """User input as it may appear in a message or a log line: bounded."""
    text = str(text)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def _where(path: list[str]) -> str:
    return ".".join(path) or "value"


def check_value(value: Any, path: list[str], max_depth: int, type_: Any = None) -> None:
    """Raise BadUserInput for the first value the database could not take. `type_` is the
    argument's GraphQL input type (IDs arrive as strings and are checked by it)."""
    stack: list[tuple[Any, list[str], int, Any]] = [(value, path, 0, type_)]
    while stack:
        current, where, depth, gtype = stack.pop()
        if depth > max_depth:
            raise BadUserInput(f"{_where(where)}: input nested deeper than {max_depth} levels.")
        while isinstance(gtype, (GraphQLNonNull, GraphQLList)) and not isinstance(current, list):
            gtype = gtype.of_type
        if isinstance(gtype, GraphQLNonNull):
            gtype = gtype.of_type
        if isinstance(current, bool) or current is None:
            continue
        if isinstance(current, float):
            if not math.isfinite(current):
                raise BadUserInput(f"{_where(where)}: must be a finite number.")
        elif isinstance(current, str):
            _check_text(current, where)
            if getattr(gtype, "name", None) == "ID":
                _check_id_text(current, where)
        elif isinstance(current, datetime):
            _check_datetime(current, where)
        elif isinstance(current, GlobalID):
            _check_id(current, where)
        elif isinstance(current, dict):
            fields = gtype.fields if isinstance(gtype, GraphQLInputObjectType) else {}
            for key, inner in current.items():
                _check_text(str(key), where)
                field = fields.get(key)
                stack.append((inner, [*where, str(key)], depth + 1, field.type if field else None))
        elif isinstance(current, (list, tuple)):
            item_type = gtype.of_type if isinstance(gtype, GraphQLList) else None
            stack.extend(
                (inner, [*where, str(i)], depth + 1, item_type) for i, inner in enumerate(current)
            )


def _check_id_text(text: str, where: list[str]) -> None:
    """A global ID whose number no row can have (malformed ones are refused where parsed)."""
    try:
        gid = GlobalID.from_id(text)
    except GlobalIDValueError:
        return
    _check_id(gid, where)


def _check_text(text: str, where: list[str]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadUserInput(
            f"{_where(where)}: text must be valid Unicode (it holds a lone surrogate)."
        ) from None


def _check_datetime(value: datetime, where: list[str]) -> None:
    try:
        if value.tzinfo is not None:
            value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadUserInput(f"{_where(where)}: the time is out of range in UTC.") from None


def _check_id(gid: GlobalID, where: list[str]) -> None:
    node_id = gid.node_id
    if node_id.isascii() and node_id.isdigit() and int(node_id) > MAX_ID:
        raise BadUserInput(f"{_where(where)}: invalid ID {clip(str(gid), 80)}.")


def document_nesting(query: str) -> int:
    """The deepest nesting of brackets in a document (remembered for short documents)."""
    return _cached_nesting(query) if len(query) <= 8192 else _nesting(query)


@lru_cache(maxsize=512)
def _cached_nesting(query: str) -> int:
    return _nesting(query)


def _nesting(query: str) -> int:
    """The deepest nesting of braces, brackets and parentheses in a document, by graphql-core's
    own lexer (strings and comments do not count); 0 when it does not lex (the parser reports)."""
    lexer = Lexer(Source(query))
    depth = deepest = 0
    try:
        token = lexer.advance()
        while token.kind is not TokenKind.EOF:
            if token.kind in OPENING:
                depth += 1
                deepest = max(deepest, depth)
            elif token.kind in CLOSING:
                depth -= 1
            token = lexer.advance()
    except GraphQLSyntaxError:
        return 0
    return deepest


def check_page(first: int | None, last: int | None, maximum: int) -> None:
    """The page-size rules of every connection, before anything runs (a mutation's payload
    included, so a bad page size cannot fail after the write)."""
    if first is not None and last is not None:
        raise BadUserInput("Pass either `first` or `last`, not both.")
    size = first if first is not None else last
    if size is not None and size < 0:
        raise BadUserInput("`first` and `last` must not be negative.")
    if size is not None and size > maximum:
        raise BadUserInput(f"At most {maximum} items per page; asked for {size}.")


def check_cursor(cursor: Any) -> None:
    """A cursor's shape (base64 of `[ordering, [values]]`); its values are checked against the
    ordering when the page is read."""
    if cursor is None:
        return
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        signature, values = orjson.loads(raw)
        if not isinstance(signature, str) or not isinstance(values, list):
            raise ValueError
    except (ValueError, TypeError):
        raise BadUserInput("Invalid cursor.") from None
