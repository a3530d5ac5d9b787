"""Who may change the daemon's state over HTTP: its control token, and only from a local, non-browser caller.

``POST /pause`` and ``POST /resume`` change what the glasses capture, so a request must pass three checks, in
this order (``ControlGuard.refusal``):

1. ``Host`` names this device as the caller reached it: ``localhost``, ``127.0.0.1``, ``::1``, the configured
   ``service.metrics_host`` or a name in ``service.control_hosts`` (403 otherwise). A page that rebinds its own
   DNS name to 127.0.0.1 still sends its own name as ``Host``, so it is refused.
2. No browser sent it across origins: any ``Origin`` header, or a ``Sec-Fetch-Site`` other than ``none``, is
   refused (403). The daemon serves no pages, so no browser request to it is ever same-origin.
3. ``Authorization: Bearer <control token>`` (401 otherwise). The token comes from ``service.control_token_file``:
   read when the file exists (it must be readable by its owner only), else made at start (32 random bytes) and
   written there with mode 0600. Without that key the daemon makes a token for its own run and writes it
   nowhere: the HTTP control routes are then closed to everyone, and ``SIGUSR1`` still toggles the pause.

The read-only routes (``/healthz``, ``/metrics``) hold no frames, questions or answers and stay open.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from eyeline.edge.errors import EdgeError

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})
_TOKEN_BYTES = 32


class ControlTokenError(EdgeError):
    """The control token file cannot be read, is empty, is readable by others, or cannot be written."""


def load_control_token(path: Path | None) -> str:
    """The control token kept in ``path`` (made and written 0600 when the file does not exist yet), or a fresh
    token for this run only when ``path`` is None."""
    if path is None:
        return secrets.token_urlsafe(_TOKEN_BYTES)
    try:
        return _read_token(path)
    except FileNotFoundError:
        return _write_token(path)


def _read_token(path: Path) -> str:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ControlTokenError(f"service.control_token_file {path}: others may read it (mode "
                                    f"{stat.S_IMODE(mode):04o}); make it 0600")
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ControlTokenError(f"service.control_token_file {path}: cannot read: {exc}") from exc
    if not token:
        raise ControlTokenError(f"service.control_token_file {path}: the file is empty")
    return token


def _write_token(path: Path) -> str:
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(token + "\n")
    except OSError as exc:
        raise ControlTokenError(f"service.control_token_file {path}: cannot write a new token: {exc.strerror}") \
            from exc
    return token


def host_name(header: str) -> str:
    """The name in a ``Host`` header, without its port: ``[::1]:9464`` -> ``::1``, ``localhost:80`` -> ``localhost``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    name, _, port = header.rpartition(":")
    return name if name and port.isdigit() and ":" not in name else header


@dataclass(frozen=True, slots=True)
class ControlGuard:
    """The checks every state-changing control route makes before it acts."""

    token: str
    hosts: frozenset[str] = LOCAL_HOSTS

    @classmethod
    def for_service(cls, token: str, metrics_host: str, extra_hosts: tuple[str, ...] = ()) -> ControlGuard:
        named = {metrics_host.lower()} - _WILDCARD_HOSTS
        return cls(token, LOCAL_HOSTS | named | {h.lower() for h in extra_hosts})

    def refusal(self, request: web.Request) -> web.HTTPException | None:
        """Why ``request`` may not change the daemon's state, as the HTTP error to answer; None when it may."""
        host = request.headers.get("Host")
        if host is None or host_name(host) not in self.hosts:
            return web.HTTPForbidden(text=f"control requests must be addressed to this device by one of its names "
                                          f"({', '.join(sorted(self.hosts))}), not {host!r}")
        if "Origin" in request.headers or request.headers.get("Sec-Fetch-Site", "none") != "none":
            return web.HTTPForbidden(text="control requests from web pages are refused")
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode("utf-8", "replace"),
                                                                 self.token.encode("utf-8")):
            return web.HTTPUnauthorized(text="send the daemon's control token as 'Authorization: Bearer <token>' "
                                             "(service.control_token_file)",
                                        headers={"WWW-Authenticate": 'Bearer realm="eyeline-edge"'})
        return None
