"""Signed, expiring session tokens.

A token is ``v1.<claims>.<signature>``: the claims are base64url JSON (subject, issued-at and expiry in
Unix seconds), the signature is HMAC-SHA256 over ``v1.<claims>`` with the cloud's secret. The cloud checks
the token on every stream before reading anything else from it.
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
from pathlib import Path

from eyeline.cloud.errors import CloudError

TOKEN_VERSION = "v1"
MIN_SECRET_BYTES = 16
SECRET_ENV = "EYELINE_TOKEN_SECRET"

WallClock = Callable[[], float]
"""Unix time in seconds; tokens outlive processes, so they use the wall clock, injected for tests."""


class AuthError(CloudError):
    """A session token is missing, malformed, forged or expired."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    issued_at: int
    expires_at: int


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

    def mint(self, subject: str, ttl_s: int = 3600) -> str:
        if ttl_s <= 0:
            raise AuthError(f"token lifetime must be positive, got {ttl_s} s")
        now = int(self._wall_clock())
        claims = {"sub": subject, "iat": now, "exp": now + ttl_s}
        body = f"{TOKEN_VERSION}.{_b64encode(json.dumps(claims, separators=(',', ':')).encode())}"
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str) -> TokenClaims:
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
        nonce, _, signature = session_id.rpartition(".")
        expected = self._sign(f"session:{subject}:{nonce}")[:22]
        return bool(nonce) and hmac.compare_digest(signature.encode(), expected.encode())

    def _sign(self, body: str) -> str:
        return _b64encode(hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest())

    @staticmethod
    def _parse_claims(encoded: str) -> TokenClaims:
        try:
            raw = json.loads(_b64decode(encoded))
            return TokenClaims(subject=str(raw["sub"]), issued_at=int(raw["iat"]), expires_at=int(raw["exp"]))
        except (binascii.Error, ValueError, KeyError, TypeError) as exc:
            raise AuthError(f"malformed session token claims: {exc}") from exc


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
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token:
                return token.strip()
    return None
