"""Where a read's time went inside the OCR: noted by the workers, gathered per question.

A question's reader sets ``reading_for`` to its ``Spend`` while a read runs; the OCR pool, the tracker and the
segmenter add the time each of their parts took to whatever ``Spend`` is current in the awaiting task. A reader
that notes nothing (a fake, a remote backend) leaves it empty, and the answer's timing shows the OCR stage whole.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

# The parts of a read, in the order they run.
REGISTRATION = "registration"   # the new keyframe registered onto the cached one, and what changed found
DETECTION = "detection"         # text boxes found (PP-OCR det)
ORIENTATION = "orientation"     # each crop's orientation (PP-OCR cls)
RECOGNITION = "recognition"     # each crop's text (PP-OCR rec), batched
PARTS = (REGISTRATION, DETECTION, ORIENTATION, RECOGNITION)
SEGMENTATION = "segmentation"   # package regions; runs alongside the read, not inside it


@dataclass(slots=True)
class Spend:
    """Nanoseconds per part, summed over every read noted while it was current."""

    ns: dict[str, int] = field(default_factory=dict)

    def add(self, part: str, ns: int) -> None:
        self.ns[part] = self.ns.get(part, 0) + max(0, ns)

    def of(self, part: str) -> int:
        return self.ns.get(part, 0)


reading_for: ContextVar[Spend | None] = ContextVar("reading_for", default=None)


def note(part: str, ns: int) -> None:
    """Add ``ns`` to ``part`` of the current question's ``Spend``, if one is being gathered."""
    spend = reading_for.get()
    if spend is not None:
        spend.add(part, ns)
