"""The daemon's structured logs: one JSON object a line, with counts, ids and states only, never frames or text."""

from __future__ import annotations

import json
import logging

log = logging.getLogger("eyeline.daemon")


def event_log(event: str, **fields: object) -> None:
    """One structured log line; callers pass counts, ids and states only, never frames or text."""
    log.info(json.dumps({"event": event, **fields}, sort_keys=True))


class JsonLogFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        body: dict[str, object] = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                                   "logger": record.name}
        try:
            parsed = json.loads(message)
            body.update(parsed if isinstance(parsed, dict) else {"message": message})
        except ValueError:
            body["message"] = message
        return json.dumps(body, sort_keys=True)


def use_json_logs(level: int = logging.INFO) -> None:
    """Structured logs on stderr, one JSON object a line (what journald and `logcat`-style collectors want)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
