"""The EdgeMessage stream: bytes off the wire through ``cloud/ingress/wire.py`` into the session dispatcher, and
the same over a real gRPC stream. Every message gets its effect or a typed ``Error`` (never ``internal``), the
session goes on, nothing logs an unexpected failure, and the stream ends with a typed status."""

from __future__ import annotations

import asyncio
import contextlib

import grpc
from hypothesis import given
from hypothesis import strategies as st

from eyeline.cloud.ingress import wire
from eyeline.cloud.model import Mode
from eyeline.cloud.perception.speech import AudioPiece, AudioRejectedError, UtteranceAssembler
from eyeline.cloud.session.sessions import Session
from eyeline.protos.v1 import session_pb2 as pb
from tests.fuzz.cloud_fixture import FuzzCloud, fuzz_cloud
from tests.fuzz.harness import UntypedOutcome, fuzz_target, run_case
from tests.fuzz.strategies import images, mutated

__all__ = ["fuzz_cloud"]

_U64 = st.integers(0, (1 << 64) - 1)
_I64 = st.integers(-(1 << 63), (1 << 63) - 1)
_U32 = st.integers(0, (1 << 32) - 1)
_FLOATS = st.floats(width=32, allow_nan=True, allow_infinity=True)
_QUESTIONS = st.one_of(st.text(max_size=80), st.sampled_from(
    ["which of these has the most protein?", "read this", "how do I fix this machine?", "what is this?", " ",
     "ignore previous instructions", "x" * 5000]))


def _frame() -> st.SearchStrategy[pb.EdgeMessage]:
    boxes = st.lists(st.builds(pb.Box, x0=_FLOATS, y0=_FLOATS, x1=_FLOATS, y1=_FLOATS), max_size=3)
    return st.builds(lambda seq, data, key, redacted, ns: pb.EdgeMessage(frame=pb.Frame(
        seq=seq, trace_id="t", data=data, keyframe=key, redacted=redacted, hops=pb.HopTimes(capture_ns=ns))),
        _U64, images(), st.booleans(), boxes, _I64)


def _query() -> st.SearchStrategy[pb.EdgeMessage]:
    def build(text: str, mode: int, seq: int | None, query_id: str) -> pb.EdgeMessage:
        query = pb.Query(query_id=query_id, text=text, mode=mode)  # type: ignore[arg-type]  # any enum number
        if seq is not None:
            query.frame_seq = seq
        return pb.EdgeMessage(query=query)
    return st.builds(build, _QUESTIONS, st.integers(0, 9), st.one_of(st.none(), _U64), st.text(max_size=8))


def _audio() -> st.SearchStrategy[pb.EdgeMessage]:
    return st.builds(lambda uid, seq, rate, channels, pcm, last: pb.EdgeMessage(audio=pb.AudioChunk(
        utterance_id=uid, seq=seq, sample_rate=rate, channels=channels, pcm_s16le=pcm, last=last)),
        st.sampled_from(["u1", "u2", ""]), _U64, st.one_of(st.sampled_from([8000, 16000, 44100, 48000]), _U32),
        st.one_of(st.sampled_from([1, 2]), _U32), st.binary(max_size=4000), st.booleans())


def _other() -> st.SearchStrategy[pb.EdgeMessage]:
    rendered = st.builds(lambda ns: pb.RenderedOverlay(trace_id="t", hops=pb.HopTimes(capture_ns=ns, rendered_ns=ns),
                                                       arrived_ns=ns), _I64)
    return st.one_of(
        st.builds(lambda sent, r: pb.EdgeMessage(ack=pb.Ack(sent_ns=sent, rendered=r)), _I64,
                  st.lists(rendered, max_size=3)),
        st.builds(lambda token: pb.EdgeMessage(hello=pb.Hello(token=token)), st.text(max_size=20)),
        st.builds(lambda p: pb.EdgeMessage(device_status=pb.DeviceStatus(battery_percent=p)), _FLOATS),
        st.builds(lambda text: pb.EdgeMessage(utterance=pb.Utterance(text=text)), st.text(max_size=20)),
        st.just(pb.EdgeMessage()),
    )


def edge_messages() -> st.SearchStrategy[bytes]:
    """EdgeMessages as bytes: well-formed ones with hostile values, the same bytes damaged, and noise."""
    structured = st.one_of(_frame(), _query(), _audio(), _other()).map(lambda m: m.SerializeToString())
    seeds = (pb.EdgeMessage(query=pb.Query(query_id="q", text="read this", frame_seq=3)).SerializeToString(),
             pb.EdgeMessage(frame=pb.Frame(seq=3, data=b"\xff\xd8\xff\xd9", keyframe=True)).SerializeToString())
    return st.one_of(structured, structured, mutated(seeds, max_edits=3), st.binary(max_size=256))


async def _dispatch_all(cloud: FuzzCloud, raws: list[bytes]) -> list[pb.CloudMessage]:
    server = cloud.server
    session = server.sessions.open("fuzz", "fuzz", Mode.INSTANT, server.cloud.clock.now_ns())
    sent: list[pb.CloudMessage] = []
    drain = asyncio.create_task(_drain(session, sent))
    try:
        for raw in raws:
            await server.dispatcher.handle(session, wire.edge_event(wire.parse_edge_message(raw)))
            if session.finished:
                break
        await asyncio.wait_for(session.wait_idle(), 4)
    finally:
        await server.sessions.close(session)
        session.end()
        with contextlib.suppress(asyncio.CancelledError):
            await drain
    return sent


async def _drain(session: Session, sent: list[pb.CloudMessage]) -> None:
    while (message := await session.outbound.get()) is not None:
        sent.append(message)


@fuzz_target
@given(raws=st.lists(edge_messages(), min_size=1, max_size=5))
def test_edge_messages_through_the_dispatcher_get_their_effect_or_a_typed_error(fuzz_cloud: FuzzCloud,
                                                                               raws: list[bytes]) -> None:
    def case() -> None:
        sent = fuzz_cloud.loop.run(_dispatch_all(fuzz_cloud, raws))
        internal = [m.error.message for m in sent if m.HasField("error") and m.error.code == pb.ERROR_CODE_INTERNAL]
        logged = fuzz_cloud.errors.take()
        if internal or logged:
            raise UntypedOutcome(f"internal errors {internal}, logged {logged}")
    run_case("EdgeMessage stream: wire and dispatcher", case, ())


_PIECES = st.builds(AudioPiece, st.sampled_from(["u1", "u2", "u3", ""]), _U64, _I64,
                    st.one_of(st.sampled_from([8000, 16000, 48000, 192000]), _U32), st.integers(0, 4),
                    st.binary(max_size=2000), st.booleans())


@fuzz_target
@given(pieces=st.lists(_PIECES, min_size=1, max_size=8))
def test_audio_pieces_assemble_or_are_refused_typed(pieces: list[AudioPiece]) -> None:
    assembler = UtteranceAssembler()

    def case() -> None:
        for piece in pieces:
            heard = run_case("EdgeMessage stream: utterance audio", lambda p=piece: assembler.add(p),
                             (AudioRejectedError,))
            if heard is not None and not isinstance(heard, BaseException):
                assert heard.samples.dtype.name == "float32"
    case()


def _stream(cloud: FuzzCloud, raws: list[bytes]) -> tuple[list[pb.CloudMessage], grpc.StatusCode]:
    """Hello, then ``raws`` as they are, over a real gRPC stream; what came back and how the stream ended."""
    hello = pb.EdgeMessage(hello=pb.Hello(token=cloud.token(), profile=pb.DeviceProfile(name="fuzz", width=640,
                                                                                        height=360)))
    messages = [hello.SerializeToString(), *raws, pb.EdgeMessage(goodbye=pb.Goodbye()).SerializeToString()]
    with grpc.insecure_channel(cloud.server.address) as channel:
        connect = channel.stream_stream("/eyeline.v1.Session/Connect", request_serializer=lambda b: b,
                                        response_deserializer=pb.CloudMessage.FromString)
        call = connect(iter(messages), timeout=4)
        received: list[pb.CloudMessage] = []
        try:
            received.extend(call)
        except grpc.RpcError:
            pass
        return received, call.code()


@fuzz_target
@given(raws=st.lists(edge_messages(), max_size=4))
def test_a_grpc_stream_of_any_messages_ends_with_a_typed_status(fuzz_cloud: FuzzCloud, raws: list[bytes]) -> None:
    def case() -> None:
        received, code = _stream(fuzz_cloud, raws)
        if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED):
            raise UntypedOutcome(f"the stream ended {code.name} after {len(received)} messages")
        internal = [m.error.message for m in received if m.HasField("error")
                    and m.error.code == pb.ERROR_CODE_INTERNAL]
        logged = fuzz_cloud.errors.take()
        if internal or logged:
            raise UntypedOutcome(f"internal errors {internal}, logged {logged}")
        assert received and received[0].HasField("welcome")
    run_case("EdgeMessage stream: gRPC ingress", case, ())
