"""What the exports stream: the columns of each list and its rows, in id order, in chunks.

PostgreSQL renders every value itself (global IDs, ISO times, CSV cells with formula escaping, or
one JSON object per row) and streams the rows from a server-side cursor inside a read-only
transaction; the Python side only joins them. SQLite is read in keyset chunks and rendered here,
to the same values. The filters are the lists' own (`resolvers.filtering`).
"""

import base64
import csv
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from api.inputs.filters import AccountFilter, ContactFilter, InteractionFilter, LeadFilter
from models.sql import Sql, connection, fetch, is_postgres, parse_datetime, parse_json
from resolvers.filtering import (
    account_condition,
    account_search,
    contact_condition,
    contact_search,
    interaction_condition,
    lead_condition,
    lead_search,
)

CHUNK_ROWS = 1000
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def formula_safe(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading apostrophe (OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return QUOTE + value
    return value


@dataclass(frozen=True)
class Column:
    """One exported field: its name (the GraphQL field; relations: the ID field of the mutation
    inputs), its table column and its kind: text, int, bool, datetime, json or id:<Type>."""

    name: str
    sql: str
    kind: str = "text"

    def value(self, raw: Any) -> Any:
        """The JSON value of a SQLite row's column."""
        if raw is None:
            return None
        if self.kind.startswith("id:"):
            return base64.b64encode(f"{self.kind[3:]}:{raw}".encode()).decode()
        if self.kind == "datetime":
            return parse_datetime(raw).isoformat()
        if self.kind == "bool":
            return bool(raw)
        if self.kind == "json":
            return parse_json(raw)
        return raw

    def cell(self, raw: Any) -> Any:
        """The CSV cell of a SQLite row's column."""
        value = self.value(raw)
        if value is None:
            return ""
        if self.kind == "bool":
            return "true" if value else "false"
        if self.kind == "json":
            return orjson.dumps(value).decode()
        return formula_safe(value) if self.kind == "text" else value

    def pg_value(self) -> str:
        """PostgreSQL: SQL for the JSON value."""
        column = f"t.{self.sql}"
        if self.kind.startswith("id:"):
            return f"encode(convert_to('{self.kind[3:]}:' || {column}, 'UTF8'), 'base64')"
        if self.kind == "datetime":  # exactly Python's isoformat() of the UTC time
            utc = f"({column} AT TIME ZONE 'UTC')"
            return (
                f"(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN "
                f"date_part('microseconds', {utc})::bigint % 1000000 = 0 THEN '' "
                f"ELSE to_char({utc}, '.US') END || '+00:00')"
            )
        return column

    def pg_cell(self) -> str:
        """PostgreSQL: SQL for the CSV cell."""
        value = self.pg_value()
        if self.kind == "bool":
            return f"CASE WHEN {value} THEN 'true' WHEN NOT {value} THEN 'false' END"
        if self.kind == "json":
            return f"{value}::text"
        if self.kind == "text":
            return (
                f"CASE WHEN left({value}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
                f"THEN chr(39) || {value} ELSE {value} END"
            )
        return value


@dataclass(frozen=True)
class Export:
    table: str
    filter_type: type
    condition: Callable[[Any, str, Sql], str]
    search: Callable[[str | None, str, Sql], str] | None
    columns: tuple[Column, ...]


STAMPS = (
    Column("createdAt", "created_at", "datetime"),
    Column("updatedAt", "updated_at", "datetime"),
)
EXPORTS = {
    "accounts": Export(
        "account",
        AccountFilter,
        account_condition,
        account_search,
        (
            Column("id", "id", "id:Account"),
            Column("name", "name"),
            Column("industry", "industry"),
            Column("website", "website"),
            Column("city", "city"),
            Column("country", "country"),
            Column("parentAccountId", "parent_account_id", "id:Account"),
            Column("primaryContactId", "primary_contact_id", "id:Contact"),
            *STAMPS,
        ),
    ),
    "contacts": Export(
        "contact",
        ContactFilter,
        contact_condition,
        contact_search,
        (
            Column("id", "id", "id:Contact"),
            Column("firstName", "first_name"),
            Column("lastName", "last_name"),
            Column("email", "email"),
            Column("phone", "phone"),
            Column("jobTitle", "job_title"),
            Column("accountId", "account_id", "id:Account"),
            *STAMPS,
        ),
    ),
    "leads": Export(
        "lead",
        LeadFilter,
        lead_condition,
        lead_search,
        (
            Column("id", "id", "id:Lead"),
            Column("topic", "topic"),
            Column("source", "source"),
            Column("status", "status"),
            Column("firstName", "first_name"),
            Column("lastName", "last_name"),
            Column("email", "email"),
            Column("companyName", "company_name"),
            Column("score", "score", "int"),
            Column("grade", "grade"),
            Column("salesReady", "sales_ready", "bool"),
            Column("contactId", "contact_id", "id:Contact"),
            Column("accountId", "account_id", "id:Account"),
            *STAMPS,
        ),
    ),
    "interactions": Export(
        "interaction",
        InteractionFilter,
        interaction_condition,
        None,
        (
            Column("id", "id", "id:Interaction"),
            Column("type", "type"),
            Column("occurredAt", "occurred_at", "datetime"),
            Column("contactId", "contact_id", "id:Contact"),
            Column("leadId", "lead_id", "id:Lead"),
            Column("metadata", "metadata", "json"),
        ),
    ),
}


async def rows(export: Export, where: Callable[[Sql], str], fmt: str) -> AsyncIterator[list]:
    """Chunks of rendered rows in id order: CSV cell lists, or NDJSON lines (str)."""
    client = connection()
    if is_postgres(client):
        q = Sql(True)
        if fmt == "csv":
            select = ", ".join(c.pg_cell() for c in export.columns)
        else:
            pairs = ", ".join(f"'{c.name}', {c.pg_value()}" for c in export.columns)
            select = f"json_build_object({pairs})::text AS line"
        sql = f"SELECT {select} FROM {export.table} t WHERE {where(q)} ORDER BY t.id"
        async with client.acquire_connection() as conn, conn.transaction(readonly=True):
            chunk: list[Any] = []
            async for record in conn.cursor(sql, *q.params, prefetch=CHUNK_ROWS):
                chunk.append(record if fmt == "csv" else record[0])
                if len(chunk) >= CHUNK_ROWS:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk
        return
    select = ", ".join(f"t.{c.sql}" for c in export.columns)
    last = 0
    while True:
        q = Sql(False)
        sql = (
            f"SELECT {select} FROM {export.table} t WHERE {where(q)} "
            f"AND t.id > {q.param(last)} ORDER BY t.id LIMIT {CHUNK_ROWS}"
        )
        chunk = await fetch(sql, q, client)
        if not chunk:
            return
        last = chunk[-1]["id"]
        if fmt == "csv":
            yield [[c.cell(row[c.sql]) for c in export.columns] for row in chunk]
        else:
            yield [
                orjson.dumps({c.name: c.value(row[c.sql]) for c in export.columns}).decode()
                for row in chunk
            ]


async def csv_body(export: Export, chunks: AsyncIterator[list]) -> AsyncIterator[bytes]:
    """RFC 4180: a header row, CRLF line ends, fields quoted when they need it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.name for c in export.columns])
    yield buffer.getvalue().encode()
    async for chunk in chunks:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(chunk)
        yield buffer.getvalue().encode()


async def ndjson_body(chunks: AsyncIterator[list]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield ("\n".join(chunk) + "\n").encode()
