"""Which captured frames go up to the cloud, and how they are encoded.

A sampler is a policy object the send loop consults; it never sees the network. For every frame offered it
returns a ``KeyframeChoice`` (which frame, why, at what resolution and JPEG quality) or None, and it is told
how many bytes each choice cost once encoded.

``SceneSampler`` is the default. It sends a keyframe only when the view changed enough since the last one
(measured on a small, blurred thumbnail), when the wearer asks, or when the cloud asks through ``FlowControl``.
Each of those opens a short *burst*; at its end the best frame of the burst goes (sharpest, head steadiest,
most novel against what was sent), not simply the latest. Resolution and quality come from a ladder, the best
rung whose expected size fits a byte bucket refilled at the glasses profile's uplink budget. A full-resolution
still can be asked for on demand while an optional low-rate, low-resolution preview streams.

``RateSampler`` is the plain timer: at most ``max_per_s`` keyframes a second (0 = every frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Protocol, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt

from eyeline.devices.base import CapturedFrame
from eyeline.edge.messages import FlowControl

Thumb = npt.NDArray[np.float32]

FIRST, SCENE, WEARER, CLOUD, STILL, PREVIEW, TIMER = (
    "first", "scene_change", "wearer", "cloud", "still", "preview", "timer")


@dataclass(frozen=True, slots=True)
class Encoding:
    max_width: int   # 0 = the captured width
    quality: int


@dataclass(frozen=True, slots=True)
class KeyframeChoice:
    frame: CapturedFrame
    reason: str
    encoding: Encoding
    keyframe: bool = True   # False: a preview, not meant for reasoning


@runtime_checkable
class Sampler(Protocol):
    def offer(self, frame: CapturedFrame) -> KeyframeChoice | None:
        """The frame to send now (possibly an earlier one of a burst), or None."""
        ...

    def request_keyframe(self) -> None:
        """The wearer wants the cloud to see the view now."""
        ...

    def apply(self, flow: FlowControl) -> None: ...

    def sent(self, choice: KeyframeChoice, nbytes: int) -> None:
        """What ``choice`` cost once encoded."""
        ...


@dataclass(slots=True)
class SamplerStats:
    offered: int = 0
    sent: int = 0
    skipped: int = 0
    requested: int = 0
    bytes_sent: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    bursts: int = 0
    burst_frames: int = 0            # frames considered inside bursts
    picked_not_latest: int = 0       # bursts whose best frame was not the last one seen
    deferred_for_budget: int = 0     # frames a due keyframe waited because the byte bucket was empty
    rate_limited: int = 0            # due keyframes held back by the cloud's max_keyframes_per_s

    def count(self, reason: str) -> None:
        self.by_reason[reason] = self.by_reason.get(reason, 0) + 1


# ------------------------------------------------------------------ frame measures

_THUMB_W: Final = 64          # novelty: a tiny, blurred view compares scenes, not pixels
_SHARP_W: Final = 480         # sharpness: text edges survive at this width, blur shows


@dataclass(frozen=True, slots=True)
class FrameMeasure:
    sharpness: float     # variance of the Laplacian: high for crisp edges, low for motion blur
    thumb: Thumb = field(repr=False)


def measure(frame: CapturedFrame) -> FrameMeasure:
    grey = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
    height, width = grey.shape[:2]
    sharp = cv2.resize(grey, (_SHARP_W, max(1, round(height * _SHARP_W / width))), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(sharp, cv2.CV_32F).var())
    # In colour: packages that differ only in hue look alike in grey.
    tiny = cv2.resize(frame.image, (_THUMB_W, max(1, round(height * _THUMB_W / width))), interpolation=cv2.INTER_AREA)
    thumb = np.asarray(cv2.GaussianBlur(tiny.astype(np.float32), (0, 0), 1.5), dtype=np.float32)
    return FrameMeasure(sharpness, thumb)


def difference(a: Thumb, b: Thumb) -> float:
    """Mean absolute grey-level difference of two thumbnails (0..255)."""
    return float(np.mean(np.abs(a - b))) if a.shape == b.shape else 255.0


_UNSEEN_WEIGHT: Final = 100.0  # grey levels charged for a view entirely outside what was sent


def novelty(current: Thumb, sent: Thumb) -> float:
    """How new the view is against what was sent (0..255).

    The head's sway shifts the whole view, which a plain difference would take for a new scene: the shift is
    measured (phase correlation) and taken out, and the share of the view that was not in the sent frame is
    charged instead. The smaller of that and the plain difference counts, so a wrong shift estimate on a
    repetitive scene cannot make an unchanged view look new.
    """
    if current.shape != sent.shape:
        return 255.0
    (dx, dy), _ = cv2.phaseCorrelate(_grey(sent), _grey(current))
    height, width = current.shape[:2]
    sx, sy = round(dx), round(dy)
    if abs(sx) >= width or abs(sy) >= height:
        return difference(current, sent)
    x0, x1, y0, y1 = max(0, sx), min(width, width + sx), max(0, sy), min(height, height + sy)
    residual = _worst_cell(current[y0:y1, x0:x1], sent[y0 - sy:y1 - sy, x0 - sx:x1 - sx])
    unseen = 1.0 - (x1 - x0) * (y1 - y0) / (width * height)
    return float(min(residual + _UNSEEN_WEIGHT * unseen, _worst_cell(current, sent)))


_CELLS: Final = 4


def _worst_cell(a: Thumb, b: Thumb) -> float:
    """The largest mean difference over a 4x4 grid: one changed package stands out, a slight sway does not."""
    diff = np.abs(a - b).mean(axis=2) if a.ndim == 3 else np.abs(a - b)
    rows = np.array_split(diff, _CELLS, axis=0)
    return max(float(cell.mean()) for row in rows for cell in np.array_split(row, _CELLS, axis=1) if cell.size)


def _grey(thumb: Thumb) -> Thumb:
    return np.asarray(thumb.mean(axis=2) if thumb.ndim == 3 else thumb, np.float32)


# ------------------------------------------------------------------ the byte budget

LADDER: Final = (Encoding(0, 85), Encoding(960, 80), Encoding(640, 75), Encoding(480, 65), Encoding(320, 55))
STILL_ENCODING: Final = Encoding(0, 92)
PREVIEW_ENCODING: Final = Encoding(320, 50)
_PRIOR_BYTES_PER_PIXEL: Final = {92: 0.35, 85: 0.25, 80: 0.2, 75: 0.17, 65: 0.14, 55: 0.12, 50: 0.11}


class ByteBucket:
    """Bytes the uplink may still spend: refilled at ``budget_kbps``, holding at most ``burst_s`` of it."""

    def __init__(self, budget_kbps: int, burst_s: float = 2.0) -> None:
        self.rate = budget_kbps * 1000 / 8
        self.capacity = self.rate * burst_s
        self.level = self.capacity
        self._at_ns: int | None = None
        self._bpp: dict[int, float] = dict(_PRIOR_BYTES_PER_PIXEL)

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0

    def refill(self, now_ns: int) -> None:
        if self._at_ns is not None and not self.unlimited:
            self.level = min(self.capacity, self.level + self.rate * (now_ns - self._at_ns) / 1e9)
        self._at_ns = now_ns

    def expected(self, encoding: Encoding, frame: CapturedFrame) -> float:
        width = min(frame.width, encoding.max_width or frame.width)
        pixels = width * frame.height * width / frame.width
        return self._bpp.get(encoding.quality, 0.25) * pixels

    def spend(self, encoding: Encoding, frame: CapturedFrame, nbytes: int) -> None:
        self.level -= nbytes  # may go into debt (a requested still): later keyframes wait for it
        expected = self.expected(encoding, frame)
        if expected > 0:
            ratio = nbytes / expected
            self._bpp[encoding.quality] = self._bpp.get(encoding.quality, 0.25) * (0.7 + 0.3 * ratio)

    def best(self, frame: CapturedFrame, max_width: int) -> Encoding | None:
        """The richest rung that fits what is left, or None when none does yet."""
        rungs = [r for r in LADDER if not max_width or (r.max_width and r.max_width <= max_width)]
        rungs = rungs or [Encoding(max_width, LADDER[-1].quality)]
        if self.unlimited:
            return rungs[0]
        return next((rung for rung in rungs if self.expected(rung, frame) <= self.level), None)


# ------------------------------------------------------------------ the scene sampler


@dataclass(frozen=True, slots=True)
class SceneSamplerConfig:
    uplink_budget_kbps: int = 0         # 0 = unlimited; the profile's budget otherwise
    change_threshold: float = 36.0      # novelty (grey levels, worst cell) that counts as a new view
    burst_s: float = 0.25               # how long a burst gathers candidates
    max_burst: int = 12
    preview_interval_s: float = 0.0     # 0 = no preview stream
    max_keyframes_per_s: float = 0.0    # 0 = no cap until the cloud sets one


@dataclass(slots=True)
class _Candidate:
    frame: CapturedFrame
    measure: FrameMeasure
    motion: float
    novelty: float


@dataclass(slots=True)
class _Burst:
    reason: str
    start_ns: int
    candidates: list[_Candidate] = field(default_factory=list)


class SceneSampler:
    def __init__(self, config: SceneSamplerConfig | None = None) -> None:
        self.config = config or SceneSamplerConfig()
        self.stats = SamplerStats()
        self.bucket = ByteBucket(self.config.uplink_budget_kbps)
        self.max_keyframes_per_s = self.config.max_keyframes_per_s
        self.max_width = 0
        self._sent_thumb: Thumb | None = None
        self._last: FrameMeasure | None = None
        self._burst: _Burst | None = None
        self._pending: str | None = FIRST
        self._still = False
        self._last_keyframe_ns: int | None = None
        self._last_preview_ns: int | None = None

    # ------------------------------------------------------------------ requests

    def request_keyframe(self) -> None:
        self._request(WEARER)

    def request_still(self) -> None:
        """Send the next frame at full resolution and high quality, whatever the budget."""
        self.stats.requested += 1
        self._still = True

    def apply(self, flow: FlowControl) -> None:
        if flow.max_keyframes_per_s > 0:
            self.max_keyframes_per_s = flow.max_keyframes_per_s
        if flow.max_width > 0:
            self.max_width = flow.max_width
        if flow.keyframe_wanted:
            self._request(CLOUD)

    def _request(self, reason: str) -> None:
        self.stats.requested += 1
        if self._pending is None:
            self._pending = reason

    # ------------------------------------------------------------------ deciding

    def offer(self, frame: CapturedFrame) -> KeyframeChoice | None:
        self.stats.offered += 1
        self.bucket.refill(frame.capture_ns)
        current = measure(frame)
        motion = difference(current.thumb, self._last.thumb) if self._last is not None else 0.0
        self._last = current
        if self._still:
            self._still = False
            return self._choose(frame, STILL, STILL_ENCODING, current)
        new = novelty(current.thumb, self._sent_thumb) if self._sent_thumb is not None else 255.0
        choice = self._keyframe(_Candidate(frame, current, motion, new))
        choice = choice or self._preview(frame)
        if choice is None:
            self.stats.skipped += 1
        return choice

    def _keyframe(self, candidate: _Candidate) -> KeyframeChoice | None:
        if self._burst is None:
            reason = self._pending or (SCENE if candidate.novelty >= self.config.change_threshold else None)
            if reason is None:
                return None
            self._pending = None
            self._burst = _Burst(reason, candidate.frame.capture_ns)
            self.stats.bursts += 1
        burst = self._burst
        if len(burst.candidates) < self.config.max_burst:
            burst.candidates.append(candidate)
            self.stats.burst_frames += 1
        if burst.reason != FIRST and not self._burst_over(burst, candidate.frame.capture_ns):
            return None  # the first keyframe goes at once: the cloud has nothing to reason on yet
        return self._release(burst, candidate.frame)

    def _burst_over(self, burst: _Burst, now_ns: int) -> bool:
        if now_ns - burst.start_ns < self.config.burst_s * 1e9:
            return False
        if self.max_keyframes_per_s > 0 and self._last_keyframe_ns is not None and \
                now_ns - self._last_keyframe_ns < 1e9 / self.max_keyframes_per_s:
            self.stats.rate_limited += 1
            return False
        return True

    def _release(self, burst: _Burst, latest: CapturedFrame) -> KeyframeChoice | None:
        best = pick_best(burst.candidates)
        encoding = self.bucket.best(best.frame, self.max_width)
        if encoding is None:
            self.stats.deferred_for_budget += 1
            return None
        self._burst = None
        self._sent_thumb = best.measure.thumb
        self._last_keyframe_ns = self._last_preview_ns = latest.capture_ns  # a keyframe is a fresher preview
        if best.frame is not latest:
            self.stats.picked_not_latest += 1
        return self._choose(best.frame, burst.reason, encoding, best.measure)

    def _preview(self, frame: CapturedFrame) -> KeyframeChoice | None:
        interval = self.config.preview_interval_s
        if interval <= 0 or self._burst is not None:
            return None
        if self._last_preview_ns is not None and frame.capture_ns - self._last_preview_ns < interval * 1e9:
            return None
        if not self.bucket.unlimited and self.bucket.expected(PREVIEW_ENCODING, frame) > self.bucket.level:
            return None
        self._last_preview_ns = frame.capture_ns
        self.stats.sent += 1
        self.stats.count(PREVIEW)
        return KeyframeChoice(frame, PREVIEW, PREVIEW_ENCODING, keyframe=False)

    def _choose(self, frame: CapturedFrame, reason: str, encoding: Encoding,
                measured: FrameMeasure) -> KeyframeChoice:
        self.stats.sent += 1
        self.stats.count(reason)
        if reason == STILL:
            self._sent_thumb = measured.thumb
        return KeyframeChoice(frame, reason, encoding)

    def sent(self, choice: KeyframeChoice, nbytes: int) -> None:
        self.stats.bytes_sent += nbytes
        self.bucket.spend(choice.encoding, choice.frame, nbytes)


def pick_best(candidates: list[_Candidate]) -> _Candidate:
    """Sharpest first, then steadiest and most novel: each measure scaled by the burst's best."""
    top_sharp = max(c.measure.sharpness for c in candidates) or 1.0
    top_motion = max(c.motion for c in candidates) or 1.0
    top_novelty = max(c.novelty for c in candidates) or 1.0

    def score(c: _Candidate) -> float:
        return c.measure.sharpness / top_sharp + 0.3 * (1.0 - c.motion / top_motion) + 0.2 * c.novelty / top_novelty

    return max(candidates, key=score)


# ------------------------------------------------------------------ the timer


class RateSampler:
    """At most ``max_per_s`` keyframes a second, at once when asked; 0 sends every frame."""

    def __init__(self, max_per_s: float = 2.0, encoding: Encoding = Encoding(0, 80)) -> None:
        self.max_per_s = max_per_s
        self.encoding = encoding
        self.stats = SamplerStats()
        self._last_sent_ns: int | None = None
        self._wanted = True  # the cloud has nothing yet

    def offer(self, frame: CapturedFrame) -> KeyframeChoice | None:
        reason = FIRST if self._last_sent_ns is None else (WEARER if self._wanted else TIMER)
        if not self.should_send(frame):
            return None
        self.stats.count(reason)
        return KeyframeChoice(frame, reason, self.encoding)

    def should_send(self, frame: CapturedFrame) -> bool:
        self.stats.offered += 1
        if self._wanted or self._interval_passed(frame.capture_ns):
            self._wanted = False
            self._last_sent_ns = frame.capture_ns
            self.stats.sent += 1
            return True
        self.stats.skipped += 1
        return False

    def request_keyframe(self) -> None:
        self.stats.requested += 1
        self._wanted = True

    def apply(self, flow: FlowControl) -> None:
        if flow.max_keyframes_per_s > 0:
            self.max_per_s = flow.max_keyframes_per_s
        if flow.keyframe_wanted:
            self.request_keyframe()

    def sent(self, choice: KeyframeChoice, nbytes: int) -> None:
        self.stats.bytes_sent += nbytes

    def _interval_passed(self, capture_ns: int) -> bool:
        if self.max_per_s <= 0 or self._last_sent_ns is None:
            return True
        return capture_ns - self._last_sent_ns >= 1e9 / self.max_per_s


# ------------------------------------------------------------------ yes/no filters


class FrameFilter(Protocol):
    """The simplest policy: a yes or no per frame, each sent as captured (e.g. a replay resending every frame)."""

    def should_send(self, frame: CapturedFrame) -> bool: ...

    def request_keyframe(self) -> None: ...

    def apply(self, flow: FlowControl) -> None: ...


class FilterSampler:
    """A ``FrameFilter`` as a ``Sampler``: frames it lets through go at one fixed encoding."""

    def __init__(self, inner: FrameFilter, encoding: Encoding = Encoding(0, 80)) -> None:
        self.inner = inner
        self.encoding = encoding
        self.stats = SamplerStats()

    def offer(self, frame: CapturedFrame) -> KeyframeChoice | None:
        self.stats.offered += 1
        if not self.inner.should_send(frame):
            self.stats.skipped += 1
            return None
        self.stats.sent += 1
        self.stats.count(TIMER)
        return KeyframeChoice(frame, TIMER, self.encoding)

    def request_keyframe(self) -> None:
        self.stats.requested += 1
        self.inner.request_keyframe()

    def apply(self, flow: FlowControl) -> None:
        self.inner.apply(flow)

    def sent(self, choice: KeyframeChoice, nbytes: int) -> None:
        self.stats.bytes_sent += nbytes


def as_sampler(policy: Sampler | FrameFilter, encoding: Encoding = Encoding(0, 80)) -> Sampler:
    return policy if isinstance(policy, Sampler) else FilterSampler(policy, encoding)
