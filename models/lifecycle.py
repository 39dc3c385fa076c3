"""Pure lead lifecycle rules: which status changes each action allows."""

from enum import StrEnum

from models.errors import DomainError, ErrorCode
from models.lead import LeadStatus as S

OPEN = frozenset({S.NEW, S.SALES_READY, S.SALES_ACCEPTED, S.NURTURING})
CLOSED = frozenset({S.QUALIFIED, S.DISQUALIFIED})


class Action(StrEnum):
    ACCEPT = "accept"
    SEND_BACK = "send back to marketing"
    DISQUALIFY = "disqualify"
    QUALIFY = "qualify"
    REACTIVATE = "reactivate"


ALLOWED: dict[Action, tuple[frozenset[S], S]] = {
    Action.ACCEPT: (frozenset({S.NEW, S.NURTURING, S.SALES_READY}), S.SALES_ACCEPTED),
    Action.SEND_BACK: (frozenset({S.SALES_READY, S.SALES_ACCEPTED}), S.NURTURING),
    Action.DISQUALIFY: (OPEN, S.DISQUALIFIED),
    Action.QUALIFY: (OPEN, S.QUALIFIED),
    Action.REACTIVATE: (CLOSED, S.NEW),
}


def transition(action: Action, current: S) -> S:
    """The status after `action`, or INVALID_TRANSITION."""
    sources, target = ALLOWED[action]
    if current not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise DomainError(
            ErrorCode.INVALID_TRANSITION,
            f"Cannot {action.value} a {current.value} lead (allowed from: {allowed}).",
            ["leadId"],
        )
    return target
