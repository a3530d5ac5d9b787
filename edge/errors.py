"""The edge's error hierarchy: ``EdgeError`` is the root of everything ``eyeline.edge`` raises."""

from __future__ import annotations


class EdgeError(Exception):
    """Root of every error raised by ``eyeline.edge``."""

    retryable: bool = False
