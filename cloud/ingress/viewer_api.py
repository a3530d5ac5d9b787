"""The viewer's recording routes: the cloud's ``--record-dir`` recordings, listed and played back in the browser.

| route | what |
|---|---|
| ``GET /api/recordings`` | the recordings this token may see, newest first (``recording``: false when the cloud |
|   | records nothing) |
| ``GET /api/recordings/{name}`` (``?partial=1``) | the recording as a timeline (``eyeline.cloud.session.playback``); |
|   | 422 with ``{"error": "truncated_recording"}`` for a file that ends mid-record, unless ``partial`` |
| ``GET /api/recordings/{name}/frames/{seq}`` | one recorded camera frame, as recorded (JPEG) |

Ownership is the live sessions' rule: a recording names its subject in its metadata, and a token sees it only if
``TokenClaims.may_view`` that subject (an admin sees all; a recording that names no subject, only an admin). Any
other is the same 404 as a name that does not exist. Files are read in a worker, never on the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from eyeline.cloud.ingress.auth import TokenClaims
from eyeline.cloud.session.names import session_name
from eyeline.cloud.session.playback import (
    Playback,
    PlaybackError,
    TruncatedPlaybackError,
    list_recordings,
    read_playback,
    recording_owner,
    recording_path,
)

Claims = Callable[[web.Request], TokenClaims]


class RecordingRoutes:
    """Serves ``folder``'s recordings to the tokens ``claims`` accepts."""

    def __init__(self, folder: Path | None, claims: Claims) -> None:
        self._folder = folder
        self._claims = claims
        self._cached: tuple[tuple[Path, int, int, bool], Playback] | None = None   # the last one read

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/recordings", self._list), web.get("/api/recordings/{name}", self._playback),
                web.get("/api/recordings/{name}/frames/{seq}", self._frame)]

    async def _list(self, request: web.Request) -> web.Response:
        claims = self._claims(request)
        if self._folder is None:
            return web.json_response({"recording": False, "recordings": []})
        entries = await asyncio.to_thread(list_recordings, self._folder)
        rows = [{"name": e.name, "size": e.size, "subject": e.subject, "session_id": e.session_id,
                 "profile": e.profile, "title": session_name(e.subject or "?", e.session_id or e.name)}
                for e in entries if claims.may_view(e.subject)]
        return web.json_response({"recording": True, "recordings": rows})

    async def _playback(self, request: web.Request) -> web.Response:
        playback = await self._read(request)
        body = playback.as_json()
        body["title"] = session_name(body["subject"] or "?", body["session_id"] or playback.name)
        return web.json_response(body)

    async def _frame(self, request: web.Request) -> web.Response:
        playback = await self._read(request)
        try:
            seq = int(request.match_info["seq"])
        except ValueError as exc:
            raise _problem(400, "the frame number must be an integer") from exc
        data = playback.frames.get(seq)
        if data is None:
            listed = any(listed_seq == seq for _, listed_seq in playback.frame_times)
            held = " held for playback (it is past the first 256 MB of frames)" if listed else ""
            raise _problem(404, f"recording {playback.name} holds no frame {seq}{held}")
        return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def _read(self, request: web.Request) -> Playback:
        """The named recording if this token may see it, read (or taken from the cache); else a 404 or 422."""
        claims = self._claims(request)
        name = request.match_info["name"]
        path = None if self._folder is None else await asyncio.to_thread(recording_path, self._folder, name)
        # Whose it is comes from its metadata, read before the rest: another subject's truncated file is a 404 too.
        owner = None if path is None else await asyncio.to_thread(recording_owner, path)
        if path is None or owner is None or not claims.may_view(owner):
            raise _problem(404, f"no recording {name}")
        return await self._load(path, request.query.get("partial") == "1", name)

    async def _load(self, path: Path, partial: bool, name: str) -> Playback:
        stat = await asyncio.to_thread(path.stat)
        key = (path, stat.st_mtime_ns, stat.st_size, partial)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        try:
            playback = await asyncio.to_thread(read_playback, path, accept_truncated=partial)
        except TruncatedPlaybackError as exc:
            raise _typed(422, exc.code, str(exc), messages=exc.messages) from exc
        except (PlaybackError, OSError) as exc:
            raise _typed(422, PlaybackError.code, f"recording {name} cannot be played back: {exc}") from exc
        self._cached = (key, playback)
        return playback


def _problem(status: int, message: str) -> web.HTTPException:
    error = web.HTTPException(text=message)
    error.set_status(status)
    return error


def _typed(status: int, code: str, message: str, **extra: object) -> web.HTTPException:
    """An error the page can tell apart by ``error``, with what it says to a person in ``message``."""
    error = web.HTTPException(text=web.json_response({"error": code, "message": message, **extra}).text,
                              content_type="application/json")
    error.set_status(status)
    return error
