"""Log lines as JSON objects (`LEADGRAPH_LOG_FORMAT=json`), tagged with request id and operation."""

import logging
from datetime import UTC, datetime

import orjson

from api.context import request_id

access_logger = logging.getLogger("leadgraph.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, operation, extras."""

    EXTRAS = ("method", "path", "status", "duration_ms", "outcome")

    def format(self, record: logging.LogRecord) -> str:
        from api.metrics import current  # the request's operation, when one is running

        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid != "-":
            entry["request_id"] = rid
        observation = current.get()
        if observation is not None and observation.operation:
            entry["operation"] = observation.operation
        for key in self.EXTRAS:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def log_request(scope, status: int, elapsed: float, operation: str, outcome: str) -> None:
    """The access line of one GraphQL request (replaces uvicorn's, which has no request id)."""
    access_logger.info(
        "%s %s %s",
        scope["method"],
        scope["path"],
        status,
        extra={
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
            "outcome": outcome,
        },
    )


def uvicorn_log_config(log_format: str, level: str) -> dict | None:
    """uvicorn's `log_config` for JSON lines; None keeps uvicorn's own text format."""
    if log_format != "json":
        return None
    level = level.upper()
    json_handler = {"handlers": ["json"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "api.logs.JsonFormatter"}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": json_handler,
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": [], "propagate": False},
            "leadgraph": json_handler,
        },
    }
