"""The exit codes the README documents: what the user can fix is 2, what the cloud did or did not do is 3, and a
spoken question left unanswered fails ``eyeline edge --listen`` as an unanswered ``--ask`` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eyeline.devices.base import DeviceNotFoundError
from eyeline.edge import app
from eyeline.edge.app import EdgeRunReport, NoAnswerError
from eyeline.edge.messages import Welcome
from eyeline.edge.transport.uplink import UplinkError
from eyeline.edge.voice.front_end import HeardUtterance, VoiceTurn
from eyeline.edge.voice.intents import Intent
from eyeline.tools.cli import EXIT_CLOUD, EXIT_USER_ERROR, exit_code, main


def test_each_error_maps_to_its_documented_exit_code() -> None:
    assert exit_code(DeviceNotFoundError("webcam 0 could not be opened")) == EXIT_USER_ERROR
    assert exit_code(UplinkError("the cloud refused the session: UNAUTHENTICATED", retryable=False)) == \
        EXIT_USER_ERROR
    assert exit_code(UplinkError("cannot reach the cloud", retryable=True)) == EXIT_CLOUD
    assert exit_code(NoAnswerError("no answer within 60 s")) == EXIT_CLOUD


def _turn(answer: str = "", error: str = "") -> VoiceTurn:
    heard = HeardUtterance("which has the most protein", 0, 1, 2, 3, 0.9, "en")
    return VoiceTurn(heard, Intent("ask", "which has the most protein"), "q1", answer=answer, error=error)


@pytest.mark.parametrize(("turns", "expected"), [
    ([_turn(answer="the oat bar")], 0),
    ([_turn(answer="the oat bar"), _turn(error="no answer within 60 s")], EXIT_CLOUD),
])
def test_listen_exits_3_when_a_spoken_question_got_no_answer(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        turns: list[VoiceTurn], expected: int) -> None:
    async def finished_session(options: Any, **_: Any) -> EdgeRunReport:
        assert options.listen is not None
        report = EdgeRunReport(Welcome("s1", "test", 0, 0, ()))
        report.voice_turns = turns
        return report

    monkeypatch.setattr(app, "run_edge", finished_session)
    code = main(["edge", "--device", "synthetic:shelf", "--cloud", "127.0.0.1:1", "--token", "t",
                 "--listen", str(tmp_path / "question.wav"), "--video", str(tmp_path / "out.mp4")])
    assert code == expected
    if expected:
        assert "1 spoken question(s) got no answer" in capsys.readouterr().err
