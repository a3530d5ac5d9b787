"""The cloud's error hierarchy.

    CloudError                      root of everything ``eyeline.cloud`` raises
    ├── AuthError                   a missing, forged or expired session token
    ├── FrameRejectedError          a frame that is too large or does not decode
    └── UnsupportedQuestionError    no skill can answer the question

``retryable`` tells a caller whether the same request may succeed later.
"""

from __future__ import annotations


class CloudError(Exception):
    """Root of every error raised by ``eyeline.cloud``."""

    retryable: bool = False
