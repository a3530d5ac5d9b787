from __future__ import annotations

import cv2
import numpy as np

from eyeline.devices.base import CapturedFrame
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.frames.encode import encode_jpeg
from eyeline.edge.frames.sampler import (
    CLOUD,
    FIRST,
    PREVIEW,
    SCENE,
    STILL,
    STILL_ENCODING,
    WEARER,
    Encoding,
    KeyframeChoice,
    RateSampler,
    SceneSampler,
    SceneSamplerConfig,
    as_sampler,
)
from eyeline.edge.messages import FlowControl

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


# ------------------------------------------------------------------ SceneSampler

def shelf(count: int, *, seed: int = 0, motion_scale: float = 1.0, start: int = 0,
          size: tuple[int, int] = (640, 360)) -> list[CapturedFrame]:
    scene = make_shelf_scene(seed)
    return [CapturedFrame(i, round(i * 1e9 / 30), render_shelf_frame(scene, i / 30, *size, motion_scale)[0])
            for i in range(start, start + count)]


def run(sampler: SceneSampler, frames: list[CapturedFrame]) -> list[KeyframeChoice]:
    choices = []
    for frame in frames:
        choice = sampler.offer(frame)
        if choice is not None:
            data, _, _ = encode_jpeg(choice.frame.image, choice.encoding.quality, choice.encoding.max_width)
            sampler.sent(choice, len(data))
            choices.append(choice)
    return choices


def test_a_still_view_sends_one_keyframe_and_then_nothing() -> None:
    sampler = SceneSampler()
    choices = run(sampler, shelf(90, motion_scale=0.0))
    assert [c.reason for c in choices] == [FIRST]
    assert sampler.stats.offered == 90 and sampler.stats.skipped == 89
    assert sampler.stats.by_reason == {FIRST: 1} and sampler.stats.bytes_sent > 0


def test_a_new_view_is_sent_and_head_sway_is_not() -> None:
    sampler = SceneSampler()
    first = run(sampler, shelf(60, motion_scale=0.3))
    assert [c.reason for c in first] == [FIRST]
    other = [CapturedFrame(f.seq + 60, f.capture_ns + 2_000_000_000, f.image) for f in shelf(30, seed=7)]
    assert [c.reason for c in run(sampler, other)] == [SCENE]


def test_from_a_burst_the_sharpest_frame_goes_not_the_latest() -> None:
    frames = shelf(13, motion_scale=0.0)
    blurred = [CapturedFrame(f.seq, f.capture_ns, cv2.GaussianBlur(f.image, (0, 0), 3.0) if f.seq != 4 else f.image)
               for f in frames]
    sampler = SceneSampler(SceneSamplerConfig(burst_s=0.25))
    assert [c.reason for c in run(sampler, blurred[:1])] == [FIRST]  # the first keyframe goes at once
    sampler.request_keyframe()
    choices = run(sampler, blurred[1:])
    assert [c.frame.seq for c in choices] == [4]
    assert sampler.stats.picked_not_latest == 1 and sampler.stats.burst_frames >= 8


def test_wearer_cloud_and_still_requests_are_served_and_counted() -> None:
    sampler = SceneSampler()
    frames = shelf(120, motion_scale=0.0)
    run(sampler, frames[:20])
    sampler.request_keyframe()
    assert [c.reason for c in run(sampler, frames[20:40])] == [WEARER]
    sampler.apply(FlowControl(max_keyframes_per_s=0.0, max_width=480, keyframe_wanted=True))
    cloud = run(sampler, frames[40:60])
    assert [c.reason for c in cloud] == [CLOUD] and cloud[0].encoding.max_width <= 480
    sampler.request_still()
    still = run(sampler, frames[60:61])
    assert [(c.reason, c.encoding) for c in still] == [(STILL, STILL_ENCODING)]
    assert sampler.stats.by_reason == {FIRST: 1, WEARER: 1, CLOUD: 1, STILL: 1}
    assert sampler.stats.requested == 3


def test_the_uplink_stays_inside_the_budget() -> None:
    budget_kbps = 400
    sampler = SceneSampler(SceneSamplerConfig(uplink_budget_kbps=budget_kbps, burst_s=0.0))
    frames = shelf(150, motion_scale=1.0, size=(1280, 720))
    for i, frame in enumerate(frames):
        if i % 3 == 0:
            sampler.request_keyframe()  # a wearer asking far more often than the link allows
        run(sampler, [frame])
    seconds = len(frames) / 30
    allowed = budget_kbps * 1000 / 8 * (seconds + sampler.bucket.capacity / sampler.bucket.rate)
    assert sampler.stats.bytes_sent <= allowed
    assert sampler.stats.deferred_for_budget > 0
    assert sampler.stats.sent >= 3


def test_a_low_rate_preview_streams_between_keyframes() -> None:
    sampler = SceneSampler(SceneSamplerConfig(preview_interval_s=1.0))
    choices = run(sampler, shelf(95, motion_scale=0.0))
    previews = [c for c in choices if c.reason == PREVIEW]
    assert len(previews) == 3 and all(not c.keyframe and c.encoding.max_width == 320 for c in previews)
    assert [c.reason for c in choices if c.keyframe] == [FIRST]


def test_a_yes_no_filter_still_drives_the_runtime_through_an_adapter() -> None:
    class Every:
        def should_send(self, frame: CapturedFrame) -> bool:
            return frame.seq % 2 == 1

        def request_keyframe(self) -> None:
            pass

        def apply(self, flow: FlowControl) -> None:
            pass

    sampler = as_sampler(Every(), Encoding(640, 70))
    choices = [sampler.offer(f) for f in frames_at(30, 4)]
    assert [c.frame.seq if c else None for c in choices] == [1, None, 3, None]
    assert all(c.encoding == Encoding(640, 70) for c in choices if c)
    assert as_sampler(sampler) is sampler
