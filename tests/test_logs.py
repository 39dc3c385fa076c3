"""JSON log lines (LEADGRAPH_LOG_FORMAT=json) carry the request id and the operation name."""

import io
import logging
from dataclasses import replace

import httpx
import orjson
import pytest

from api.app import create_app
from api.logs import JsonFormatter, uvicorn_log_config
from api.settings import Settings
from models import Role


@pytest.fixture
def json_lines():
    """The `leadgraph` loggers' output through the JSON formatter, one parsed object a line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("leadgraph")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lambda: [orjson.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(level)


async def test_json_access_and_error_lines_carry_request_id_and_operation(
    tenant, settings, app, json_lines
):
    """Each GraphQL request writes one access line; a resolver's log line in the same request
    has the same request id and operation name."""
    application = create_app(replace(settings, log_format="json"))
    headers = {"Authorization": f"Bearer {tenant.keys[Role.READ_ONLY]}", "X-Request-ID": "rq-1"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://logs"
    ) as client:
        ok = await client.post(
            "/graphql",
            json={"query": "query Few { accounts(first: 1) { totalCount } }"},
            headers=headers,
        )
        forbidden = await client.post(
            "/graphql",
            json={"query": "query Keys { apiKeys { name } }"},
            headers={**headers, "X-Request-ID": "rq-2"},
        )
        anonymous = await client.post("/graphql", json={"query": "{ __typename }"})
    assert ok.status_code == forbidden.status_code == 200 and anonymous.status_code == 401

    lines = json_lines()
    access = [line for line in lines if line["logger"] == "leadgraph.access"]
    assert [(a.get("request_id"), a.get("operation"), a["status"], a["outcome"]) for a in access][
        :2
    ] == [("rq-1", "Few", 200, "ok"), ("rq-2", "Keys", 200, "error")]
    assert access[2]["status"] == 401 and access[2]["outcome"] == "unauthenticated"
    assert len(access[2]["request_id"]) == 32  # generated when the client sends none
    assert all(isinstance(a["duration_ms"], float) and a["method"] == "POST" for a in access)
    refused = [
        line for line in lines if line["logger"] == "leadgraph" and "rq-2" in line["message"]
    ]
    assert refused and refused[0]["request_id"] == "rq-2" and refused[0]["operation"] == "Keys"


def test_log_format_setting(monkeypatch):
    """Only text and json are accepted; json gives uvicorn a JSON formatter, text keeps its own."""
    assert uvicorn_log_config("text", "info") is None
    config = uvicorn_log_config("json", "warning")
    assert config["formatters"]["json"]["()"] == "api.logs.JsonFormatter"
    assert config["loggers"]["leadgraph"]["level"] == "WARNING"
    monkeypatch.setenv("LEADGRAPH_LOG_FORMAT", "JSON")
    assert Settings.from_env().log_format == "json"
    monkeypatch.setenv("LEADGRAPH_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="text or json"):
        Settings.from_env()
