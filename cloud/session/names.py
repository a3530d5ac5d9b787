"""Readable session names: ``<subject> · <adjective>-<noun>``, derived from the session id.

Session ids are long signed strings (``TokenSigner.session_id``), fine for machines and hard on people. The name
is a pure function of the id, so every viewer, log line and recording names a session the same way, and a
session resumed under its id keeps its name. The id stays the key: names may collide, ids may not.
"""

from __future__ import annotations

import hashlib

_ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clever", "crisp", "dapper", "eager", "fancy", "gentle", "glad", "golden",
    "happy", "jolly", "keen", "lively", "lucky", "mellow", "merry", "misty", "nimble", "noble", "polite", "proud",
    "quick", "quiet", "rapid", "rosy", "shiny", "silver", "smooth", "snowy", "steady", "sunny", "swift", "tidy",
    "vivid", "warm", "wise", "witty",
)
_NOUNS = (
    "badger", "beacon", "bison", "cedar", "comet", "coral", "crane", "delta", "ember", "falcon", "fern", "finch",
    "fjord", "gecko", "harbor", "heron", "ibis", "koala", "lagoon", "lark", "lynx", "maple", "meadow", "moose",
    "newt", "orca", "otter", "panda", "pebble", "quail", "raven", "river", "robin", "sparrow", "summit", "tiger",
    "tulip", "walrus", "willow", "zebra",
)


def short_name(session_id: str) -> str:
    """``adjective-noun`` for ``session_id``: 1,600 names, stable for the id."""
    digest = hashlib.sha256(session_id.encode("utf-8")).digest()
    return f"{_ADJECTIVES[digest[0] % len(_ADJECTIVES)]}-{_NOUNS[digest[1] % len(_NOUNS)]}"


def session_name(subject: str, session_id: str) -> str:
    """What people call the session: its subject and its short name."""
    return f"{subject} · {short_name(session_id)}"
