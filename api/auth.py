"""API keys -> Principal(workspace, role), and the permission classes built on roles."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from strawberry.permission import BasePermission

from models import ApiKey, Role, Workspace
from models.api_key import KEY_PREFIX, hash_secret


@dataclass(frozen=True)
class Principal:
    workspace_id: int
    role: Role
    api_key_id: int | None
    api_key_name: str
    # Capture keys: allowed browser origins (None: only LEADGRAPH_CORS_ORIGINS) and rate limits
    # (None: the settings).
    allowed_origins: tuple[str, ...] | None = None
    rate_limit_per_minute: int | None = None
    rate_limit_per_address: int | None = None

    @property
    def subject(self) -> str:
        """Whom rate limits count: the API key, or the token's subject."""
        return (
            f"key:{self.api_key_id}"
            if self.api_key_id is not None
            else f"token:{self.api_key_name}"
        )


class TokenVerifier:
    """Bearer JWTs from an identity provider: HS256 with a shared secret or RS256 with a public
    key. Required claims: `sub`, `exp`, `workspace` (a workspace slug) and `role`."""

    def __init__(self, *, secret: str | None, public_key: str | None) -> None:
        self.key = public_key or secret
        self.algorithms = ["RS256"] if public_key else ["HS256"]
        self._workspaces: dict[str, int] = {}

    async def principal(self, token: str) -> Principal | None:
        try:
            claims = jwt.decode(
                token,
                self.key,
                algorithms=self.algorithms,
                options={"require": ["sub", "exp", "workspace", "role"]},
            )
            role = Role(claims["role"])
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        slug = str(claims["workspace"])
        workspace_id = self._workspaces.get(slug)
        if workspace_id is None:
            workspace = await Workspace.filter(slug=slug).first()
            if workspace is None:
                return None
            workspace_id = self._workspaces[slug] = workspace.id
        return Principal(workspace_id, role, None, f"token:{claims['sub']}")


class ApiKeyAuthenticator:
    """Looks keys up by hash, remembering answers for a few seconds to spare the database.
    Other bearer tokens go to the JWT verifier when one is configured."""

    def __init__(self, cache_seconds: int, tokens: TokenVerifier | None = None) -> None:
        self.cache_seconds = cache_seconds
        self.tokens = tokens
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def authenticate(self, authorization: str | None) -> Principal | None:
        if not authorization:
            return None
        scheme, _, secret = authorization.partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or len(secret) > 4096:
            return None
        if not secret.startswith(KEY_PREFIX):
            return await self.tokens.principal(secret) if self.tokens else None
        if len(secret) > 200:
            return None
        digest = hash_secret(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached and cached[0] > now:
            return cached[1]
        key = await ApiKey.filter(key_hash=digest, revoked_at__isnull=True).first()
        if key is not None:
            await self._touch(key)
        principal = (
            Principal(
                key.workspace_id,  # type: ignore[attr-defined]
                Role(key.role),
                key.id,
                key.name,
                tuple(key.allowed_origins) if key.allowed_origins else None,
                key.rate_limit_per_minute,
                key.rate_limit_per_address,
            )
            if key
            else None
        )
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now + self.cache_seconds, principal)
        return principal

    @staticmethod
    async def _touch(key: ApiKey) -> None:
        """Record use, at most once a minute per key (lookups are cached in between)."""
        now = datetime.now(UTC)
        if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
            await ApiKey.filter(id=key.id).update(last_used_at=now)

    def forget(self) -> None:
        self._cache.clear()


class RolePermission(BasePermission):
    """Allows the listed roles; anything else is a FORBIDDEN error and nothing runs."""

    roles: frozenset[Role] = frozenset()
    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012

    @property
    def message(self) -> str:  # type: ignore[override]
        names = ", ".join(sorted(r.value for r in self.roles))
        return f"Forbidden: this operation needs one of the roles {names}."

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return info.context.principal.role in self.roles


class CanEdit(RolePermission):
    """Create and update contacts, accounts and leads; move leads through their lifecycle."""

    roles = frozenset({Role.ADMIN, Role.MARKETING, Role.SALES})


class CanMarket(RolePermission):
    """Record interactions and manage scoring models."""

    roles = frozenset({Role.ADMIN, Role.MARKETING})


class IsAdmin(RolePermission):
    """Delete records and manage API keys."""

    roles = frozenset({Role.ADMIN})


class CanRead(RolePermission):
    """Every query: all roles but CAPTURE, whose publishable key sits in web pages."""

    roles = frozenset(set(Role) - {Role.CAPTURE})


class CanCapture(RolePermission):
    """trackVisit and submitForm: CAPTURE, and the roles that may both edit and record
    interactions (a form creates contacts and leads and records what the visitor did)."""

    roles = frozenset({Role.CAPTURE, Role.ADMIN, Role.MARKETING})
