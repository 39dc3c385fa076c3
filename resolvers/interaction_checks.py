"""What recording an interaction checks before and reports after, shared by the general path
(resolvers/interactions.py) and PostgreSQL's three-round-trip one (resolvers/recording.py)."""

import hashlib
from datetime import UTC, datetime, timedelta

import orjson

from api.inputs.interaction import RecordInteractionInput
from api.types.scoring import ScoreChange, ScoringModel
from models import LeadStatus
from models.errors import DomainError, DomainErrors, ErrorCode
from models.rescoring import OPEN_FOR_PROMOTION

CLOCK_SKEW = timedelta(minutes=5)
MAX_METADATA_BYTES = 16_384


def fingerprint(item: RecordInteractionInput) -> str:
    payload = {
        "type": item.type.value,
        "contact": str(item.contact_id) if item.contact_id else None,
        "lead": str(item.lead_id) if item.lead_id else None,
        "occurredAt": item.occurred_at.isoformat() if item.occurred_at else None,
        "metadata": item.metadata,
    }
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def check_input(item: RecordInteractionInput, now: datetime) -> tuple[datetime, str | None]:
    """Validate what needs no database: returns (occurredAt, idempotency key) or raises every
    error at once (errors name fields of the item)."""
    errors: list[DomainError] = []
    occurred_at = item.occurred_at or now
    if occurred_at.tzinfo is None:
        occurred_at = occurred_at.replace(tzinfo=UTC)
    if occurred_at > now + CLOCK_SKEW:
        errors.append(
            DomainError(ErrorCode.INVALID, "occurredAt lies in the future.", ["occurredAt"])
        )
    # An empty key is refused like a blank one: taking it as "no key" made retries duplicate.
    key = item.idempotency_key.strip() if item.idempotency_key is not None else None
    if key is not None and not 1 <= len(key) <= 200:
        errors.append(
            DomainError(
                ErrorCode.INVALID, "idempotencyKey must be 1 to 200 characters.", ["idempotencyKey"]
            )
        )
    if item.metadata is not None and not isinstance(item.metadata, dict):
        errors.append(
            DomainError(ErrorCode.INVALID, "metadata must be a JSON object.", ["metadata"])
        )
    elif item.metadata is not None and len(orjson.dumps(item.metadata)) > MAX_METADATA_BYTES:
        errors.append(
            DomainError(
                ErrorCode.INVALID, f"metadata exceeds {MAX_METADATA_BYTES} bytes.", ["metadata"]
            )
        )
    if item.contact_id is None and item.lead_id is None:
        errors.append(
            DomainError(ErrorCode.INVALID, "Give contactId, leadId or both.", ["contactId"])
        )
    if errors:
        raise DomainErrors(errors)
    return occurred_at, key


def score_change(row: dict, status: str, model: ScoringModel, unchanged: bool) -> ScoreChange:
    """The change a stored lead_score row reports, given the lead's status before the write;
    `unchanged` (a replay) reports previousScore equal to score."""
    ready = bool(row["sales_ready"])
    previous = row["previous_score"]
    if unchanged:
        previous, became = row["score"], False
    else:
        became = (
            status in OPEN_FOR_PROMOTION
            and ready
            and (
                previous is None
                or row["score"] > previous
                or (status == LeadStatus.NEW.value and not row["previous_sales_ready"])
            )
        )
    return ScoreChange(
        lead_id=row["lead_id"],
        model=model,
        previous_score=row["score"] if previous is None else previous,
        score=row["score"],
        grade=row["grade"],
        sales_ready=ready,
        became_sales_ready=became,
    )
