"""schema.graphql at the root is what `leadgraph export-schema` writes today."""

from pathlib import Path

from api.cli import SCHEMA_FILE, export_schema


def test_schema_file_is_current(tmp_path: Path):
    fresh = tmp_path / "schema.graphql"
    export_schema(fresh)
    assert SCHEMA_FILE.read_text() == fresh.read_text(), (
        "schema.graphql is stale: run `make schema` (leadgraph export-schema) and commit it"
    )


def test_schema_keeps_the_contract_names():
    sdl = SCHEMA_FILE.read_text()
    for name in [
        "node(id: ID!): Node",
        "nodes(ids: [ID!]!): [Node]!",
        "createAccount(input: CreateAccountInput!): AccountPayload!",
        "deleteContact(input: DeleteInput!): DeletePayload!",
        "type UserError",
        "totalCount: Int!",
        "enum LeadStatus",
        "input LeadListFilter",
    ]:
        assert name in sdl, name
