"""recordInteraction's lane (resolvers/recording_lane.py): once the full pipeline has answered a
document, later requests with it are answered without strawberry's execution, with the same
bytes: replays and userErrors compared byte for byte with the pipeline's answer to the same
request, fresh writes compared with their ids set aside; unusual requests still go through the
pipeline."""

import asyncio
import os

import orjson
import pytest
from scoring_helpers import blocked_session, contact_with_leads, holding_leads_of, make_model

from models import Interaction, Role
from resolvers import recording_lane

postgres_only = pytest.mark.skipif(
    not os.environ.get("LEADGRAPH_TEST_DATABASE_URL", "").startswith("postgres"),
    reason="the lane serves resolvers/recording.py's PostgreSQL path",
)

PLAIN = """mutation($i: RecordInteractionInput!) { recordInteraction(input: $i) {
  interaction { id }
  scoreChanges { lead { id } previousScore score grade salesReady becameSalesReady }
  userErrors { code } } }"""
FRAGMENTS = """mutation Rec($i: RecordInteractionInput!) { rec: recordInteraction(input: $i) {
  __typename ...Payload } }
fragment Payload on RecordInteractionPayload {
  interaction { ...Item when: occurredAt }
  scoreChanges { ... on ScoreChange { lead { __typename ...LeadFields } m: model { name }
    previousScore score grade salesReady becameSalesReady __typename } }
  userErrors { field message code existingIds __typename } }
fragment Item on Interaction { id type metadata __typename }
fragment LeadFields on Lead { id topic status score grade salesReady email createdAt updatedAt }"""
SCALARS = """mutation($i: RecordInteractionInput!) { recordInteraction(input: $i) {
  userErrors { message } interaction { type occurredAt metadata id }
  scoreChanges { score lead { status id } } } }"""
SHAPES = [PLAIN, FRAGMENTS, SCALARS]
OCCURRED = "2024-05-01T10:00:00+00:00"


def forget(app) -> None:
    recording_lane.lanes(app.state.schema).clear()


async def pipeline_then_lane(tenant, app, query: str, variables: dict) -> tuple[bytes, bytes]:
    """The pipeline's answer (no lane stored), then the lane's to the same request."""
    forget(app)
    before = recording_lane.answered
    first = await tenant.post(query, variables, Role.MARKETING)
    assert recording_lane.answered == before
    second = await tenant.post(query, variables, Role.MARKETING)
    assert recording_lane.answered == before + 1, "the lane did not answer"
    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"] == second.headers["content-type"]
    return first.content, second.content


@postgres_only
@pytest.mark.parametrize("query", SHAPES)
async def test_replays_are_answered_with_the_pipelines_bytes(tenant, app, query):
    """A replayed idempotency key answers the stored interaction and the current scores: the
    lane's bytes equal the pipeline's for every selection shape (fragments, aliases,
    __typename, lead fields, metadata as given)."""
    await make_model(tenant, name="Second", primary=False)
    contact_id, _ = await contact_with_leads(tenant)
    item = {
        "contactId": contact_id,
        "type": "FORM_SUBMITTED",
        "occurredAt": OCCURRED,
        "metadata": {"b": 1, "a": [1, "x"]},
        "idempotencyKey": "k-1",
    }
    await tenant.gql(query, {"i": item}, Role.MARKETING)
    pipeline, lane = await pipeline_then_lane(tenant, app, query, {"i": item})
    assert pipeline == lane
    assert await Interaction.all().count() == 1


SET_ASIDE = {"id", "createdAt", "updatedAt"}  # the two contacts' leads differ in these only


def without_ids(value):
    if isinstance(value, dict):
        return {k: "<set aside>" if k in SET_ASIDE else without_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


@postgres_only
@pytest.mark.parametrize("query", SHAPES)
async def test_fresh_writes_match_the_pipelines_answer(tenant, app, query):
    """Two contacts with the same leads get the same interaction, one through the pipeline and
    one through the lane: the answers agree key for key and value for value but the ids and the leads'
    timestamps, and
    both interactions are stored."""
    first_contact, _ = await contact_with_leads(tenant)
    second_contact, _ = await contact_with_leads(tenant)
    forget(app)
    before = recording_lane.answered
    item = {"type": "EMAIL_OPENED", "occurredAt": OCCURRED, "metadata": {"z": 1, "a": 2}}
    pipeline = await tenant.post(query, {"i": {**item, "contactId": first_contact}}, Role.MARKETING)
    lane = await tenant.post(query, {"i": {**item, "contactId": second_contact}}, Role.MARKETING)
    assert recording_lane.answered == before + 1
    assert orjson.dumps(without_ids(pipeline.json())) == orjson.dumps(without_ids(lane.json()))
    assert "errors" not in lane.json()
    assert await Interaction.filter(contact_id__not_isnull=True).count() == 2


@postgres_only
async def test_user_errors_are_the_pipelines(tenant, app):
    """Every refusal (no such contact, a lead of another contact, a reused idempotency key, an
    occurredAt in the future) is the pipeline's payload, byte for byte, and writes nothing."""
    contact_id, _ = await contact_with_leads(tenant)
    _, (other_lead,) = await contact_with_leads(tenant, topics=["Wind"])
    await tenant.gql(
        PLAIN,
        {"i": {"contactId": contact_id, "type": "EMAIL_OPENED", "idempotencyKey": "used"}},
        Role.MARKETING,
    )
    missing = contact_id.replace(contact_id, "Q29udGFjdDo5OTk5OQ==")  # Contact:99999
    refusals = [
        {"contactId": missing, "type": "EMAIL_OPENED"},
        {"contactId": contact_id, "leadId": other_lead, "type": "EMAIL_OPENED"},
        {"contactId": contact_id, "type": "PAGE_VISITED", "idempotencyKey": "used"},
        {"contactId": contact_id, "type": "EMAIL_OPENED", "occurredAt": "2999-01-01T00:00:00Z"},
    ]
    for item in refusals:
        for query in (FRAGMENTS, PLAIN):
            pipeline, lane = await pipeline_then_lane(tenant, app, query, {"i": item})
            assert pipeline == lane, item
            assert b'"userErrors":[{' in lane or b'"userErrors": [{' in lane
    assert await Interaction.all().count() == 1


@postgres_only
async def test_unusual_requests_go_through_the_pipeline(tenant, app):
    """A selection with a field of its own resolver (interaction.contact), a directive,
    variables that do not coerce, a NUL character or a malformed ID is answered by the pipeline
    every time; a role that may not
    record is refused every time."""
    forget(app)
    contact_id, _ = await contact_with_leads(tenant)
    nested = PLAIN.replace("interaction { id }", "interaction { id contact { id } }")
    directive = PLAIN.replace("interaction { id }", "interaction { id @include(if: true) }")
    before = recording_lane.answered
    for query in (nested, directive):
        for _ in range(2):
            data = await tenant.gql(
                query, {"i": {"contactId": contact_id, "type": "EMAIL_OPENED"}}, Role.MARKETING
            )
            assert data["recordInteraction"]["userErrors"] == []
    await tenant.gql(
        PLAIN, {"i": {"contactId": contact_id, "type": "EMAIL_OPENED"}}, Role.MARKETING
    )
    bad = await tenant.post(PLAIN, {"i": {"contactId": contact_id, "type": "NOPE"}}, Role.MARKETING)
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    nul = await tenant.post(
        PLAIN,
        {"i": {"contactId": contact_id, "type": "EMAIL_OPENED", "metadata": "a\x00"}},
        Role.MARKETING,
    )
    assert nul.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    malformed = {"i": {"contactId": "not an id", "type": "EMAIL_OPENED"}}
    first, second = [await tenant.post(PLAIN, malformed, Role.MARKETING) for _ in range(2)]
    assert first.content == second.content and b"BAD_USER_INPUT" in first.content
    for _ in range(2):
        refused = await tenant.post(
            PLAIN, {"i": {"contactId": contact_id, "type": "EMAIL_OPENED"}}, Role.SALES
        )
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert recording_lane.answered == before
    assert await Interaction.all().count() == 5


FAIL_AT_COMMIT = """
CREATE FUNCTION lane_test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.metadata ->> 'refuse' = 'at commit' THEN
    RAISE EXCEPTION 'refused at commit';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER lane_test_refuse AFTER INSERT ON interaction
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION lane_test_refuse();
"""


async def refused_at_commit(tenant, app):
    """With a deferred constraint refusing one interaction at commit, the lane stored by a
    first request, then the refused request answered by the lane and by the pipeline: (lane's
    response, pipeline's response, answered and uncertain counts before them)."""
    from tortoise import connections

    contact_id, _ = await contact_with_leads(tenant)
    conn = connections.get("default")
    await conn.execute_script(FAIL_AT_COMMIT)
    try:
        item = {"contactId": contact_id, "type": "EMAIL_OPENED", "metadata": {"refuse": "no"}}
        await tenant.gql(PLAIN, {"i": item}, Role.MARKETING)  # the lane is stored
        counts = (recording_lane.answered, recording_lane.uncertain)
        refused = {"i": {**item, "metadata": {"refuse": "at commit"}}}
        lane = await tenant.post(PLAIN, refused, Role.MARKETING)
        forget(app)
        pipeline = await tenant.post(PLAIN, refused, Role.MARKETING)
        return lane, pipeline, counts
    finally:
        await conn.execute_script(
            "DROP TRIGGER lane_test_refuse ON interaction; DROP FUNCTION lane_test_refuse();"
        )


@postgres_only
async def test_a_failed_commit_is_reported_as_the_pipeline_reports_it(tenant, app):
    """A COMMIT that fails (a deferred constraint refuses it) may have taken effect as far as
    the server knows: the lane runs nothing again and answers the pipeline's error bytes (no
    data, the masked error at the field's path), and nothing is stored. (A model with an
    attribute rule sends the write through BEGIN, the statement and COMMIT.)"""
    await make_model(
        tenant,
        name="Attr",
        primary=False,
        rules=[{"leadMatches": {"topic": {"eq": "Solar"}}, "points": 1}],
    )
    lane, pipeline, (answered, uncertain) = await refused_at_commit(tenant, app)
    assert (recording_lane.answered, recording_lane.uncertain) == (answered, uncertain + 1)
    assert lane.content == pipeline.content
    assert lane.json()["data"] is None
    assert await Interaction.all().count() == 1


@postgres_only
async def test_a_refusal_as_the_one_statement_ends_is_a_rollback(tenant, app):
    """The one-statement write commits as it ends; PostgreSQL reporting an error there (the
    deferred constraint) means it rolled back: nothing is uncertain, the pipeline runs the
    request and answers it (the same refusal), and nothing is stored."""
    lane, pipeline, counts = await refused_at_commit(tenant, app)
    assert (recording_lane.answered, recording_lane.uncertain) == counts
    assert lane.content == pipeline.content
    assert lane.json()["data"] is None
    assert await Interaction.all().count() == 1


@postgres_only
async def test_a_connection_lost_under_the_one_statement_is_uncertain(tenant, app, settings):
    """The connection dies while the one statement waits for a lead lock: the server may or
    may not have committed as far as the lane knows, so it runs nothing again and reports the
    error as the pipeline reports one (no data); nothing was stored."""
    contact_id, _ = await contact_with_leads(tenant)
    variables = {"i": {"contactId": contact_id, "type": "EMAIL_OPENED"}}
    await tenant.gql(PLAIN, variables, Role.MARKETING)  # the lane is stored
    before, failed = recording_lane.answered, recording_lane.uncertain
    async with holding_leads_of(settings, tenant, contact_id) as holder:
        request = asyncio.create_task(tenant.post(PLAIN, variables, Role.MARKETING))
        await holder.execute("SELECT pg_terminate_backend($1)", await blocked_session(holder))
        response = await asyncio.wait_for(request, 30)
    assert (recording_lane.answered, recording_lane.uncertain) == (before, failed + 1)
    assert response.status_code == 200 and response.json()["data"] is None
    assert await Interaction.all().count() == 1


INPUTS = [
    {"contactId": "Q29udGFjdDox", "type": "EMAIL_OPENED"},
    {"leadId": "TGVhZDo0Mg==", "type": "MEETING", "metadata": {"b": [1, None], "a": "x"}},
    {
        "contactId": "Q29udGFjdDox",
        "leadId": None,
        "type": "PAGE_VISITED",
        "occurredAt": "2024-05-01T10:00:00+02:00",
        "metadata": None,
        "idempotencyKey": "k",
    },
    {"contactId": None, "leadId": "TGVhZDo0Mg==", "type": "EMAIL_SENT", "metadata": [1, 2]},
]


@pytest.mark.parametrize("given", INPUTS)
def test_the_lanes_input_is_strawberrys(app, given):
    """The lane builds the resolver's input from the coerced variables as strawberry's
    `convert_arguments` does: equal dataclasses for IDs, enums, dates, JSON, nulls and omitted
    fields, and a malformed ID fails both ways."""
    from graphql import parse
    from graphql.execution.values import get_argument_values, get_variable_values
    from strawberry.types.arguments import convert_arguments

    schema = app.state.schema
    lane = recording_lane.build(schema, parse(PLAIN), None)
    assert lane is not None and lane.input_fields is not None
    coerced = get_variable_values(schema._schema, lane.variable_definitions, {"i": given})
    args = get_argument_values(lane.field_def, lane.node, coerced)
    expected = convert_arguments(
        args,
        lane.field_def.extensions["strawberry-definition"].arguments,
        scalar_registry=schema.schema_converter.scalar_registry,
        config=schema.config,
    )["input"]
    assert recording_lane.convert_input(schema, lane, args) == expected
    broken = {**args["input"], "contactId": "not an id"}
    with pytest.raises(ValueError):
        recording_lane.convert_input(schema, lane, {"input": broken})
