"""The edge's cloud transcriber on its own: chunking and pacing of an utterance, and every way of not hearing."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from eyeline.edge.messages import CloudErrorReport, HeardInCloud
from eyeline.edge.transport.wire import audio_messages
from eyeline.edge.voice.cloud_asr import CloudAsrOptions, CloudTranscriber
from eyeline.protos.v1 import session_pb2 as pb


class FakeCloud:
    """Takes the AudioChunks; answers the last one with ``reply`` (built from the utterance id), or not at all."""

    def __init__(self, transcriber: CloudTranscriber | None = None) -> None:
        self.transcriber = transcriber
        self.chunks: list[pb.AudioChunk] = []
        self.reply: str = "heard"          # "heard", "error" or "" (silence)

    async def send_message(self, message: pb.EdgeMessage) -> None:
        self.chunks.append(message.audio)
        if message.audio.last and self.transcriber is not None and self.reply:
            uid = message.audio.utterance_id
            event = HeardInCloud(uid, "next step", 1, 2, 0.9, "en") if self.reply == "heard" else \
                CloudErrorReport("unsupported", "this cloud does not transcribe audio", False, query_id=uid)
            asyncio.get_running_loop().call_soon(self.transcriber.deliver, event)


def _speech(seconds: float) -> np.ndarray:
    return (0.3 * np.sin(np.arange(int(seconds * 16_000)) / 5.0)).astype(np.float32)


async def test_an_utterance_goes_up_in_marked_chunks_and_its_transcript_comes_back() -> None:
    cloud = FakeCloud()
    transcriber = cloud.transcriber = CloudTranscriber(cloud, options=CloudAsrOptions(chunk_ms=200,
                                                                                      realtime_factor=1000))
    transcript = await transcriber.transcribe(_speech(1.1))
    assert transcript.text == "next step" and transcript.confidence == pytest.approx(0.9)
    assert [len(c.pcm_s16le) for c in cloud.chunks] == [6400] * 5 + [3200]
    assert [c.last for c in cloud.chunks] == [False] * 5 + [True]
    assert {c.utterance_id for c in cloud.chunks} == {"u1"} and [c.seq for c in cloud.chunks] == list(range(6))
    assert transcriber.stats.bytes_sent == 1.1 * 16_000 * 2 and transcriber.stats.failed == 0


async def test_sending_is_paced_to_the_realtime_factor() -> None:
    cloud = FakeCloud()
    cloud.transcriber = CloudTranscriber(cloud, options=CloudAsrOptions(realtime_factor=4.0))
    started = time.monotonic()
    await cloud.transcriber.transcribe(_speech(1.0))
    assert time.monotonic() - started >= 0.2    # 1 s of audio at 4x real time takes at least 0.25 s


@pytest.mark.parametrize("reply", ["error", ""])
async def test_a_cloud_error_or_no_answer_gives_an_empty_transcript_not_a_crash(reply: str) -> None:
    cloud = FakeCloud()
    cloud.reply = reply
    transcriber = cloud.transcriber = CloudTranscriber(cloud, options=CloudAsrOptions(realtime_factor=1000,
                                                                                      timeout_s=0.3))
    transcript = await transcriber.transcribe(_speech(0.5))
    assert transcript.text == "" and transcriber.stats.failed == 1
    # Nothing of the failed utterance is left waiting; another one still works.
    cloud.reply = "heard"
    assert (await transcriber.transcribe(_speech(0.5))).text == "next step"


def test_an_empty_utterance_is_still_one_closing_chunk() -> None:
    (only,) = audio_messages("u1", b"", 0, 16_000, 6400)
    assert only.audio.last and only.audio.pcm_s16le == b""
