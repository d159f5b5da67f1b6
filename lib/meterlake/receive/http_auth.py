"""API keys for the HTTP service: `Authorization: Bearer <key>`, checked in constant time.

Keys come from outside git, through `METERLAKE_API_KEYS`: comma-separated, each optionally
followed by its scopes, `key:scope1+scope2`; a key without scopes has every scope. Keys may not
contain `,` or `:`. The key itself is never stored or logged: a request is attributed to the
key's fingerprint (`key:` and the first 12 hex digits of its sha256).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

INGEST, READ = "ingest", "read"
SCOPES = frozenset({INGEST, READ})
KEYS_VARIABLE = "METERLAKE_API_KEYS"

# Declares the scheme in /openapi.json (and the Authorize button of /docs); the checks and
# their messages are ours, so it never raises by itself.
_BEARER = HTTPBearer(auto_error=False, description="an API key from METERLAKE_API_KEYS")


@dataclass(frozen=True)
class ApiKey:
    secret: bytes
    scopes: frozenset[str]

    @property
    def fingerprint(self) -> str:
        """A name for the key that reveals nothing usable: recorded as the sender."""
        return "key:" + hashlib.sha256(self.secret).hexdigest()[:12]


def parse_api_keys(text: str) -> tuple[ApiKey, ...]:
    """`k1,k2:ingest,k3:ingest+read` as keys; raises ValueError naming an unknown scope."""
    keys = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        secret, _, scope_text = entry.partition(":")
        scopes = frozenset(s.strip() for s in scope_text.split("+") if s.strip())
        unknown = scopes - SCOPES
        if not secret or unknown:
            raise ValueError(
                f"{KEYS_VARIABLE}: entry with fingerprint "
                f"{ApiKey(secret.encode(), frozenset()).fingerprint} has an empty key or unknown "
                f"scopes {sorted(unknown)}; scopes are {sorted(SCOPES)}"
            )
        keys.append(ApiKey(secret.encode("utf-8"), scopes or SCOPES))
    return tuple(keys)


def find_key(keys: tuple[ApiKey, ...], presented: str) -> ApiKey | None:
    """The configured key equal to `presented`. Every key is compared, each with
    `hmac.compare_digest`, so the time taken says nothing about which key came close."""
    candidate = presented.encode("utf-8")
    found = None
    for key in keys:
        if hmac.compare_digest(key.secret, candidate):
            found = key
    return found


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def require_scope(scope: str) -> Callable[..., Awaitable[ApiKey]]:
    """A FastAPI dependency: the request's key if it is valid (401) and has `scope` (403).

    Async although it awaits nothing: FastAPI would run a plain function in its threadpool, a
    thread hop per request for a few comparisons."""

    async def check(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    ) -> ApiKey:
        header = request.headers.get("authorization")
        if header is None:
            raise _unauthorized("missing Authorization header: send 'Authorization: Bearer <key>'")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization must be 'Bearer <key>'")
        key = find_key(request.app.state.api_keys, token.strip())
        if key is None:
            raise _unauthorized("invalid API key")
        if scope not in key.scopes:
            raise HTTPException(403, f"this API key lacks the '{scope}' scope")
        return key

    return check
