"""`eyeline cloud`'s flags reach the cloud's configuration."""

from __future__ import annotations

from eyeline.tools.cli import build_parser, cloud_config


def test_cloud_flags_set_the_resume_grace_and_the_offer_cooldown() -> None:
    args = build_parser().parse_args(["cloud", "--port", "0", "--resume-grace", "5", "--offer-cooldown", "2.5",
                                      "--max-sessions", "7"])
    config = cloud_config(args)
    assert (config.detach_grace_s, config.proactive.cooldown_s, config.max_sessions, config.port) == (5.0, 2.5, 7, 0)


def test_cloud_defaults_keep_sessions_half_a_minute_and_space_offers_out() -> None:
    config = cloud_config(build_parser().parse_args(["cloud"]))
    assert config.detach_grace_s == 30.0 and config.proactive.cooldown_s == 20.0
