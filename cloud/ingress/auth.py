"""Signed, expiring session tokens.

A token is ``v1.<claims>.<signature>``: the claims are base64url JSON (subject, role, issued-at and expiry in
Unix seconds), the signature is HMAC-SHA256 over ``v1.<claims>`` with the cloud's secret. The cloud checks
the token on every stream before reading anything else from it.

A token's role says what its subject may do (``TokenClaims``):

| role | publish (gRPC, WHIP) | view (list, events, frames, preview, watch) | ask (viewer query) |
|---|---|---|---|
| ``edge`` (the default) | its own sessions | its own sessions | its own sessions |
| ``viewer`` | no | its own sessions | its own sessions |
| ``admin`` | no | every session | its own sessions only |

A token minted before roles existed has no role claim and is an ``edge`` token. Asking steers what the wearer
sees (the answer lands on their glasses), so nobody, an admin included, asks into another subject's session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from eyeline.cloud.errors import CloudError

TOKEN_VERSION = "v1"
MIN_SECRET_BYTES = 16
SECRET_ENV = "EYELINE_TOKEN_SECRET"

WallClock = Callable[[], float]
"""Unix time in seconds; tokens outlive processes, so they use the wall clock, injected for tests."""


class AuthError(CloudError):
    """A session token is missing, malformed, forged or expired."""


class Role(Enum):
    EDGE = "edge"        # publishes its subject's sessions, and views them
    VIEWER = "viewer"    # views its subject's sessions; never publishes
    ADMIN = "admin"      # views every session; never publishes


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    issued_at: int
    expires_at: int
    role: Role = Role.EDGE

    @property
    def may_publish(self) -> bool:
        """Whether this token may open a session (gRPC Hello, WHIP offer) or end a publishing peer."""
        return self.role is Role.EDGE

    def may_view(self, owner: str) -> bool:
        """Whether this token may see a session of ``owner`` (listed, events, frames, preview, live video)."""
        return self.role is Role.ADMIN or owner == self.subject

    def may_ask(self, owner: str) -> bool:
        """Whether this token may ask into a session of ``owner``: only its own subject's, whatever the role."""
        return owner == self.subject


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Mints and verifies tokens with one shared secret."""

    def __init__(self, secret: bytes, *, wall_clock: WallClock = time.time) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise AuthError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes, got {len(secret)}")
        self._secret = secret
        self._wall_clock = wall_clock

    def mint(self, subject: str, ttl_s: int = 3600, *, role: Role = Role.EDGE) -> str:
        if ttl_s <= 0:
            raise AuthError(f"token lifetime must be positive, got {ttl_s} s")
        now = int(self._wall_clock())
        claims = {"sub": subject, "role": role.value, "iat": now, "exp": now + ttl_s}
        body = f"{TOKEN_VERSION}.{_b64encode(json.dumps(claims, separators=(',', ':')).encode())}"
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str) -> TokenClaims:
        if not token.isascii():
            raise AuthError("malformed session token: it must be ASCII (v1.<claims>.<signature>)")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_VERSION:
            raise AuthError("malformed session token: expected v1.<claims>.<signature>")
        body = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(body), parts[2]):
            raise AuthError("session token signature does not match: wrong secret or altered token")
        claims = self._parse_claims(parts[1])
        if claims.expires_at <= self._wall_clock():
            raise AuthError(f"session token expired at {claims.expires_at} (Unix time); mint a new one")
        return claims

    def session_id(self, subject: str, nonce: str) -> str:
        """A session id this cloud can later prove it issued, to ``subject``: ``nonce.signature``. Any cloud
        holding the same secret (this one after a restart) accepts it back."""
        return f"{nonce}.{self._sign(f'session:{subject}:{nonce}')[:22]}"

    def issued_session_id(self, session_id: str, subject: str) -> bool:
        """Whether ``session_id`` was issued by a cloud with this secret to ``subject``."""
        if not session_id.isascii():
            return False
        nonce, _, signature = session_id.rpartition(".")
        expected = self._sign(f"session:{subject}:{nonce}")[:22]
        return bool(nonce) and hmac.compare_digest(signature.encode(), expected.encode())

    def _sign(self, body: str) -> str:
        # UTF-8, not ASCII: a subject (in a session id's signed text) may be any string; for ASCII it is the same.
        return _b64encode(hmac.new(self._secret, body.encode("utf-8"), hashlib.sha256).digest())

    @staticmethod
    def _parse_claims(encoded: str) -> TokenClaims:
        try:
            raw = json.loads(_b64decode(encoded))
            # No role claim: a token minted before roles, which could only publish and view its own sessions.
            role = Role(raw.get("role", Role.EDGE.value))
            return TokenClaims(subject=str(raw["sub"]), issued_at=int(raw["iat"]), expires_at=int(raw["exp"]),
                               role=role)
        except (binascii.Error, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AuthError(f"malformed session token claims: {exc}") from exc


MAX_SESSION_ID_CHARS = 128


def session_id_problem(session_id: str) -> str | None:
    """Why ``session_id`` (a Hello's ``resume_session_id``) cannot name any session, or None when it could: ids
    are short printable ASCII (``TokenSigner.session_id``)."""
    if len(session_id) > MAX_SESSION_ID_CHARS:
        return f"a session id of {len(session_id)} characters; ids have at most {MAX_SESSION_ID_CHARS}"
    if not (session_id.isascii() and session_id.isprintable()):
        return "a session id must be printable ASCII"
    return None


def load_secret(secret_file: Path | None = None) -> bytes:
    """The token secret from a file, else from ``$EYELINE_TOKEN_SECRET``; a clear error if neither is set."""
    if secret_file is not None:
        try:
            return secret_file.read_bytes().strip()
        except OSError as exc:
            raise AuthError(f"cannot read token secret file {secret_file}: {exc.strerror}") from exc
    from_env = os.environ.get(SECRET_ENV, "")
    if not from_env:
        raise AuthError(f"no token secret: pass --secret-file or set ${SECRET_ENV}")
    return from_env.encode()


def bearer_token(metadata: tuple[tuple[str, str | bytes], ...] | None) -> str | None:
    """The token of an ``authorization: Bearer <token>`` gRPC metadata entry, if there is one."""
    for key, value in metadata or ():
        if key.lower() == "authorization":
            text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token:
                return token.strip()
    return None
