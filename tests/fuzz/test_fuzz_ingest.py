"""The phone ingest (``edge/daemon/ingest*.py``) over a real gRPC server: a phone's stream of any messages gets a
Welcome and typed answers or errors, or ends with a typed status; nothing logs an unexpected failure."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import grpc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eyeline.devices.push import PushedFrameSource
from eyeline.edge.daemon.ingest import SERVICE_NAME, IngestOptions, PhoneIngest
from eyeline.edge.daemon.ingest_stream import Malformed, parse_phone_message, power_state
from eyeline.edge.daemon.power import PowerState
from eyeline.protos.clock import MonotonicClock
from eyeline.protos.v1 import session_pb2 as pb
from tests.fuzz.cloud_fixture import ErrorLog
from tests.fuzz.harness import LoopThread, UntypedOutcome, fuzz_target, run_case
from tests.fuzz.test_fuzz_edge_stream import edge_messages

PHONE_TOKEN = "phone-secret"
_TOKENS = st.sampled_from([PHONE_TOKEN, PHONE_TOKEN, PHONE_TOKEN, "", "wrong", "phöne-sëcret", "\u202e" * 3])


class ScriptedHost:
    """The daemon's side of the ingest: online, answering every question with a fresh id."""

    def __init__(self) -> None:
        self.asked = 0

    @property
    def paused(self) -> bool:
        return False

    async def ask(self, text: str, mode: str) -> str | None:
        self.asked += 1
        return f"q{self.asked}"

    async def forward(self, message: pb.EdgeMessage) -> bool:
        return True

    def report_power(self, state: PowerState) -> None:
        pass


class RunningIngest:
    def __init__(self) -> None:
        self.loop = LoopThread()
        self.errors = ErrorLog()
        options = IngestOptions("127.0.0.1:0", PHONE_TOKEN, answer_wait_s=0.2, hello_timeout_s=2.0)
        self.ingest = PhoneIngest(options, PushedFrameSource(MonotonicClock()), ScriptedHost())
        self.loop.run(self.ingest.start(), 30)
        logging.getLogger("eyeline").addHandler(self.errors)

    def close(self) -> None:
        logging.getLogger("eyeline").removeHandler(self.errors)
        self.loop.run(self.ingest.aclose(), 30)
        self.loop.close()


@pytest.fixture(scope="module")
def ingest() -> Iterator[RunningIngest]:
    running = RunningIngest()
    yield running
    running.close()


def _phone_stream(ingest: RunningIngest, token: str, raws: list[bytes]) -> tuple[list[pb.CloudMessage],
                                                                                 grpc.StatusCode]:
    hello = pb.EdgeMessage(hello=pb.Hello(token=token)).SerializeToString()
    with grpc.insecure_channel(f"127.0.0.1:{ingest.ingest.port}") as channel:
        connect = channel.stream_stream(f"/{SERVICE_NAME}/Connect", request_serializer=lambda raw: raw,
                                        response_deserializer=pb.CloudMessage.FromString)
        call = connect(iter([hello, *raws]), timeout=4)
        received: list[pb.CloudMessage] = []
        try:
            received.extend(call)
        except grpc.RpcError:
            pass
        return received, call.code()


@fuzz_target
@given(token=_TOKENS, raws=st.lists(edge_messages(), max_size=4))
def test_a_phone_stream_of_any_messages_gets_typed_answers(ingest: RunningIngest, token: str,
                                                           raws: list[bytes]) -> None:
    def case() -> None:
        received, code = _phone_stream(ingest, token, raws)
        logged = ingest.errors.take()
        if code not in (grpc.StatusCode.OK, grpc.StatusCode.UNAUTHENTICATED) or logged:
            raise UntypedOutcome(f"the phone stream ended {code.name}; logged {logged}")
        if code == grpc.StatusCode.OK:
            assert received and received[0].HasField("welcome")
    run_case("phone ingest: gRPC stream", case, ())


@fuzz_target
@given(raw=edge_messages())
def test_phone_messages_parse_or_are_marked_malformed(raw: bytes) -> None:
    def case() -> None:
        message = parse_phone_message(raw)
        if not isinstance(message, Malformed) and message.WhichOneof("kind") == "device_status":
            power_state(message.device_status)
    run_case("phone ingest: messages", case, ())
