"""Tables and domain rules. Imports nothing from `api` or `resolvers`."""

from models.account import Account
from models.api_key import ApiKey, Role
from models.contact import Contact
from models.interaction import Interaction, InteractionType
from models.lead import Lead, LeadStatus
from models.opportunity import LeadEvent, Opportunity
from models.scoring_model import LeadScore, ScoringModel
from models.workspace import Workspace

MODEL_MODULES = [
    "models.workspace",
    "models.api_key",
    "models.account",
    "models.contact",
    "models.lead",
    "models.interaction",
    "models.scoring_model",
    "models.opportunity",
    "models.rate_limit",
    "models.capture",
    "models.changes",
    "models.webhooks",
    "models.persisted_query",
]

__all__ = [
    "MODEL_MODULES",
    "Account",
    "ApiKey",
    "Contact",
    "Interaction",
    "InteractionType",
    "Lead",
    "LeadEvent",
    "LeadScore",
    "LeadStatus",
    "Opportunity",
    "ScoringModel",
    "Role",
    "Workspace",
]
