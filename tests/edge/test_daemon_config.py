"""The daemon's TOML configuration and its reconnect backoff."""

from __future__ import annotations

from pathlib import Path

import pytest

from eyeline.edge.daemon.config import ConfigError, load_config
from eyeline.edge.daemon.reconnect import BackoffSettings, ReconnectPolicy
from eyeline.protos.clock import VirtualClock

GOOD = """
[device]
spec = "synthetic:shelf?seed=2"
profile = "rayban-class"

[cloud]
address = "127.0.0.1:50051"
token_file = "token.txt"
connect_timeout_s = 3

[sampler]
max_keyframes_per_s = 1.5

[record]
folder = "rec"

[reconnect]
initial_delay_s = 0.25
max_delay_s = 4.0
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.toml"
    path.write_text(text)
    return path


def test_a_good_file_becomes_a_typed_config_with_paths_beside_it(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.device == "synthetic:shelf?seed=2"
    assert config.profile == "rayban-class"
    assert config.token_file == tmp_path / "token.txt"
    assert config.record_folder == tmp_path / "rec"
    assert config.connect_timeout_s == 3.0 and isinstance(config.connect_timeout_s, float)
    assert config.reconnect.initial_delay_s == 0.25 and config.reconnect.max_delay_s == 4.0
    assert config.redact_faces is True  # privacy on unless the file says otherwise


@pytest.mark.parametrize(("change", "names"), [
    (("address = \"127.0.0.1:50051\"", "address = \"no-port\""), "cloud.address"),
    (("max_keyframes_per_s = 1.5", "max_keyframes_per_s = \"fast\""), "sampler.max_keyframes_per_s"),
    (("max_keyframes_per_s = 1.5", "max_keyframes_per_s = -1"), "sampler.max_keyframes_per_s"),
    (("max_keyframes_per_s = 1.5", "max_keyframs_per_s = 1.5"), "sampler.max_keyframs_per_s"),
    (("profile = \"rayban-class\"", "profile = \"goggles\""), "device.profile"),
    (("spec = \"synthetic:shelf?seed=2\"", ""), "device.spec is required"),
    (("max_delay_s = 4.0", "max_delay_s = 0.1"), "reconnect.initial_delay_s"),
    (("[record]", "[recording]"), "unknown section [recording]"),
    (("connect_timeout_s = 3", "connect_timeout_s = true"), "cloud.connect_timeout_s"),
])
def test_a_bad_value_names_the_file_and_the_key(tmp_path: Path, change: tuple[str, str], names: str) -> None:
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value)
    assert names in str(caught.value)


def test_a_file_that_is_not_toml_or_not_there_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[device\nspec = 1"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


class FixedRandom:
    def __init__(self, *values: float) -> None:
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0)


def test_backoff_grows_exponentially_up_to_the_cap_and_resets_on_success() -> None:
    policy = ReconnectPolicy(BackoffSettings(0.5, 3.0, 2.0, jitter=0.0), clock=VirtualClock())
    assert [policy.next_delay_s() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    policy.succeeded()
    assert policy.next_delay_s() == 0.5


def test_jitter_spreads_each_delay_within_its_band() -> None:
    rng = FixedRandom(0.0, 1.0, 0.5)
    policy = ReconnectPolicy(BackoffSettings(1.0, 10.0, 2.0, jitter=0.25), clock=VirtualClock(), rng=rng)
    assert policy.next_delay_s() == pytest.approx(0.75)   # 1 s, lowest draw
    assert policy.next_delay_s() == pytest.approx(2.5)    # 2 s, highest draw
    assert policy.next_delay_s() == pytest.approx(4.0)    # 4 s, middle draw


async def test_waiting_sleeps_the_delay_on_the_injected_clock() -> None:
    clock = VirtualClock()
    policy = ReconnectPolicy(BackoffSettings(0.5, 8.0, 3.0, jitter=0.0), clock=clock)
    await policy.wait()
    await policy.wait()
    assert clock.now_ns() == 2_000_000_000
