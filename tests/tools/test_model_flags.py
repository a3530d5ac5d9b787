"""The model reasoner's flags on `eyeline cloud`, `ask`, `demo` and `eval`, and in the daemon's fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from eyeline.cloud.model import Mode
from eyeline.cloud.reasoning.budgets import KEY_ENV, ModelConfigError, default_budgets
from eyeline.edge.daemon.config import parse_config
from eyeline.tools.cli import build_parser, cloud_config, model_config_of
from eyeline.tools.fallback import fallback_cloud_config

URL = ["--model-url", "http://127.0.0.1:8000/v1/", "--model", "Qwen/Qwen2.5-VL-7B-Instruct"]


def test_cloud_flags_configure_the_model_with_the_key_from_a_file(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("sk-local\n")
    config = cloud_config(build_parser().parse_args(["cloud", *URL, "--model-key-file", str(key)])).model
    assert config is not None
    assert (config.base_url, config.model, config.api_key) == ("http://127.0.0.1:8000/v1",
                                                               "Qwen/Qwen2.5-VL-7B-Instruct", "sk-local")
    assert "sk-local" not in repr(config)


def test_the_key_comes_from_the_environment_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-env")
    config = model_config_of(build_parser().parse_args(["ask", "--image", "x.jpg", "--question", "what?", *URL]))
    assert config is not None and config.api_key == "sk-env"


@pytest.mark.parametrize("command", [["demo"], ["eval"], ["ask", "--image", "x.jpg", "--question", "q"]])
def test_every_command_that_runs_a_cloud_takes_the_flags(command: list[str]) -> None:
    config = model_config_of(build_parser().parse_args([*command, *URL]))
    assert config is not None and config.model == "Qwen/Qwen2.5-VL-7B-Instruct"
    assert model_config_of(build_parser().parse_args(command)) is None


@pytest.mark.parametrize(("flags", "problem"), [
    (["--model-url", "127.0.0.1:8000", "--model", "m"], "http"),
    (["--model-url", "http://127.0.0.1:8000/v1"], "name the model"),
    (["--model-url", "http://h/v1", "--model", "m", "--model-key-file", "/nonexistent/key"], "cannot read"),
])
def test_bad_model_flags_are_clear_errors(flags: list[str], problem: str) -> None:
    with pytest.raises(ModelConfigError, match=problem):
        model_config_of(build_parser().parse_args(["cloud", *flags]))


def test_budgets_are_configurable_per_deployment() -> None:
    args = build_parser().parse_args(["cloud", *URL, "--model-budget", "thinking=4096,90",
                                      "--model-budget", "INSTANT=128"])
    config = model_config_of(args)
    assert config is not None
    thinking, instant = config.budgets[Mode.THINKING], config.budgets[Mode.INSTANT]
    assert (thinking.max_tokens, thinking.deadline_s, thinking.reasoning) == (4096, 90.0, True)
    assert (instant.max_tokens, instant.deadline_s) == (128, 8.0)
    assert config.budgets[Mode.CONTEMPLATING] == default_budgets()[Mode.CONTEMPLATING]
    assert config.synthesis_model == ""
    other = model_config_of(build_parser().parse_args(["eval", *URL, "--synthesis-model", "Qwen2.5-VL-72B"]))
    assert other is not None and other.synthesis_model == "Qwen2.5-VL-72B"


@pytest.mark.parametrize("spec", ["pondering=100", "thinking=lots", "thinking=0", "thinking=100,-1", "thinking"])
def test_a_bad_budget_is_a_clear_error(spec: str) -> None:
    with pytest.raises(ModelConfigError, match="budget"):
        model_config_of(build_parser().parse_args(["cloud", *URL, "--model-budget", spec]))


def test_the_daemon_fallback_cloud_takes_the_model_from_its_config(tmp_path: Path) -> None:
    document = {"device": {"spec": "synthetic:shelf"}, "cloud": {"address": "cloud:50051"},
                "fallback": {"model_url": "http://127.0.0.1:8081/v1", "model": "llava", "model_key_file": "k"}}
    (tmp_path / "k").write_text("sk-device")
    settings = parse_config(document, base=tmp_path).fallback
    model = fallback_cloud_config(settings).model
    assert model is not None and (model.base_url, model.model, model.api_key) == ("http://127.0.0.1:8081/v1",
                                                                                   "llava", "sk-device")
    assert fallback_cloud_config().model is None
