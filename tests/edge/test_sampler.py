from __future__ import annotations

import numpy as np

from eyeline.devices.base import CapturedFrame
from eyeline.edge.messages import FlowControl
from eyeline.edge.sampler import RateSampler

_PIXELS = np.zeros((4, 4, 3), np.uint8)


def frames_at(fps: float, count: int) -> list[CapturedFrame]:
    return [CapturedFrame(seq=i + 1, capture_ns=round(i * 1e9 / fps), image=_PIXELS) for i in range(count)]


def sent_seqs(sampler: RateSampler, frames: list[CapturedFrame]) -> list[int]:
    return [f.seq for f in frames if sampler.should_send(f)]


def test_the_first_frame_goes_and_then_at_most_the_rate() -> None:
    sampler = RateSampler(max_per_s=2.0)
    assert sent_seqs(sampler, frames_at(30, 61)) == [1, 16, 31, 46, 61]
    assert (sampler.stats.sent, sampler.stats.skipped) == (5, 56)


def test_a_requested_keyframe_goes_at_once() -> None:
    sampler = RateSampler(max_per_s=1.0)
    frames = frames_at(30, 10)
    assert sampler.should_send(frames[0])
    assert not sampler.should_send(frames[1])
    sampler.request_keyframe()
    assert sampler.should_send(frames[2])
    assert not sampler.should_send(frames[3])


def test_flow_control_sets_the_rate_and_can_ask_for_a_keyframe() -> None:
    sampler = RateSampler(max_per_s=2.0)
    sampler.apply(FlowControl(max_keyframes_per_s=10.0, max_width=0, keyframe_wanted=False))
    assert sent_seqs(sampler, frames_at(30, 31)) == [1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31]
    sampler.apply(FlowControl(max_keyframes_per_s=0.0, max_width=0, keyframe_wanted=True))
    assert sampler.max_per_s == 10.0  # 0 leaves the rate alone
    assert sampler.stats.requested == 1
