"""The read path: a query operation compiled into one SQL statement that builds the response.

`compile_read` turns (document, operation, variables, caller) into a `Plan` (SQL + parameters)
or a `Decline` with its reason; `execute_plan` runs it. `read_path(settings)` is the schema
extension that does both after every limit and permission check has run, and leaves whatever
it declines (and every mutation) to strawberry's field-by-field execution. Each outcome counts
in `outcomes.OUTCOMES`.
"""

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType
from graphql.execution.values import get_variable_values
from strawberry.relay.types import GlobalIDValueError
from tortoise.backends.base.client import TransactionalDBClient

from api.errors import BadUserInput
from models.pool import fetch_read
from resolvers.compiler import outcomes, scores
from resolvers.compiler.compiler import Compiler
from resolvers.compiler.dialects import POSTGRES, SQLITE, register_sqlite_functions
from resolvers.compiler.outcomes import OUTCOMES, Decline
from resolvers.compiler.templates import Learner, Templates

logger = logging.getLogger("leadgraph")

# Placeholders the dialects write: $1 (PostgreSQL), ?1 (SQLite).
PG_PARAMETER = re.compile(r"\$(\d+)\b")
SQLITE_PARAMETER = re.compile(r"\?(\d+)\b")

__all__ = [
    "OUTCOMES",
    "Decline",
    "Plan",
    "answer_repeat",
    "compile_read",
    "execute_plan",
    "read_path",
]

CACHE_SIZE = 2000


@dataclass(frozen=True)
class Plan:
    sql: str
    params: tuple[Any, ...]
    operation: str = ""  # the operation's name, for the metrics and logs of a repeat
    explains: bool = False  # the answer holds reason markers (scores.explain)


def _operation(document: Any, operation_name: str | None) -> OperationDefinitionNode:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        o
        for o in operations
        if (operation_name is None and len(operations) == 1)
        or (operation_name is not None and o.name and o.name.value == operation_name)
    ]
    if len(chosen) != 1:
        raise Decline(outcomes.NO_OPERATION)
    if chosen[0].operation is not OperationType.QUERY:
        raise Decline(outcomes.NOT_A_QUERY)
    return chosen[0]


def compile_read(
    schema: Any,
    settings: Any,
    *,
    postgres: bool,
    workspace_id: int,
    role: Any,
    document: Any,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> Plan:
    """The plan for a query operation; raises Decline when strawberry should execute it."""
    operation = _operation(document, operation_name)
    coerced = get_variable_values(
        schema._schema, operation.variable_definitions or (), variables or {}
    )
    if isinstance(coerced, list):
        raise Decline(outcomes.VARIABLES)
    compiler = Compiler(
        schema,
        settings,
        POSTGRES if postgres else SQLITE,
        workspace_id=workspace_id,
        role=role,
        document=document,
        operation=operation,
        variables=coerced,
    )
    try:
        sql = compiler.operation_sql()
    except (BadUserInput, GraphQLError, GlobalIDValueError) as exc:
        # Strawberry reports these to the client (invalid cursor, page size, ID...).
        raise Decline(outcomes.USER_ERROR) from exc
    name = operation.name.value if operation.name else ""
    sql, params = only_used_parameters(sql, compiler.q.params, postgres)
    return Plan(sql, tuple(params), name, compiler.explains)


def only_used_parameters(sql: str, params: list[Any], postgres: bool) -> tuple[str, list[Any]]:
    """Drops parameters the statement never references, renumbering the rest: a part of the
    selection that needs no rows (`accounts { __typename }`) registers its workspace parameter
    but leaves no placeholder, and both drivers refuse a parameter count that does not match."""
    pattern = PG_PARAMETER if postgres else SQLITE_PARAMETER
    used = sorted({int(n) for n in pattern.findall(sql)})
    if used == list(range(1, len(params) + 1)):
        return sql, params
    number = {old: new for new, old in enumerate(used, 1)}
    mark = "$" if postgres else "?"
    sql = pattern.sub(lambda m: f"{mark}{number[int(m.group(1))]}", sql)
    return sql, [params[old - 1] for old in used]


class PlanCache:
    """Plans (or decline reasons) by query text, operation, variables and caller: a repeated
    request skips compilation. Bounded, least recently used out first. `templates` serve the
    same documents with other variable values (templates.py)."""

    def __init__(self, settings: Any = None, size: int = CACHE_SIZE) -> None:
        self.size = size
        self.settings = settings
        self._plans: OrderedDict[tuple, Plan | str] = OrderedDict()
        self._answered: OrderedDict[tuple, Plan] = OrderedDict()
        self.templates = Templates(size)

    def get(self, key: tuple) -> Plan | str | None:
        found = self._plans.get(key)
        if found is not None:
            self._plans.move_to_end(key)
        return found

    def put(self, key: tuple, value: Plan | str) -> None:
        self._plans[key] = value
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)

    def mark_answered(self, key: tuple, plan: Plan) -> None:
        """This exact request passed every check and its plan answered it."""
        self._answered[key] = plan
        if len(self._answered) > self.size:
            self._answered.popitem(last=False)

    def answered(self, key: tuple) -> Plan | None:
        return self._answered.get(key)


def cache_key(
    query: Any, operation_name: Any, variables: Any, principal: Any, postgres: bool
) -> tuple | None:
    """Everything a plan and the checks before it depend on: the request and the caller."""
    try:
        encoded = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None  # variables orjson cannot encode: compile without caching
    return (query, operation_name, encoded, principal.workspace_id, principal.role, postgres)


def key_of_document(key: tuple) -> tuple:
    """A cache key without its variables: what templates are kept by."""
    return key[:2] + key[3:]


def learner_for(schema, settings, *, postgres, principal, document, operation_name, plan, bill):
    """A Learner (templates.py) that compiles and bills this document as the pipeline does."""
    from api.preflight import bill_of

    def compile_plan(variables: dict) -> Plan:
        return compile_read(
            schema,
            settings,
            postgres=postgres,
            workspace_id=principal.workspace_id,
            role=principal.role,
            document=document,
            operation_name=operation_name,
            variables=variables,
        )

    def bill_for(variables: dict) -> Any:
        return bill_of(schema, document, variables, settings, operation_name)

    return Learner(compile_plan, bill_for, plan, bill)


def learn_template(schema, settings, cache: PlanCache, ctx: Any, principal, key, plan: Plan):
    """Derive the template of a document the pipeline just answered by `plan` (templates.py).
    Learning never fails a request: anything unexpected leaves the document without one."""
    learner = learner_for(
        schema,
        settings,
        postgres=key[-1],
        principal=principal,
        document=ctx.graphql_document,
        operation_name=ctx.operation_name,
        plan=plan,
        bill=ctx.context.bill,
    )
    try:
        cache.templates.learn(
            schema,
            key_of_document(key),
            ctx.graphql_document,
            ctx.operation_name,
            ctx.variables,
            learner,
        )
    except Exception:  # a template is an optimisation: the request is answered already
        logger.exception("could not learn a template for operation %r", key[1])


def plan_cache(schema: Any) -> PlanCache | None:
    """The schema's plan cache (the read path extension's), found once per schema."""
    found = schema.__dict__.get("_leadgraph_plan_cache", False)
    if found is False:
        found = next((e.cache for e in schema.extensions if hasattr(e, "cache")), None)
        schema.__dict__["_leadgraph_plan_cache"] = found
    return found


async def answer_repeat(schema: Any, request_data: Any, principal: Any) -> Any:
    """The answer to an exact repeat of a read that passed every check (validation, depth,
    aliases, tokens, cost, NUL, permissions) and was answered by its plan: those checks depend on
    nothing but the key, so their verdict holds, and strawberry's pipeline is skipped. None when
    this request is not such a repeat (or anything fails): the caller runs the full pipeline."""
    from graphql import ExecutionResult

    from api import metrics
    from models.sql import connection, is_postgres

    cache = plan_cache(schema)
    if cache is None or principal is None or not isinstance(request_data.query, str):
        return None
    conn = connection()
    postgres = is_postgres(conn)
    key = cache_key(
        request_data.query, request_data.operation_name, request_data.variables, principal, postgres
    )
    plan = cache.answered(key) if key is not None else None
    if plan is None and key is not None and request_data.variables:
        found = cache.templates.find(
            schema, cache.settings, key_of_document(key), request_data.variables
        )
        if found is not None:
            template, params = found
            plan = Plan(template.sql, params, template.operation, template.explains)
    if plan is None:
        return None
    try:
        data = await execute_plan(conn, plan, postgres)
    except Exception:  # the full pipeline answers, and reports the error as it does
        return None
    outcomes.record(outcomes.COMPILED)
    observation = metrics.current.get()
    if observation is not None:  # what api.metrics.OperationObserver tells the edge
        observation.operation = plan.operation
        observation.outcome = "ok"
    return ExecutionResult(data=data)


def plan_for(schema, settings, cache: PlanCache, ctx: Any, principal: Any, key, postgres: bool):
    """The cached or new plan for this request, or the reason it declines."""
    found = cache.get(key) if key is not None else None
    if found is None:
        try:
            found = compile_read(
                schema,
                settings,
                postgres=postgres,
                workspace_id=principal.workspace_id,
                role=principal.role,
                document=ctx.graphql_document,
                operation_name=ctx.operation_name,
                variables=ctx.variables,
            )
        except Decline as exc:
            found = exc.reason
        if key is not None:
            cache.put(key, found)
    return found


def too_deep(exc: Exception) -> bool:
    """SQLite's parser refused the statement's nesting depth (a fixed limit of its build)."""
    return "parser stack overflow" in str(exc)


async def execute_plan(conn: Any, plan: Plan, postgres: bool) -> Any:
    """Runs the statement; the driver's statement cache prepares it once per connection.

    Outside a transaction, PostgreSQL reads run on a pooled connection of their own through
    `models.pool.fetch_read`, whose release skips the pool's reset round trip."""
    if not postgres:
        await register_sqlite_functions(conn)
    pooled = getattr(conn, "_pool", None) is not None
    if postgres and pooled and not isinstance(conn, TransactionalDBClient):
        conn.log.debug("%s: %s", plan.sql, plan.params)  # as tortoise logs (statement counts)
        row = await conn._translate_exceptions(
            lambda _: fetch_read(conn._pool, plan.sql, plan.params)
        )
    else:
        row = (await conn.execute_query_dict(plan.sql, list(plan.params)))[0]
    if row.get(outcomes.FALLBACK_COLUMN):
        raise outcomes.Fallback
    data = orjson.loads(row["data"])
    return scores.explain(data) if plan.explains else data


def read_path(settings: Any):
    """A SchemaExtension class answering compiled reads; runs after the limit extensions."""
    from graphql import ExecutionResult
    from strawberry.extensions import SchemaExtension

    from models.sql import connection, is_postgres

    cache = PlanCache(settings)

    class CompiledReads(SchemaExtension):
        async def on_execute(self):
            ctx = self.execution_context
            principal = getattr(ctx.context, "principal", None)
            if ctx.result is None and principal is not None and ctx.graphql_document is not None:
                conn = connection()
                postgres = is_postgres(conn)
                # The operation name as the client sent it (ctx.operation_name is the resolved
                # one): repeats are recognised by the request as it arrives (answer_repeat).
                sent_name = getattr(ctx, "_provided_operation_name", ctx.operation_name)
                key = cache_key(ctx.query, sent_name, ctx.variables, principal, postgres)
                plan = plan_for(ctx.schema, settings, cache, ctx, principal, key, postgres)
                outcome = outcomes.COMPILED if isinstance(plan, Plan) else outcomes.declined(plan)
                if isinstance(plan, Plan):
                    try:
                        ctx.result = ExecutionResult(data=await execute_plan(conn, plan, postgres))
                        # Repeats skip every check, so only reads that hold no per-workspace
                        # slot for expensive reads (api/preflight.py) may be answered that way.
                        if key is not None and not getattr(ctx.context, "needs_slot", False):
                            cache.mark_answered(key, plan)
                            if ctx.variables and getattr(ctx.context, "bill", None) is not None:
                                learn_template(
                                    ctx.schema, settings, cache, ctx, principal, key, plan
                                )
                    except outcomes.Fallback:
                        outcome = outcomes.declined(outcomes.RUN_TIME_ERROR)
                    except Exception as exc:
                        if postgres or not too_deep(exc):
                            raise
                        outcome = outcomes.declined(outcomes.TOO_DEEP)
                        if key is not None:
                            cache.put(key, outcomes.TOO_DEEP)
                outcomes.record(outcome)
            yield

    CompiledReads.cache = cache
    return CompiledReads
