"""The Query and Mutation roots, wired to resolvers. No logic lives here."""

import logging

import strawberry
from graphql import GraphQLError
from strawberry import relay
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.relay.types import GlobalIDValueError
from strawberry.schema.config import StrawberryConfig

from api.auth import CanCapture, CanEdit, CanMarket, CanRead, IsAdmin
from api.capture import CaptureOnly
from api.context import request_id
from api.errors import ApiError, is_client_data_error, is_database_outage, sqlstate
from api.input_checks import clip
from api.limits import RejectNulCharacters
from api.metrics import OperationObserver
from api.preflight import preflight
from api.retries import RETRYABLE, retry_every_field
from api.settings import Settings
from api.types.account import Account, AccountPayload
from api.types.api_key import ApiKey, CreateApiKeyPayload
from api.types.capture import CapturePayload
from api.types.changes import ChangeFeed, LeadStatusChange, RecordChange
from api.types.common import Connection, DeletePayload
from api.types.contact import Contact, ContactPayload
from api.types.duplicates import DuplicateGroup
from api.types.interaction import Interaction, RecordInteractionPayload, RecordInteractionsPayload
from api.types.lead import Lead, LeadPayload, QualifyLeadPayload
from api.types.merge import MergePayload
from api.types.opportunity import Opportunity
from api.types.reports import (
    SCORE_SOURCE,
    ContactStats,
    InteractionStats,
    LeadFunnel,
    LeadStats,
    ScoreBucket,
)
from api.types.scoring import ScoreChange, ScoringModel, ScoringModelPayload, ScoringModelPreview
from api.types.webhook import CreateWebhookPayload, Webhook, WebhookDelivery
from resolvers import (
    accounts,
    api_keys,
    capture,
    contacts,
    interactions,
    leads,
    lifecycle,
    merges,
    recording_lane,
)
from resolvers import changes as changes_
from resolvers import duplicates as duplicates_
from resolvers import node as nodes_
from resolvers import scoring_models as scoring
from resolvers import webhooks as webhooks_
from resolvers.compiler import read_path
from resolvers.reports import funnel as report_funnel
from resolvers.reports import histogram as report_histogram
from resolvers.reports import stats as report_stats

logger = logging.getLogger("leadgraph")


@strawberry.type(description="Read the workspace's customer graph.")
class Query:
    node: relay.Node | None = strawberry.field(
        resolver=nodes_.node,
        permission_classes=[CanRead],
        description="Any object by its global ID; null if it does not exist in your workspace.",
    )
    nodes: list[relay.Node | None] = strawberry.field(
        resolver=nodes_.nodes,
        permission_classes=[CanRead],
        description="Several objects by global ID, in order; null for each that is not found.",
    )
    accounts: Connection[Account] = strawberry.field(
        resolver=accounts.accounts,
        permission_classes=[CanRead],
        description="Accounts, filtered, searched (name, website, city) and sorted.",
    )
    contacts: Connection[Contact] = strawberry.field(
        resolver=contacts.contacts,
        permission_classes=[CanRead],
        description="Contacts, filtered, searched (names, email, company) and sorted.",
    )
    leads: Connection[Lead] = strawberry.field(
        resolver=leads.leads,
        permission_classes=[CanRead],
        description="Leads, filtered, searched (topic, names, email, company) and sorted.",
    )
    scoring_models: list[ScoringModel] = strawberry.field(
        resolver=scoring.scoring_models,
        permission_classes=[CanRead],
        description="The workspace's scoring models.",
    )
    api_keys: list[ApiKey] = strawberry.field(
        resolver=api_keys.api_keys,
        permission_classes=[IsAdmin],
        description="The workspace's API keys, revoked ones included (never their secrets).",
    )
    preview_scoring_model: ScoringModelPreview = strawberry.field(
        resolver=scoring.preview_scoring_model,
        permission_classes=[CanRead],
        description="What a scoring model would do to the workspace's leads, without writing.",
    )
    # Reporting
    lead_stats: LeadStats = strawberry.field(
        resolver=report_stats.lead_stats,
        permission_classes=[CanRead],
        description="Lead counts and score statistics, in total and grouped by `groupBy` "
        "(empty: only the total), over the leads the filter and search match. Computed by the "
        "database in one statement over every matching lead; more groups than "
        "LEADGRAPH_MAX_REPORT_GROUPS is BAD_USER_INPUT. CREATED_AT buckets by `interval` "
        "(default MONTH) in `timeZone` (IANA name, default UTC). " + SCORE_SOURCE,
    )
    contact_stats: ContactStats = strawberry.field(
        resolver=report_stats.contact_stats,
        permission_classes=[CanRead],
        description="Contact counts, in total and grouped by `groupBy`, in one statement "
        "(see leadStats for buckets and the group limit).",
    )
    interaction_stats: InteractionStats = strawberry.field(
        resolver=report_stats.interaction_stats,
        permission_classes=[CanRead],
        description="Interaction counts, in total and grouped by `groupBy`, in one statement "
        "(see leadStats for buckets and the group limit).",
    )
    lead_funnel: LeadFunnel = strawberry.field(
        resolver=report_funnel.lead_funnel,
        permission_classes=[CanRead],
        description="Per status, the leads that entered it in [from, to), how many are still "
        "there and the median hours until they moved on; from the lead history.",
    )
    score_histogram: list[ScoreBucket] = strawberry.field(
        resolver=report_histogram.score_histogram,
        permission_classes=[CanRead],
        description="Leads per score bucket of `bucketSize` points under a scoring model "
        "(`modelId`, default the primary), from the lowest to the highest non-empty bucket.",
    )
    duplicates: list[DuplicateGroup] = strawberry.field(
        resolver=duplicates_.duplicates,
        permission_classes=[CanRead],
        description="Groups of likely duplicate contacts or accounts (CONTACT or ACCOUNT), "
        "lowest id first, with the reason; merge them with mergeContacts / mergeAccounts.",
    )
    changes: ChangeFeed = strawberry.field(
        resolver=changes_.changes,
        permission_classes=[CanRead],
        description="Delta sync for offline clients: what changed after the token `since` "
        "(null: from the beginning), in commit order, deletions as tombstones. Never skips a "
        "change, even when transactions commit out of order. A token older than "
        "LEADGRAPH_CHANGE_RETENTION_DAYS is refused with SYNC_TOKEN_EXPIRED: sync from null.",
    )
    webhooks: list[Webhook] = strawberry.field(
        resolver=webhooks_.webhooks,
        permission_classes=[IsAdmin],
        description="The workspace's webhooks.",
    )


@strawberry.type(description="Change the workspace's customer graph. Each call is one transaction.")
class Mutation:
    create_account: AccountPayload = strawberry.mutation(
        resolver=accounts.create_account, permission_classes=[CanEdit]
    )
    update_account: AccountPayload = strawberry.mutation(
        resolver=accounts.update_account, permission_classes=[CanEdit]
    )
    delete_account: DeletePayload = strawberry.mutation(
        resolver=accounts.delete_account,
        permission_classes=[IsAdmin],
        description="Delete an account; its contacts, leads and child accounts are unlinked.",
    )
    create_contact: ContactPayload = strawberry.mutation(
        resolver=contacts.create_contact, permission_classes=[CanEdit]
    )
    update_contact: ContactPayload = strawberry.mutation(
        resolver=contacts.update_contact, permission_classes=[CanEdit]
    )
    delete_contact: DeletePayload = strawberry.mutation(
        resolver=contacts.delete_contact,
        permission_classes=[IsAdmin],
        description="Delete a contact and its interactions; its leads become sales-only leads.",
    )
    create_lead: LeadPayload = strawberry.mutation(
        resolver=leads.create_lead, permission_classes=[CanEdit]
    )
    update_lead: LeadPayload = strawberry.mutation(
        resolver=leads.update_lead, permission_classes=[CanEdit]
    )
    delete_lead: DeletePayload = strawberry.mutation(
        resolver=leads.delete_lead,
        permission_classes=[IsAdmin],
        description="Delete a lead and the interactions recorded on it.",
    )
    record_interaction: RecordInteractionPayload = strawberry.mutation(
        resolver=interactions.record_interaction,
        permission_classes=[CanMarket],
        description="Record an interaction; the answer carries the new scores of every lead it "
        "counts for, under every active scoring model.",
    )
    record_interactions: RecordInteractionsPayload = strawberry.mutation(
        resolver=interactions.record_interactions,
        permission_classes=[CanMarket],
        description="Record up to LEADGRAPH_MAX_BATCH_SIZE interactions, all or nothing.",
    )
    delete_interaction: RecordInteractionPayload = strawberry.mutation(
        resolver=interactions.delete_interaction,
        permission_classes=[IsAdmin],
        description="Delete an interaction and re-score the leads it counted for.",
    )
    create_scoring_model: ScoringModelPayload = strawberry.mutation(
        resolver=scoring.create_scoring_model,
        permission_classes=[CanMarket],
        description="Create a scoring model and score every lead under it.",
    )
    update_scoring_model: ScoringModelPayload = strawberry.mutation(
        resolver=scoring.update_scoring_model,
        permission_classes=[CanMarket],
        description="Change a scoring model; new rules, grades or threshold re-score every lead.",
    )
    create_api_key: CreateApiKeyPayload = strawberry.mutation(
        resolver=api_keys.create_api_key,
        permission_classes=[IsAdmin],
        description="Create an API key; its secret is returned this once.",
    )
    revoke_api_key: DeletePayload = strawberry.mutation(
        resolver=api_keys.revoke_api_key,
        permission_classes=[IsAdmin],
        description="Revoke an API key; it answers 401 from then on.",
    )
    accept_lead: LeadPayload = strawberry.mutation(
        resolver=lifecycle.accept_lead,
        permission_classes=[CanEdit],
        description="Sales accepts a NEW, NURTURING or SALES_READY lead.",
    )
    send_lead_back_to_marketing: LeadPayload = strawberry.mutation(
        resolver=lifecycle.send_lead_back_to_marketing,
        permission_classes=[CanEdit],
        description="A SALES_READY or SALES_ACCEPTED lead goes back to NURTURING.",
    )
    disqualify_lead: LeadPayload = strawberry.mutation(
        resolver=lifecycle.disqualify_lead,
        permission_classes=[CanEdit],
        description="Close an open lead as DISQUALIFIED.",
    )
    qualify_lead: QualifyLeadPayload = strawberry.mutation(
        resolver=lifecycle.qualify_lead,
        permission_classes=[CanEdit],
        description="Close an open lead as QUALIFIED and create its opportunity.",
    )
    reactivate_lead: LeadPayload = strawberry.mutation(
        resolver=lifecycle.reactivate_lead,
        permission_classes=[CanEdit],
        description="Reopen a QUALIFIED or DISQUALIFIED lead as NEW.",
    )
    track_visit: CapturePayload = strawberry.mutation(
        resolver=capture.track_visit,
        permission_classes=[CanCapture],
        description="Record a page visit of a browser (CAPTURE keys and up): anonymous until the "
        "visitor submits a form, then its contact's PAGE_VISITED interaction, re-scored at once.",
    )
    submit_form: CapturePayload = strawberry.mutation(
        resolver=capture.submit_form,
        permission_classes=[CanCapture],
        description="A landing-page form (CAPTURE keys and up), in one transaction: the contact "
        "by email, the open lead by topic, a FORM_SUBMITTED interaction, the visitor's earlier "
        "visits stitched, one re-score. Answers only `accepted` or input errors.",
    )
    merge_contacts: MergePayload = strawberry.mutation(
        resolver=merges.merge_contacts,
        permission_classes=[CanEdit],
        description="Merge up to 10 contacts into a survivor: their leads, interactions, "
        "opportunities and primary-contact roles move to it, its empty fields are filled, they "
        "are deleted and the affected leads re-scored, in one transaction.",
    )
    merge_accounts: MergePayload = strawberry.mutation(
        resolver=merges.merge_accounts,
        permission_classes=[CanEdit],
        description="Merge up to 10 accounts into a survivor: their contacts, leads, child "
        "accounts and opportunities move to it, its empty fields are filled, they are deleted "
        "and the affected leads re-scored; refused if it would create a parent account cycle.",
    )
    create_webhook: CreateWebhookPayload = strawberry.mutation(
        resolver=webhooks_.create_webhook,
        permission_classes=[IsAdmin],
        description="Create a webhook; its signing secret is returned this once.",
    )
    delete_webhook: DeletePayload = strawberry.mutation(
        resolver=webhooks_.delete_webhook,
        permission_classes=[IsAdmin],
        description="Delete a webhook and its delivery history.",
    )


@strawberry.type(
    description="Live events over WebSocket (graphql-transport-ws at /graphql), only ever from "
    "your workspace. A subscriber that falls behind is ended with an error: catch up with "
    "`changes`, then subscribe again."
)
class Subscription:
    score_changed: ScoreChange = strawberry.subscription(
        resolver=changes_.score_changed,
        description="A lead's score, grade or readiness moved (optionally one lead, one model, "
        "or only changes that leave the lead sales-ready).",
    )
    lead_status_changed: LeadStatusChange = strawberry.subscription(
        resolver=changes_.lead_status_changed,
        description="A lead's status changed (optionally one lead).",
    )
    record_changed: RecordChange = strawberry.subscription(
        resolver=changes_.record_changed,
        description="Every committed create, update and delete (optionally of some types).",
    )


class MaskUnexpectedErrors(MaskErrors):
    """Masks unexpected errors; a lost database becomes a clean SERVICE_UNAVAILABLE error."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if isinstance(error.original_error, GlobalIDValueError):  # a malformed ID argument
            return GraphQLError(
                f"Invalid ID: {error.original_error}",
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "BAD_USER_INPUT"},
            )
        if sqlstate(error.original_error) == "57014":  # statement_timeout cancelled it
            return GraphQLError(
                "The query ran longer than the database time budget allows and was cancelled; "
                "narrow it (filters, page sizes) and try again.",
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "QUERY_TIMEOUT"},
            )
        if sqlstate(error.original_error) in RETRYABLE:  # still conflicting after the retries
            return GraphQLError(
                "The change conflicted with concurrent changes; try again.",
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "CONFLICT"},
            )
        if is_client_data_error(error.original_error):
            return GraphQLError(
                "A value in the request is out of the range the database accepts.",
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "BAD_USER_INPUT"},
            )
        if is_database_outage(error.original_error):
            return GraphQLError(
                "The database is unavailable; try again shortly.",
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "SERVICE_UNAVAILABLE"},
            )
        return super().anonymise_error(error)


def should_mask_error(error) -> bool:
    """Keep GraphQL's own errors (syntax, validation, coercion) and our typed errors."""
    original = error.original_error
    if original is None:
        return False
    return not isinstance(original, ApiError) and not (
        error.extensions and error.extensions.get("code") == "FORBIDDEN"
    )


def is_client_error(error: GraphQLError) -> bool:
    """The client's mistake (logged at info, no traceback), not ours."""
    original = error.original_error
    code = (error.extensions or {}).get("code")
    return (
        original is None
        or isinstance(original, (ApiError, GlobalIDValueError))
        or code in {"FORBIDDEN", "BAD_USER_INPUT"}
        or sqlstate(original) == "57014"
        or is_client_data_error(original)
    )


class Schema(strawberry.Schema):
    async def execute(self, *args, **kwargs):  # type: ignore[override]
        """Errors raised inside an extension's hook (the SQL fast path's query, say) skip
        MaskErrors' hook: mask them here the same way."""
        result = await super().execute(*args, **kwargs)
        if result.errors:
            mask = MaskUnexpectedErrors(should_mask_error=should_mask_error)
            result.errors = mask._process_errors(result.errors)
        return result

    def field_error_result(self, exc: Exception, node, key: str) -> dict:
        """What execution answers when the non-null root field `key` raised `exc`: no data, the
        error logged and masked as a resolver's error is (for recordInteraction's lane)."""
        errors = [GraphQLError(str(exc), nodes=[node], path=[key], original_error=exc)]
        self.process_errors(errors)
        errors = MaskUnexpectedErrors(should_mask_error=should_mask_error)._process_errors(errors)
        return {"data": None, "errors": [error.formatted for error in errors]}

    def process_errors(self, errors, execution_context=None) -> None:
        """Log every error with the request id; clients only see masked messages."""
        for error in errors:
            if is_client_error(error):
                logger.info("request %s: %s", request_id.get(), clip(error.message, 300))
            else:
                logger.error(
                    "request %s: %s", request_id.get(), clip(error.message, 300), exc_info=error
                )


def build_schema(settings: Settings) -> strawberry.Schema:
    # The limit rules are made once: the validation cache keys on the rule classes, and
    # QueryDepthLimiter/MaxAliasesLimiter made per request would make new ones every time.
    limit_rules = [
        depth_rule(settings.max_query_depth, None, None),
        aliases_rule(settings.max_aliases),
    ]
    retry_every_field(Mutation)
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Interaction, Opportunity, Webhook, WebhookDelivery],
        config=StrawberryConfig(relay_max_results=settings.max_page_size),
        extensions=[
            preflight(settings),  # first: before the parser cache and around the fast path
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            ParserCache,
            ValidationCache,
            lambda: AddValidationRules(limit_rules),
            *([] if settings.introspection else [DisableIntrospection]),
            RejectNulCharacters,
            CaptureOnly,
            # The read path: after every limit and permission check above, before masking.
            *([read_path(settings)] if settings.sql_fast_path else []),
            recording_lane.lane_marker(),  # after every check; sees the executed result
            lambda: MaskUnexpectedErrors(should_mask_error=should_mask_error),
            *([OperationObserver] if settings.metrics or settings.log_format == "json" else []),
        ],
    )
