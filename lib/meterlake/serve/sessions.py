"""Dashboard sessions: an API key with the `read` scope exchanged for a signed, expiring cookie.

A browser cannot send a bearer header from a link, so the dashboard signs in once and carries a
cookie. The cookie holds no secret: the key's fingerprint and an expiry, signed with HMAC-SHA256
under the server's session secret. Nothing is stored on the server, so every uvicorn worker
accepts a session another one issued as long as they share the secret (`meterlake serve`
draws one per start and hands it to its workers; `METERLAKE_SESSION_SECRET` pins it, for
sessions that survive a restart). Each request checks the signature, the expiry and that the
key is still configured with the `read` scope: removing a key ends its sessions.

The cookie is HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it,
which is what stops a forged sign-out or read), limited to /dashboard, Secure when the request
came over TLS, and expires with the session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass

from meterlake.receive.http_auth import READ, ApiKey

COOKIE = "meterlake_session"
COOKIE_PATH = "/dashboard"
SECRET_VARIABLE = "METERLAKE_SESSION_SECRET"


@dataclass(frozen=True)
class Session:
    fingerprint: str
    expires_at: int  # Unix seconds


def session_secret(env: dict[str, str] | None = None) -> bytes:
    """METERLAKE_SESSION_SECRET, else a fresh random one (sessions then end with the process)."""
    configured = (os.environ if env is None else env).get(SECRET_VARIABLE)
    return configured.encode("utf-8") if configured else secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def issue(secret: bytes, key: ApiKey, lifetime_s: int, now: float | None = None) -> str:
    """The cookie value of a new session of `key`, valid for `lifetime_s` seconds."""
    expires = int(now if now is not None else time.time()) + lifetime_s
    payload = _b64(json.dumps({"k": key.fingerprint, "exp": expires}).encode("utf-8"))
    return f"{payload}.{_signature(secret, payload)}"


def verify(secret: bytes, token: str | None, keys: tuple[ApiKey, ...],
           now: float | None = None) -> Session | None:
    """The session of a cookie value if its signature holds, it has not expired and its key is
    still configured with the `read` scope; None otherwise (never raises on a forged value)."""
    if not token or token.count(".") != 1:
        return None
    payload, signature = token.split(".")
    if not hmac.compare_digest(_signature(secret, payload), signature):
        return None
    try:
        fields = json.loads(_unb64(payload))
        session = Session(str(fields["k"]), int(fields["exp"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires_at <= (now if now is not None else time.time()):
        return None
    if not any(k.fingerprint == session.fingerprint and READ in k.scopes for k in keys):
        return None
    return session
