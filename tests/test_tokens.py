"""Optional JWT bearer tokens (HS256 secret or RS256 public key) carrying workspace and role."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from api.auth import TokenVerifier
from models import Role

SECRET = "test-secret-that-is-long-enough-for-hs256"


def token(key, algorithm="HS256", **claims) -> str:
    payload = {"sub": "ada@idp", "exp": int(time.time()) + 60, "role": "SALES", **claims}
    return jwt.encode(payload, key, algorithm=algorithm)


@pytest.fixture
def with_tokens(app):
    authenticator = app.state.authenticator
    authenticator.tokens = TokenVerifier(secret=SECRET, public_key=None)
    yield
    authenticator.tokens = None


async def test_hs256_token_reads_and_writes_as_its_role(tenant, http, with_tokens):
    headers = {"Authorization": f"Bearer {token(SECRET, workspace=tenant.workspace.slug)}"}
    create = 'mutation { createAccount(input: {name: "Via token"}) { account { name } } }'
    created = await http.post("/graphql", json={"query": create}, headers=headers)
    assert created.json()["data"]["createAccount"]["account"] == {"name": "Via token"}
    delete = await http.post(
        "/graphql",
        json={"query": 'mutation { deleteAccount(input: {id: "QWNjb3VudDox"}) { deletedId } }'},
        headers=headers,
    )
    assert delete.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # SALES may not delete


@pytest.mark.parametrize(
    "bad",
    [
        lambda slug: token("wrong-secret-wrong-secret-wrong-secret!", workspace=slug),
        lambda slug: token(SECRET, workspace=slug, exp=int(time.time()) - 10),
        lambda slug: token(SECRET, workspace="no-such-workspace"),
        lambda slug: token(SECRET, workspace=slug, role="OWNER"),
        lambda slug: jwt.encode(
            {"sub": "x", "exp": int(time.time()) + 60, "workspace": slug}, SECRET
        ),
        lambda slug: "not-a-token",
    ],
)
async def test_bad_tokens_are_401(tenant, http, with_tokens, bad):
    headers = {"Authorization": f"Bearer {bad(tenant.workspace.slug)}"}
    response = await http.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    assert response.status_code == 401


async def test_tokens_are_refused_when_not_configured(tenant, http):
    headers = {"Authorization": f"Bearer {token(SECRET, workspace=tenant.workspace.slug)}"}
    response = await http.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    assert response.status_code == 401


async def test_rs256_with_a_public_key(tenant):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    verifier = TokenVerifier(secret=None, public_key=public_pem)
    good = token(private, "RS256", workspace=tenant.workspace.slug, role="READ_ONLY")
    principal = await verifier.principal(good)
    assert principal.workspace_id == tenant.workspace.id and principal.role is Role.READ_ONLY
    assert principal.api_key_name == "token:ada@idp"
    forged = token(SECRET, "HS256", workspace=tenant.workspace.slug)  # algorithm confusion
    assert await verifier.principal(forged) is None
