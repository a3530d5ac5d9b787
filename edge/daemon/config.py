"""The edge daemon's configuration: one TOML file, validated into a frozen value before anything starts.

Every key is optional except ``device.spec`` and ``cloud.address``. A bad value fails with a ``ConfigError`` that
names the file, the key and the problem; unknown keys are errors too, so a typo never silently means a default.

```toml
[device]
spec = "webcam:0"           # any device spec `eyeline edge --device` takes
profile = "webcam"          # rayban-class | webcam | hud-glasses

[cloud]
address = "cloud.example:50051"
transport = "grpc"
token_file = "/etc/eyeline/token"
tls_ca = "/etc/eyeline/ca.pem"      # optional
connect_timeout_s = 10.0

[privacy]
redact_faces = true

[sampler]
max_keyframes_per_s = 2.0
uplink_budget_kbps = 0      # 0: the profile's budget

[reasoning]
proactive = false           # let the cloud offer answers unasked (a shelf, a known machine in view)

[record]
folder = "/var/lib/eyeline/recordings"   # optional; one MCAP file per daemon run
format = "png"

[service]
metrics_host = "127.0.0.1"
metrics_port = 9464         # -1: no health/metrics endpoint
control_token_file = "/var/lib/eyeline/control-token"  # POST /pause, /resume need it as a bearer token
control_hosts = ["glasses.local"]   # Host names control requests may use, beyond localhost and metrics_host

[reconnect]
initial_delay_s = 0.5
max_delay_s = 30.0
multiplier = 2.0
jitter = 0.2

[ingest]                    # phone push-ingest (edge/daemon/ingest.py); off unless listen is set
listen = "0.0.0.0:50061"
token_file = "/etc/eyeline/phone-token"  # required with listen: phones present this token
max_frame_bytes = 4194304
tls_cert = "/etc/eyeline/ingest-cert.pem"  # optional, with tls_key: the phone's link over TLS
tls_key = "/etc/eyeline/ingest-key.pem"

[power]                     # battery and heat (edge/daemon/power.py)
status_file = "/data/data/com.termux/files/home/battery.json"  # optional: termux-battery-status output
poll_s = 30.0
low_battery_percent = 20.0
critical_battery_percent = 5.0
low_rate_factor = 0.5       # frame rate at "low", as a fraction of sampler.max_keyframes_per_s
critical_fps = 1.0
low_max_mode = "thinking"   # the deepest reasoning mode a question may ask for at "low"
critical_max_mode = "instant"
hot_celsius = 40.0          # a status file's battery temperature: "serious" from here
critical_celsius = 45.0     # and "critical" from here

[voice]                     # spoken questions (edge/daemon/asking.py); off unless audio is set
audio = "mic"               # mic, mic:NAME, mic:INDEX, or a wav/flac file
push_to_talk = false        # true: heard only between POST /talk {"pressed": true} and {"pressed": false}
speak_to = "/var/lib/eyeline/answers"   # optional: spoken answers as wav files here (default: the speaker)
whisper_model = ""          # faster-whisper model name or folder ("" = the packaged Whisper base)

[fallback]                  # the embedded cloud when the remote is unreachable (edge/daemon/fallback.py)
enabled = true              # `eyeline edge --config` embeds one; a daemon built without one never falls back
after_s = 15.0              # unreachable this long in a row: answers come from this device
probe_s = 5.0               # while on the fallback, try the remote this often; back as soon as it answers
# model_url = "http://127.0.0.1:8081/v1"   # optional: a local OpenAI-compatible vision model behind the
# model = "qwen2.5-vl-3b"                  # embedded cloud (model_key_file = "key.txt", else $EYELINE_MODEL_KEY)
```

``POST /ask`` (JSON ``{"text": ..., "mode": ...}``) asks about what is in view and answers with the final answer;
like ``/pause`` it needs the control token (``edge/daemon/asking.py``).

``device.spec = "push:phone"`` takes its frames from the phone that pushes them (it needs ``[ingest]``).

``service.control_token_file`` guards the state-changing control routes (``edge/daemon/control.py``): an existing
file is read (it must be mode 0600: readable by its owner only); a missing one is created with a fresh random
token, mode 0600. Send it as ``Authorization: Bearer $(cat FILE)``. Without the key the token lives only in the
daemon's memory, so no HTTP caller can pause or resume it (``SIGUSR1`` still toggles the pause). Control requests
are also refused when their ``Host`` is not ``localhost``, ``127.0.0.1``, ``::1``, ``metrics_host`` or one of
``control_hosts`` (DNS rebinding), and whenever a browser sends them (an ``Origin`` or cross-site
``Sec-Fetch-Site`` header).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eyeline.devices.push import is_push_spec
from eyeline.edge.daemon.fallback import FallbackSettings
from eyeline.edge.daemon.power import MODE_ORDER, PowerSettings
from eyeline.edge.daemon.reconnect import BackoffSettings
from eyeline.edge.errors import EdgeError

TRANSPORTS = ("grpc",)              # the daemon reconnects and records over the gRPC stream only
PROFILE_NAMES = ("rayban-class", "webcam", "hud-glasses")
RECORD_FORMATS = ("png", "jpeg")


class ConfigError(EdgeError):
    """The daemon's configuration file is missing, not TOML, or holds a bad value."""


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    device: str
    cloud: str
    profile: str = "webcam"
    transport: str = "grpc"
    token_file: Path | None = None  # None: $EYELINE_TOKEN
    tls_ca: Path | None = None
    connect_timeout_s: float = 10.0
    redact_faces: bool = True
    max_keyframes_per_s: float = 2.0
    uplink_budget_kbps: int = 0
    record_folder: Path | None = None
    record_format: str = "png"
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9464
    control_token_file: Path | None = None   # None: a token for this run only, written nowhere (control.py)
    control_hosts: tuple[str, ...] = ()      # Host names control requests may use besides the local ones
    reconnect: BackoffSettings = field(default_factory=BackoffSettings)
    proactive: bool = False
    ingest_listen: str = ""         # "": no push-ingest service
    ingest_token_file: Path | None = None
    ingest_max_frame_bytes: int = 4 * 1024 * 1024
    ingest_tls_cert: Path | None = None   # PEM certificate chain: the phone's link over TLS (with the key)
    ingest_tls_key: Path | None = None
    power_status_file: Path | None = None
    power_poll_s: float = 30.0
    power: PowerSettings = field(default_factory=PowerSettings)
    fallback: FallbackSettings = field(default_factory=FallbackSettings)
    voice_audio: str = ""                  # "": no voice; else what ``eyeline edge --listen`` takes
    voice_push_to_talk: bool = False
    voice_speak_to: Path | None = None
    voice_whisper_model: str = ""


_SECTIONS: Mapping[str, Mapping[str, tuple[str, type]]] = {
    "device": {"spec": ("device", str), "profile": ("profile", str)},
    "cloud": {"address": ("cloud", str), "transport": ("transport", str), "token_file": ("token_file", Path),
              "tls_ca": ("tls_ca", Path), "connect_timeout_s": ("connect_timeout_s", float)},
    "privacy": {"redact_faces": ("redact_faces", bool)},
    "sampler": {"max_keyframes_per_s": ("max_keyframes_per_s", float),
                "uplink_budget_kbps": ("uplink_budget_kbps", int)},
    "reasoning": {"proactive": ("proactive", bool)},
    "record": {"folder": ("record_folder", Path), "format": ("record_format", str)},
    "service": {"metrics_host": ("metrics_host", str), "metrics_port": ("metrics_port", int),
                "control_token_file": ("control_token_file", Path), "control_hosts": ("control_hosts", tuple)},
    "reconnect": {"initial_delay_s": ("initial_delay_s", float), "max_delay_s": ("max_delay_s", float),
                  "multiplier": ("multiplier", float), "jitter": ("jitter", float)},
    "ingest": {"listen": ("ingest_listen", str), "token_file": ("ingest_token_file", Path),
               "max_frame_bytes": ("ingest_max_frame_bytes", int), "tls_cert": ("ingest_tls_cert", Path),
               "tls_key": ("ingest_tls_key", Path)},
    "power": {"status_file": ("power_status_file", Path), "poll_s": ("power_poll_s", float),
              **{name: (name, type(getattr(PowerSettings(), name))) for name in PowerSettings.__dataclass_fields__}},
    "voice": {"audio": ("voice_audio", str), "push_to_talk": ("voice_push_to_talk", bool),
              "speak_to": ("voice_speak_to", Path), "whisper_model": ("voice_whisper_model", str)},
    "fallback": {"enabled": ("fallback_enabled", bool), "after_s": ("fallback_after_s", float),
                 "probe_s": ("fallback_probe_s", float), "model_url": ("fallback_model_url", str),
                 "model": ("fallback_model", str), "model_key_file": ("fallback_model_key_file", Path)},
}
_REQUIRED = (("device", "spec"), ("cloud", "address"))


def load_config(path: Path) -> DaemonConfig:
    """Read and validate ``path``; relative paths inside it are taken relative to the file's folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_config(document, source=str(path), base=path.parent)


def parse_config(document: Mapping[str, Any], *, source: str = "<config>", base: Path = Path(".")) -> DaemonConfig:
    values: dict[str, Any] = {}
    for section, table in document.items():
        keys = _SECTIONS.get(section)
        if keys is None:
            raise ConfigError(f"{source}: unknown section [{section}]; known: {', '.join(_SECTIONS)}")
        if not isinstance(table, Mapping):
            raise ConfigError(f"{source}: [{section}] must be a table")
        for key, value in table.items():
            if key not in keys:
                raise ConfigError(f"{source}: unknown key {section}.{key}; known: {', '.join(keys)}")
            name, kind = keys[key]
            values[name] = _typed(value, kind, f"{source}: {section}.{key}", base)
    for section, key in _REQUIRED:
        if _SECTIONS[section][key][0] not in values:
            raise ConfigError(f"{source}: {section}.{key} is required")
    reconnect = {k: values.pop(k) for k in list(values) if k in BackoffSettings.__dataclass_fields__}
    power = {k: values.pop(k) for k in list(values) if k in PowerSettings.__dataclass_fields__}
    fallback = {k.removeprefix("fallback_"): values.pop(k) for k in list(values) if k.startswith("fallback_")}
    config = DaemonConfig(**values, reconnect=BackoffSettings(**reconnect), power=PowerSettings(**power),
                          fallback=FallbackSettings(**fallback))
    _validate(config, source)
    return config


def _typed(value: Any, kind: type, where: str, base: Path) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is tuple:
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise ConfigError(f"{where} must be a list of non-empty strings, got {value!r}")
        return tuple(item.strip() for item in value)
    if kind is Path:
        if not isinstance(value, str) or not value or "\x00" in value:
            raise ConfigError(f"{where} must be a non-empty path string, got {value!r}")
        try:
            path = Path(value).expanduser()
        except RuntimeError as exc:   # "~user/..." for a user this machine does not know
            raise ConfigError(f"{where}: {value!r} names a home folder that does not exist here") from exc
        return path if path.is_absolute() else base / path
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{where} must be {kind.__name__}, got {type(value).__name__} {value!r}")
    return value


def _validate(config: DaemonConfig, source: str) -> None:
    def check(ok: bool, key: str, problem: str) -> None:
        if not ok:
            raise ConfigError(f"{source}: {key} {problem}")

    check(bool(config.device.strip()), "device.spec", "must not be empty")
    host, _, port = config.cloud.rpartition(":")
    check(bool(host) and port.isdigit() and 0 < int(port) < 65536, "cloud.address",
          f"must be HOST:PORT, got {config.cloud!r}")
    check(config.transport in TRANSPORTS, "cloud.transport", f"must be one of {', '.join(TRANSPORTS)}")
    check(config.profile in PROFILE_NAMES, "device.profile", f"must be one of {', '.join(PROFILE_NAMES)}")
    check(config.connect_timeout_s > 0, "cloud.connect_timeout_s", "must be positive")
    check(config.max_keyframes_per_s > 0, "sampler.max_keyframes_per_s", "must be positive")
    check(config.uplink_budget_kbps >= 0, "sampler.uplink_budget_kbps", "must be 0 or more")
    check(config.record_format in RECORD_FORMATS, "record.format", f"must be one of {', '.join(RECORD_FORMATS)}")
    check(-1 <= config.metrics_port < 65536, "service.metrics_port", "must be -1 (none), 0 (any) or a port")
    _validate_ingest(config, check)
    _validate_power(config, check)
    check(not config.voice_push_to_talk or bool(config.voice_audio), "voice.push_to_talk", "needs voice.audio")
    check(config.fallback.after_s > 0, "fallback.after_s", "must be positive")
    check(config.fallback.probe_s > 0, "fallback.probe_s", "must be positive")
    r = config.reconnect
    check(0 < r.initial_delay_s <= r.max_delay_s, "reconnect.initial_delay_s", "must be positive and <= max_delay_s")
    check(r.multiplier >= 1, "reconnect.multiplier", "must be 1 or more")
    check(0 <= r.jitter < 1, "reconnect.jitter", "must be in [0, 1)")


Check = Callable[[bool, str, str], None]


def _validate_ingest(config: DaemonConfig, check: Check) -> None:
    if config.ingest_listen:
        host, _, port = config.ingest_listen.rpartition(":")
        check(bool(host) and port.isdigit() and 0 <= int(port) < 65536, "ingest.listen",
              f"must be HOST:PORT, got {config.ingest_listen!r}")
        check(config.ingest_token_file is not None, "ingest.token_file", "is required with ingest.listen")
    check(config.ingest_max_frame_bytes > 0, "ingest.max_frame_bytes", "must be positive")
    check((config.ingest_tls_cert is None) == (config.ingest_tls_key is None), "ingest.tls_key",
          "tls_cert and tls_key go together")
    check(not is_push_spec(config.device) or bool(config.ingest_listen), "device.spec",
          f"{config.device!r} takes pushed frames: set ingest.listen")


def _validate_power(config: DaemonConfig, check: Check) -> None:
    p = config.power
    check(config.power_poll_s > 0, "power.poll_s", "must be positive")
    check(0 <= p.critical_battery_percent <= p.low_battery_percent <= 100, "power.low_battery_percent",
          "must be in 0..100 and at least power.critical_battery_percent")
    check(0 < p.low_rate_factor <= 1, "power.low_rate_factor", "must be in (0, 1]")
    check(p.critical_fps > 0, "power.critical_fps", "must be positive")
    for key, mode in (("low_max_mode", p.low_max_mode), ("critical_max_mode", p.critical_max_mode)):
        check(mode in MODE_ORDER, f"power.{key}", f"must be one of {', '.join(MODE_ORDER)}")
    check(p.hot_celsius <= p.critical_celsius, "power.hot_celsius", "must be at most power.critical_celsius")
