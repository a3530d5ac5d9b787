"""The sections of docs/PERFORMANCE.md: each benchmark replaces its own and leaves every other as it is.

A section is either headed (its ``## `` heading, up to the next heading or marker comment) or marked (between an
``<!-- name:start -->`` and an ``<!-- name:end -->`` comment, for sections a full ``eyeline bench`` keeps).
"""

from __future__ import annotations

import re


def replace_headed(document: str, heading: str, section: str) -> str:
    """``document`` with the section under ``heading`` replaced by ``section``, or ``section`` added at the end."""
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |^<!-- |\Z)", re.M | re.S)
    if pattern.search(document):
        return pattern.sub(lambda _: section + "\n", document, count=1)
    return document.rstrip("\n") + "\n\n" + section


def replace_marked(document: str, start: str, end: str, block: str) -> str:
    """``document`` with the text from ``start`` to ``end`` (markers included) replaced by ``block``, or ``block``
    added at the end."""
    first, last = document.find(start), document.find(end)
    if 0 <= first < last:
        return document[:first] + block + document[last + len(end):]
    return document.rstrip("\n") + "\n\n" + block + "\n"


def marked(document: str, start: str, end: str) -> str:
    """The text from ``start`` to ``end`` (markers included), a blank line before it, or "" when absent."""
    first, last = document.find(start), document.find(end)
    return "\n" + document[first:last + len(end)] + "\n" if 0 <= first < last else ""
