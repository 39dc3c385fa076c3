"""How much of what clients send the compiler answers: generated read queries (hypothesis-graphql
from the live schema), rewritten with fragments as client libraries send them, compiled for both
databases without running them. Prints the share compiled and every decline reason with its count.

    python bench/compiler_coverage.py [N] [--as-generated]   (default 2000 queries)

By default random cursors and IDs, out-of-range page sizes and first+last are removed first
(tests/fragments.py: realistic), since only a fuzzer sends them and they are client errors.
"""

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fragments import realistic, with_fragments
from graphql import parse, validate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import from_schema
from test_fuzz import SCALARS, SDL

from api.schema import build_schema
from api.settings import Settings
from models import Role
from resolvers.compiler import Decline, compile_read
from resolvers.compiler.outcomes import USER_ERROR

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
REALISTIC = "--as-generated" not in sys.argv
SCHEMA = build_schema(Settings())
DOCUMENTS = from_schema(SDL, custom_scalars=SCALARS, print_ast=lambda d: d).filter(
    lambda d: d.definitions[0].operation.value == "query"
)
outcomes: Counter[str] = Counter()


@settings(max_examples=N, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(document=DOCUMENTS, seed=st.integers(0, 2**32))
def sample(document, seed):
    document = realistic(document, SCHEMA._schema) if REALISTIC else document
    parsed = parse(with_fragments(SCHEMA._schema, document, seed))
    if validate(SCHEMA._schema, parsed):
        outcomes["(invalid: the limits or validation refuse it first)"] += 1
        return
    try:
        compile_read(
            SCHEMA,
            Settings(),
            postgres=True,
            workspace_id=1,
            role=Role.ADMIN,
            document=parsed,
            operation_name=None,
            variables={},
        )
        outcomes["compiled"] += 1
    except Decline as exc:
        outcomes[f"declined: {exc.reason}"] += 1


if __name__ == "__main__":
    sample()
    valid = sum(n for k, n in outcomes.items() if not k.startswith("(invalid"))
    print(f"{sum(outcomes.values())} generated read queries with fragments, {valid} valid:")
    for outcome, n in outcomes.most_common():
        print(f"  {n:5d}  {outcome}")
    print(f"compiled: {outcomes['compiled'] / max(valid, 1):.1%} of the valid ones")
    answerable = valid - outcomes[f"declined: {USER_ERROR}"]
    print(
        f"compiled: {outcomes['compiled'] / max(answerable, 1):.1%} of the {answerable} that are "
        "not client errors (which strawberry reports as errors)"
    )
