"""The session contract over a real gRPC server on loopback: auth, limits, typed errors, isolation."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from eyeline.cloud.app import CloudConfig, CloudServer
from eyeline.cloud.ingress.auth import TokenSigner
from eyeline.cloud.model import NormBox
from eyeline.devices.synthetic import make_shelf_scene, render_shelf_frame
from eyeline.edge.messages import Answer, CloudErrorReport, OverlayArrival, Welcome
from eyeline.edge.overlays import Box
from eyeline.edge.transport.grpc_uplink import GrpcUplink, UplinkOptions
from eyeline.edge.transport.uplink import UplinkError
from eyeline.edge.transport.wire import EncodedFrame, QueryOut, hello_message, query_message
from eyeline.protos.v1 import session_pb2 as pb

from .helpers import hello, jpeg_frame

PROTEIN_QUESTION = "which of these has the most protein?"


async def test_welcome_names_the_session_and_its_limits(cloud: CloudServer, signer: TokenSigner) -> None:
    uplink = GrpcUplink(UplinkOptions(cloud.address))
    welcome = await uplink.open(hello(signer.mint("glasses")))
    await uplink.aclose()
    assert isinstance(welcome, Welcome)
    assert welcome.session_id
    assert welcome.max_frame_bytes == cloud.config.frame_limits.max_bytes
    assert "protein" in " ".join(welcome.skills)


@pytest.mark.parametrize(
    ("token", "reason"),
    [("v1.e30.AAAA", "signature does not match"), ("not-a-token", "malformed"), ("", "no session token")],
)
async def test_a_bad_token_is_refused_with_a_clear_error(cloud: CloudServer, token: str, reason: str) -> None:
    uplink = GrpcUplink(UplinkOptions(cloud.address))
    with pytest.raises(UplinkError, match=reason) as caught:
        await uplink.open(hello(token))
    assert caught.value.status == "UNAUTHENTICATED"
    assert not caught.value.retryable
    assert cloud.sessions.active() == []


async def test_an_expired_token_is_refused(cloud: CloudServer, signer: TokenSigner) -> None:
    import time

    from eyeline.cloud.ingress.auth import TokenSigner as Signer

    secret = signer._secret  # same secret, minted an hour ago
    stale = Signer(secret, wall_clock=lambda: time.time() - 3600).mint("edge", ttl_s=60)
    uplink = GrpcUplink(UplinkOptions(cloud.address))
    with pytest.raises(UplinkError, match="expired"):
        await uplink.open(hello(stale))


async def test_an_oversized_frame_gets_a_typed_error_and_the_session_goes_on(connect) -> None:  # type: ignore[no-untyped-def]
    session = await connect()
    limit = 4 * 1024 * 1024
    await session.uplink.push_frame(EncodedFrame(1, "t1", 1, b"\xff\xd8" + bytes(limit), 1280, 720))
    error = await session.next(CloudErrorReport)
    assert (error.code, error.frame_seq, error.retryable) == ("frame_too_large", 1, False)
    assert str(limit) in error.message
    await _assert_session_answers(session, seq=2)


async def test_an_undecodable_jpeg_gets_a_typed_error_and_the_session_goes_on(connect) -> None:  # type: ignore[no-untyped-def]
    session = await connect()
    good = jpeg_frame(1)
    corrupt = good.data[:200] + b"\x00" * 50
    await session.uplink.push_frame(EncodedFrame(1, "t1", 1, corrupt, 640, 360))
    error = await session.next(CloudErrorReport)
    assert (error.code, error.frame_seq) == ("undecodable_image", 1)
    await _assert_session_answers(session, seq=2)


async def test_malformed_bytes_get_a_typed_error_and_the_session_goes_on(
        cloud: CloudServer, signer: TokenSigner) -> None:
    async with grpc.aio.insecure_channel(cloud.address) as channel:
        connect = channel.stream_stream("/eyeline.v1.Session/Connect", request_serializer=None,
                                        response_deserializer=pb.CloudMessage.FromString)
        call = connect()
        await call.write(hello_message(hello(signer.mint("raw"))).SerializeToString())
        assert (await call.read()).WhichOneof("kind") == "welcome"
        await call.write(b"\x0a\xff\xff\xff\xff\x0f garbage")  # a length prefix that runs off the end
        await call.write(pb.EdgeMessage().SerializeToString())  # parses, but carries nothing
        await call.write(query_message(QueryOut("q1", PROTEIN_QUESTION)).SerializeToString())
        codes = [(await call.read()).error.code for _ in range(3)]
        await call.done_writing()
    assert codes == [pb.ERROR_CODE_MALFORMED_MESSAGE, pb.ERROR_CODE_MALFORMED_MESSAGE, pb.ERROR_CODE_NO_FRAME]


async def test_the_first_message_must_be_hello(cloud: CloudServer, signer: TokenSigner) -> None:
    async with grpc.aio.insecure_channel(cloud.address) as channel:
        connect = channel.stream_stream("/eyeline.v1.Session/Connect",
                                        request_serializer=pb.EdgeMessage.SerializeToString,
                                        response_deserializer=pb.CloudMessage.FromString)
        call = connect(metadata=(("authorization", f"Bearer {signer.mint('edge')}"),))
        await call.write(query_message(QueryOut("q1", PROTEIN_QUESTION)))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call.read()
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "Hello" in (caught.value.details() or "")


async def test_sessions_do_not_see_each_others_frames(connect) -> None:  # type: ignore[no-untyped-def]
    first, second = await connect(), await connect()
    await first.uplink.push_frame(jpeg_frame(1))
    await second.uplink.ask(QueryOut("q-other", PROTEIN_QUESTION))
    error = await second.next(CloudErrorReport)
    assert (error.code, error.query_id, error.retryable) == ("no_frame", "q-other", True)


async def test_a_question_no_skill_takes_is_answered_with_what_can_be_asked(  # type: ignore[no-untyped-def]
        connect) -> None:
    session = await connect()
    await session.uplink.push_frame(jpeg_frame(1))
    await session.uplink.ask(QueryOut("q1", "what is the meaning of life?"))
    answer = await session.next(Answer)
    assert answer.query_id == "q1" and answer.text.startswith("I can't answer")
    assert "how much protein is in this?" in answer.text and "guardrail" not in answer.text


async def test_the_session_limit_is_enforced(signer: TokenSigner) -> None:
    server = CloudServer(CloudConfig(port=0, max_sessions=1, warm_up=False), signer)
    await server.start()
    try:
        first = GrpcUplink(UplinkOptions(server.address))
        await first.open(hello(signer.mint("a")))
        second = GrpcUplink(UplinkOptions(server.address))
        with pytest.raises(UplinkError, match="limit of 1 sessions") as caught:
            await second.open(hello(signer.mint("b")))
        assert caught.value.retryable
        await first.aclose()
    finally:
        await server.stop(0.5)


async def test_health_and_reflection_are_served(cloud: CloudServer) -> None:
    async with grpc.aio.insecure_channel(cloud.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        status = await health.Check(health_pb2.HealthCheckRequest(service="eyeline.v1.Session"))
        assert status.status == health_pb2.HealthCheckResponse.SERVING
        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        call = reflect.ServerReflectionInfo()
        await call.write(reflection_pb2.ServerReflectionRequest(list_services=""))
        response = await call.read()
        await call.done_writing()
    names = {s.name for s in response.list_services_response.service}
    assert {"eyeline.v1.Session", "grpc.health.v1.Health"} <= names


async def test_shutdown_tells_live_sessions_to_come_back_later(signer: TokenSigner) -> None:
    server = CloudServer(CloudConfig(port=0, warm_up=False), signer)
    await server.start()
    uplink = GrpcUplink(UplinkOptions(server.address))
    await uplink.open(hello(signer.mint("edge")))
    await server.stop(grace_s=2.0)
    events = [event async for event in uplink]
    await uplink.aclose()
    assert isinstance(events[-1], CloudErrorReport)
    assert (events[-1].code, events[-1].retryable) == ("shutting_down", True)


async def _assert_session_answers(session, seq: int) -> None:  # type: ignore[no-untyped-def]
    image, truth = await asyncio.to_thread(render_shelf_frame, make_shelf_scene(seed=1), 0.0)
    await session.uplink.push_frame(jpeg_frame(seq, image))
    await session.uplink.ask(QueryOut(f"q{seq}", PROTEIN_QUESTION, frame_seq=seq))
    overlay = await session.next(OverlayArrival)
    answer = await session.next(Answer)
    assert overlay.overlay.frame_seq == seq
    assert truth.best_product().display_name.lower() in answer.text.lower()


async def test_a_preview_frame_is_never_reasoned_over(connect, cloud: CloudServer) -> None:  # type: ignore[no-untyped-def]
    session = await connect()
    preview = jpeg_frame(1)
    await session.uplink.push_frame(EncodedFrame(1, "t1", 1, preview.data, 640, 360, keyframe=False))
    await session.uplink.ask(QueryOut("q1", PROTEIN_QUESTION))
    error = await session.next(CloudErrorReport)
    assert (error.code, error.query_id) == ("no_frame", "q1")


async def test_the_cloud_knows_which_regions_the_edge_redacted(connect, cloud: CloudServer) -> None:  # type: ignore[no-untyped-def]
    session = await connect()
    frame = jpeg_frame(1)
    await session.uplink.push_frame(EncodedFrame(1, "t1", 1, frame.data, 640, 360,
                                                 redacted=(Box(0.25, 0.125, 0.5, 0.375),)))
    await session.uplink.ask(QueryOut("q1", "what is the meaning of life?"))
    await session.next(Answer)  # answered (out of scope): by now the frame is kept
    (live,) = [cloud.sessions.get(info.session_id) for info in cloud.sessions.active()]
    kept = live.frame(1)
    assert kept is not None and kept.redacted == (NormBox(0.25, 0.125, 0.5, 0.375),)
