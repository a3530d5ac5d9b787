"""The ``eyeline`` command: cloud, edge, token, demo and bench.

Exit codes: 0 done; 1 ``eyeline eval`` scored below perfect; 2 a usage or user error (an argument, a device, a
file, a token the cloud refuses: the one-line message says what to fix); 3 the cloud: unreachable, gone, busy, or
a question it failed or did not answer in time; 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from eyeline.cloud.errors import CloudError
from eyeline.cloud.ingress.auth import Role, TokenSigner, load_secret
from eyeline.devices.base import DeviceError
from eyeline.devices.profiles import PROFILES, profile_by_name
from eyeline.edge.errors import EdgeError
from eyeline.edge.transport.uplink import parse_ice_server
from eyeline.tools.console import print_event, print_report
from eyeline.tools.phone_client import add_phone_parser

# Heavy modules (the OCR models, the gRPC server) are imported by the subcommand that needs them, so an
# edge device never loads the cloud's perception stack.
if TYPE_CHECKING:
    from eyeline.cloud.app import CloudConfig, CloudServer
    from eyeline.cloud.ingress.http import HttpServer
    from eyeline.cloud.reasoning.budgets import ModelConfig
    from eyeline.tools.evaluate import EvalReport

log = logging.getLogger("eyeline")

EXIT_USER_ERROR = 2
EXIT_CLOUD = 3

DEFAULT_EDGE_VIDEO = Path("out/edge.mp4")


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    """The model reasoner's endpoint: any OpenAI-compatible chat-completions server with a vision model."""
    p.add_argument("--model-url", default="", metavar="URL",
                   help="OpenAI-compatible endpoint of a vision model (e.g. http://127.0.0.1:8000/v1); "
                        "without it answers come from the embedded engine only")
    p.add_argument("--model", default="", metavar="NAME", help="with --model-url: the model to ask")
    p.add_argument("--model-key-file", type=Path, metavar="FILE",
                   help="with --model-url: the API key (default: $EYELINE_MODEL_KEY, else none)")
    p.add_argument("--model-budget", action="append", default=[], metavar="MODE=TOKENS[,S]",
                   help="with --model-url: a mode's completion tokens per call and deadline in seconds "
                        "(e.g. thinking=2048,45; repeatable; defaults: instant=384,8 thinking=1536,30 "
                        "contemplating=1536,60)")
    p.add_argument("--synthesis-model", default="", metavar="NAME",
                   help="with --model-url: Contemplating's synthesis on another model of the endpoint")


def model_config_of(args: argparse.Namespace) -> ModelConfig | None:
    """The model endpoint the flags name, or None when no --model-url was given."""
    if not getattr(args, "model_url", ""):
        return None
    from eyeline.cloud.reasoning.budgets import model_config

    return model_config(args.model_url, args.model, args.model_key_file, budgets=args.model_budget,
                        synthesis_model=args.synthesis_model)


def _cloud_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cloud", help="run the cloud reasoning service (gRPC)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=50051, help="0 = any free port")
    p.add_argument("--secret-file", type=Path, help="token secret (default: $EYELINE_TOKEN_SECRET)")
    p.add_argument("--max-sessions", type=int, default=32)
    p.add_argument("--max-frame-bytes", type=int, default=4 * 1024 * 1024)
    p.add_argument("--ocr-workers", type=int, default=1)
    p.add_argument("--tls-cert", type=Path,
                   help="PEM certificate chain: serve TLS on the gRPC and HTTP ports (with --tls-key)")
    p.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    p.add_argument("--asr-model", default="",
                   help="faster-whisper model name or folder for edges that send audio (default: Whisper base)")
    p.add_argument("--frame-skill", default="", choices=["", "noop"],
                   help="answer every frame with this skill's overlay (noop: round-trip benchmarks)")
    p.add_argument("--http-port", type=int, default=8080,
                   help="WHIP signaling and the viewer (0 = any free port, -1 = no HTTP)")
    p.add_argument("--ice-server", action="append", default=[], metavar="URL",
                   help="STUN/TURN server for WebRTC peers: stun:HOST:PORT or turn:USER:PASSWORD@HOST:PORT")
    p.add_argument("--record-dir", type=Path, metavar="DIR",
                   help="record each session (gRPC or WebRTC) to DIR/<session id>.mcap "
                        "(what the cloud received and sent)")
    _add_model_flags(p)
    p.add_argument("--resume-grace", type=float, default=30.0, metavar="S",
                   help="seconds a session whose stream broke waits for its edge to resume it")
    p.add_argument("--offer-cooldown", type=float, default=20.0, metavar="S",
                   help="seconds between proactive offers to a session that asked for them")
    _add_ray_flag(p, "run OCR, segmentation, speech and sub-agents as Ray Serve deployments and keep sessions "
                     "where any ingress can resume them: auto starts a local Ray, ADDRESS joins a cluster")
    p.set_defaults(run=_run_cloud)


def _add_ray_flag(p: argparse.ArgumentParser, help_text: str) -> None:
    p.add_argument("--ray", nargs="?", const="auto", default="", metavar="auto|ADDRESS", help=help_text)


def _edge_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("edge", help="stream a device to the cloud and draw its overlays")
    p.add_argument("--config", type=Path, metavar="FILE.toml",
                   help="run as a long-lived service configured by this file (see eyeline.edge.daemon.config)")
    p.add_argument("--device", help="webcam:0 | webcam:/dev/videoN | video:PATH | image:PATH | synthetic:shelf")
    p.add_argument("--cloud", metavar="HOST:PORT")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--token", help="session token (default: $EYELINE_TOKEN)")
    token.add_argument("--token-file", type=Path)
    p.add_argument("--profile", default="webcam", choices=sorted(PROFILES))
    p.add_argument("--ask", default="", metavar="QUESTION", help="ask this once the first keyframe is up")
    p.add_argument("--proactive", action="store_true",
                   help="let the cloud offer answers unasked when a shelf or a known machine comes into view")
    p.add_argument("--mode", default="", choices=["", "instant", "thinking", "contemplating"])
    p.add_argument("--video", type=Path,
                   help=f"annotated video path (default: a window if a display exists, else {DEFAULT_EDGE_VIDEO})")
    p.add_argument("--snapshot", type=Path, help="PNG of the answer's overlay on its frame")
    p.add_argument("--duration", type=float, help="seconds to run (default: until the device ends)")
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to wait for the cloud")
    p.add_argument("--answer-timeout", type=float, default=60.0, help="seconds to wait for the answer to --ask")
    p.add_argument("--tls-ca", type=Path, help="PEM roots to trust: connect over TLS")
    p.add_argument("--transport", default="grpc", choices=["grpc", "webrtc", "auto"],
                   help="auto: WebRTC, falling back to gRPC when ICE does not connect in time")
    p.add_argument("--whip", default="", metavar="URL", help="WHIP endpoint (default: http://CLOUD-HOST:8080/whip)")
    p.add_argument("--ice-server", action="append", default=[], metavar="URL",
                   help="STUN/TURN server: stun:HOST:PORT or turn:USER:PASSWORD@HOST:PORT")
    p.add_argument("--ice-timeout", type=float, default=5.0, help="seconds for WebRTC to connect")
    p.add_argument("--no-redact-faces", action="store_true",
                   help="send frames with bystanders' faces visible (privacy is on by default; this is logged)")
    p.add_argument("--listen", default="", metavar="AUDIO",
                   help="hear spoken questions: mic, mic:NAME, mic:INDEX, or a wav/flac file")
    p.add_argument("--push-to-talk", action="store_true",
                   help="with --listen: hear only between two presses of Enter (default: hands-free)")
    p.add_argument("--speak-to", type=Path, metavar="DIR",
                   help="with --listen: write spoken answers as wav files here (default: the speaker)")
    p.add_argument("--whisper-model", default="",
                   help="faster-whisper model name or folder (default: the packaged Whisper base)")
    p.add_argument("--asr", choices=("edge", "cloud"), default="edge",
                   help="with --listen: recognise speech on the edge (default; raw audio never leaves it) or "
                        "in the cloud, sent only the speech segments the edge's VAD found (for a weak edge)")
    p.add_argument("--record", type=Path, metavar="PATH", help="record the session to this MCAP file")
    p.add_argument("--record-format", default="png", choices=["png", "jpeg"],
                   help="how recorded frames are stored (png: lossless, replays send the very same pixels)")
    p.set_defaults(run=_run_edge)


def _replay_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("replay", help="re-render a recording's overlays into a video (no cloud), or repair it")
    p.add_argument("recording", type=Path)
    p.add_argument("--video", type=Path, default=Path("out/replay.mp4"), help="the annotated video to write")
    p.add_argument("--repair", type=Path, metavar="OUT",
                   help="instead, rewrite what the recording still holds into a clean, finalized file")
    p.set_defaults(run=_run_replay)


def _eval_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("eval", help="score answers: the rendered evaluation set per mode (no recordings given), "
                                    "or replay recordings through a cloud; accuracy against ground truth")
    p.add_argument("recordings", type=Path, nargs="*",
                   help="session recordings to replay and score; none: run the rendered evaluation set")
    p.add_argument("--mode", action="append", choices=["instant", "thinking", "contemplating"],
                   help="evaluation set: a mode to evaluate (repeatable; default: all three)")
    p.add_argument("--shelf", type=int, default=200, metavar="N", help="evaluation set: rendered shelf scenes")
    p.add_argument("--repair", type=int, default=50, metavar="N", help="evaluation set: rendered espresso scenes")
    p.add_argument("--photos", type=Path, metavar="DIR", help="evaluation set: the shared real-photo folder")
    p.add_argument("--tier", choices=["standard", "stress", "all"], default="standard",
                   help="evaluation set: the standard scenes, the stress tier (degraded shelves, per degradation), "
                        "or both (the full run)")
    p.add_argument("--stress", type=int, default=4, metavar="N",
                   help="stress tier: clean scenes per degradation and severity")
    p.add_argument("--performance", type=Path, metavar="FILE",
                   help="evaluation set: write the per-mode table into this file's evaluation section")
    p.add_argument("--cloud", metavar="HOST:PORT", help="the cloud to replay through (default: one on loopback)")
    token = p.add_mutually_exclusive_group()
    token.add_argument("--token", help="session token for --cloud (default: $EYELINE_TOKEN)")
    token.add_argument("--token-file", type=Path)
    p.add_argument("--fast", action="store_true", help="replay as fast as the edge sends, not at recorded pace")
    _add_model_flags(p)
    p.set_defaults(run=_run_eval)


def _token_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("token", help="mint a session token")
    p.add_argument("--secret-file", type=Path, help="token secret (default: $EYELINE_TOKEN_SECRET)")
    p.add_argument("--subject", default="edge")
    p.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    p.add_argument("--role", choices=("edge", "viewer", "admin"), default="edge",
                   help="edge: publish and view the subject's sessions; viewer: only view them; admin: view all")
    p.set_defaults(run=_run_token)


def _pack_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("pack", help="knowledge packs: import an Open Food Facts export into a catalog pack")
    actions = p.add_subparsers(dest="pack_command", required=True)
    imp = actions.add_parser("import", help="read an Open Food Facts export (JSONL or CSV) into a catalog pack")
    imp.add_argument("file", type=Path, help="the export: .jsonl (one product a line) or .csv/.tsv")
    imp.add_argument("--out", type=Path, required=True, help="the pack folder to write the catalog file into")
    imp.add_argument("--id", default="", help="the catalog file's name in the pack (default: the export's name)")
    imp.set_defaults(run=_run_pack_import)


def _run_pack_import(args: argparse.Namespace) -> int:
    from eyeline.cloud.knowledge.off_import import import_off_export

    report = import_off_export(args.file, args.out, pack_id=args.id)
    for error in report.errors:
        print(f"eyeline pack import: skipped: {error}", file=sys.stderr)
    print(f"imported {report.imported} products into {report.out}"
          + (f"; {len(report.errors)} rows skipped" if report.errors else ""))
    # Rows that could not be read are the user's to fix; everything else is written regardless.
    return EXIT_USER_ERROR if report.errors else 0


def _demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="embedded demo: cloud and edge on a synthetic shelf, no camera or network")
    p.add_argument("--out", type=Path, default=Path("out/demo"))
    p.add_argument("--question", default="which of these has the most protein?")
    p.add_argument("--seed", type=int, default=0)
    _add_model_flags(p)
    _add_ray_flag(p, "answer through Ray Serve deployments: a local Ray (auto, the default) or a cluster's ADDRESS")
    p.set_defaults(run=_run_demo)


def _bench_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="benchmark harness; writes docs/PERFORMANCE.md")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--fps", type=float, default=30.0)
    p.add_argument("--output", type=Path, default=Path("docs/PERFORMANCE.md"))
    p.add_argument("--no-speech", action="store_true", help="skip the speech benchmark (needs the voice extra)")
    p.add_argument("--no-edge", action="store_true",
                   help="skip the edge benchmarks (anchoring, uplink bytes and answers with real OCR, edge CPU)")
    p.add_argument("--no-modes", action="store_true",
                   help="skip Contemplating's parallel vs one-after-another sub-agent timing")
    p.add_argument("--only-answers", action="store_true",
                   help="measure only question -> provisional and final overlay, replacing that section of --output")
    p.add_argument("--rounds", type=int, default=12, help="timed questions per cloud in the answers section")
    p.add_argument("--only-ocr", action="store_true",
                   help="measure only the OCR runtimes side by side on real frames, replacing that section of --output")
    p.add_argument("--ocr-rounds", type=int, default=3, help="reads of each frame per runtime with --only-ocr")
    p.add_argument("--only-speech", action="store_true",
                   help="measure only speech (today's path and streaming in one run), replacing its section")
    p.add_argument("section", nargs="?", choices=("capacity",),
                   help="capacity: how many simulated edges one cloud serves (answer p95 under 2 s), replacing "
                        "that section of --output")
    p.add_argument("--backend", default="inprocess", choices=("inprocess", "ray", "both"),
                   help="capacity: the cloud in this process, on local Ray Serve, or both")
    p.add_argument("--seconds", type=float, default=20.0, help="capacity: how long each step of the ramp runs")
    p.add_argument("--sessions", default="1,2,4,6,8,10,12,16,20,24",
                   help="capacity: the numbers of edges to ramp through, comma-separated")
    p.add_argument("--question-every", type=float, default=4.0, help="capacity: seconds between an edge's questions")
    p.add_argument("--cloud-ocr-workers", type=int, default=1,
                   help="capacity: the cloud's OCR threads (as --ocr-workers)")
    p.add_argument("--whole-ramp", action="store_true",
                   help="capacity: run every step of --sessions, not stopping at the first that fails")
    p.set_defaults(run=_run_bench)


def _signer(secret_file: Path | None) -> TokenSigner:
    return TokenSigner(load_secret(secret_file))


def _run_token(args: argparse.Namespace) -> int:
    print(_signer(args.secret_file).mint(args.subject, args.ttl, role=Role(args.role)))
    return 0


def cloud_config(args: argparse.Namespace) -> CloudConfig:
    """The cloud's configuration from ``eyeline cloud``'s arguments."""
    from eyeline.cloud.app import CloudConfig
    from eyeline.cloud.reasoning.proactive import ProactiveConfig
    from eyeline.cloud.session.frames import FrameLimits

    return CloudConfig(host=args.host, port=args.port, max_sessions=args.max_sessions,
                       frame_limits=FrameLimits(max_bytes=args.max_frame_bytes), ocr_workers=args.ocr_workers,
                       frame_skill=args.frame_skill, tls_cert=args.tls_cert, tls_key=args.tls_key,
                       record_dir=args.record_dir, asr_model=args.asr_model, detach_grace_s=args.resume_grace,
                       proactive=ProactiveConfig(cooldown_s=args.offer_cooldown), model=model_config_of(args),
                       ray=args.ray)


def _run_cloud(args: argparse.Namespace) -> int:
    from eyeline.cloud.app import CloudServer

    config = cloud_config(args)
    return asyncio.run(_serve(CloudServer(config, _signer(args.secret_file)), args))


async def _serve(server: CloudServer, args: argparse.Namespace) -> int:
    await server.start()
    print(f"eyeline cloud listening on {server.address}", flush=True)
    http = await _start_http(server, args)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    print("eyeline cloud shutting down", flush=True)
    if http is not None:
        await http.stop()
    await server.stop(grace_s=2.0)
    return 0


async def _start_http(server: CloudServer, args: argparse.Namespace) -> HttpServer | None:
    """WHIP and the viewer beside the gRPC port, when the webrtc extra is installed."""
    if args.http_port < 0:
        return None
    try:
        from eyeline.cloud.ingress.http import HttpConfig, HttpServer
        from eyeline.cloud.ingress.webrtc_peer import IceServer, WebRtcConfig
    except ImportError as exc:
        print(f"no WebRTC or viewer: the 'webrtc' extra is not installed ({exc.name} is missing; "
              "pip install 'eyeline[webrtc]')", flush=True)
        return None
    ice = tuple(IceServer(s.urls, s.username, s.credential) for s in map(parse_ice_server, args.ice_server))
    http = HttpServer(server.cloud, HttpConfig(args.host, args.http_port, WebRtcConfig(ice_servers=ice),
                                               tls_cert=args.tls_cert, tls_key=args.tls_key))
    await http.start()
    print(f"eyeline viewer listening on {http.url}/", flush=True)
    return http


def _edge_token(args: argparse.Namespace) -> str:
    if args.token_file is not None:
        try:
            return str(args.token_file.read_text().strip())
        except OSError as exc:
            raise EdgeError(f"cannot read token file {args.token_file}: {exc.strerror}") from exc
    token = args.token or os.environ.get("EYELINE_TOKEN", "")
    if not token:
        raise EdgeError("no session token: pass --token, --token-file or set $EYELINE_TOKEN")
    return str(token)


def _run_daemon(path: Path) -> int:
    from eyeline.edge.daemon.config import load_config
    from eyeline.edge.daemon.log import use_json_logs
    from eyeline.edge.daemon.service import DaemonDeps, read_token, serve
    from eyeline.protos.clock import MonotonicClock
    from eyeline.tools.fallback import EmbeddedCloud, fallback_cloud_config

    config = load_config(path)
    token = read_token(config, dict(os.environ))
    use_json_logs()
    embedded = EmbeddedCloud(fallback_cloud_config(config.fallback))
    asyncio.run(serve(config, token, DaemonDeps(MonotonicClock(), fallback_cloud=embedded)))
    return 0


def _run_edge(args: argparse.Namespace) -> int:
    if args.config is not None:
        return _run_daemon(args.config)
    if not args.device or not args.cloud:
        raise EdgeError("eyeline edge needs --device and --cloud, or --config FILE.toml")
    from eyeline.edge.app import EdgeAppOptions, run_edge
    from eyeline.edge.recording.recorder import RecorderOptions
    from eyeline.edge.runtime import EdgeConfig

    video = args.video or DEFAULT_EDGE_VIDEO
    video.parent.mkdir(parents=True, exist_ok=True)
    options = EdgeAppOptions(device=args.device, cloud=args.cloud, token=_edge_token(args),
                             profile=profile_by_name(args.profile), question=args.ask, mode=args.mode,
                             video_path=video, snapshot_path=args.snapshot, prefer_window=args.video is None,
                             duration_s=args.duration, connect_timeout_s=args.connect_timeout, tls_ca=args.tls_ca,
                             answer_timeout_s=args.answer_timeout,
                             transport=args.transport, whip_url=args.whip, ice_timeout_s=args.ice_timeout,
                             ice_servers=tuple(map(parse_ice_server, args.ice_server)),
                             config=EdgeConfig(redact_faces=not args.no_redact_faces), record_path=args.record,
                             record=RecorderOptions(image_format=args.record_format), proactive=args.proactive)
    if args.listen:
        from eyeline.edge.voice.listen import ListenOptions

        options = replace(options, listen=ListenOptions(args.listen, args.push_to_talk, args.speak_to,
                                                        args.whisper_model, asr=args.asr))
    report = asyncio.run(run_edge(options, on_event=print_event))
    print_report(report)
    unanswered = [turn for turn in report.voice_turns if turn.error]
    if unanswered:  # as --ask does: a question that got no answer is a failure, spoken or typed
        print(f"eyeline edge: error: {len(unanswered)} spoken question(s) got no answer; the first: "
              f"{unanswered[0].error}", file=sys.stderr)
        return EXIT_CLOUD
    return 0


def _run_replay(args: argparse.Namespace) -> int:
    from eyeline.tools.replay import render_recording, repair_recording

    if args.repair is not None:
        repaired = repair_recording(args.recording, args.repair)
        state = "was truncated" if repaired.was_truncated else "was complete"
        print(f"{args.recording} {state}: wrote {repaired.frames} frames, {repaired.messages} messages "
              f"to {args.repair}")
        return 0
    rendered = render_recording(args.recording, args.video)
    note = " (the recording is truncated; rendered up to its last complete chunk)" if rendered.truncated else ""
    print(f"wrote {args.video}: {rendered.frames} frames, {rendered.overlays} overlays{note}")
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    if not args.recordings:
        return _run_evalset(args)
    from eyeline.tools.evaluate import format_report

    report = asyncio.run(_evaluate(args))
    print(format_report(report))
    return 0 if report.scored and report.accuracy == 1.0 else 1


def _run_evalset(args: argparse.Namespace) -> int:
    from eyeline.tools.evalset import (
        MODES,
        format_case,
        format_tables,
        performance_section,
        run_evalset,
        update_performance,
    )
    from eyeline.tools.stress import format_stress_table, stress_section, stress_tier

    standard, stressed = args.tier != "stress", args.tier != "standard"
    report = asyncio.run(run_evalset(modes=args.mode or MODES, shelf=args.shelf if standard else 0,
                                     repair=args.repair if standard else 0, photos=args.photos if standard else None,
                                     model=model_config_of(args), tier=stress_tier(args.stress) if stressed else None,
                                     on_result=lambda result: print(format_case(result), flush=True)))
    if stressed:
        print(format_stress_table(report))
        if args.performance is not None:
            command = " ".join(["eyeline eval --tier stress", *(f"--mode {mode}" for mode in args.mode or []),
                                f"--stress {args.stress} --performance {args.performance}"])
            update_performance(args.performance, stress_section(report, command, args.stress))
    if not standard:
        return 0
    print(format_tables(report))
    if args.performance is not None:
        words = ["eyeline eval", *(f"--mode {mode}" for mode in args.mode or []),
                 f"--shelf {args.shelf} --repair {args.repair}", "--photos ../shared/data" if args.photos else "",
                 f"--model-url {args.model_url} --model {args.model}" if args.model_url else "",
                 f"--performance {args.performance}"]
        command = " ".join(" ".join(words).split())
        update_performance(args.performance, performance_section(report, command, args.model if args.model_url else ""))
    return 0


def _ask_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ask", help="one-shot answer about an image or video, from a cloud on loopback")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", type=Path, help="a photo to ask about")
    source.add_argument("--video", type=Path, help="a video to ask about (asked once its first keyframe is up)")
    p.add_argument("--question", required=True, metavar="TEXT")
    p.add_argument("--mode", default="", choices=["", "instant", "thinking", "contemplating"])
    p.add_argument("--json", action="store_true", help="print the answer as JSON (schema: docs/ask-json.md)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the answer")
    _add_model_flags(p)
    p.set_defaults(run=_run_ask)


def _run_ask(args: argparse.Namespace) -> int:
    import json

    from eyeline.tools.ask import result_json, result_text, run_ask

    result = asyncio.run(run_ask(image=args.image, video=args.video, question=args.question, mode=args.mode,
                                 timeout_s=args.timeout, model=model_config_of(args)))
    print(json.dumps(result_json(result), indent=2) if args.json else result_text(result))
    return 0


async def _evaluate(args: argparse.Namespace) -> EvalReport:
    from eyeline.tools.evaluate import evaluate

    if args.cloud:
        return await evaluate(args.recordings, args.cloud, _edge_token(args), fast=args.fast)
    from eyeline.cloud.app import CloudConfig, CloudServer

    signer = TokenSigner(os.urandom(32))
    server = CloudServer(CloudConfig(port=0, model=model_config_of(args)), signer)
    await server.start()
    try:
        return await evaluate(args.recordings, server.address, signer.mint("eval", 3600), fast=args.fast)
    finally:
        await server.stop(grace_s=1.0)


def _run_demo(args: argparse.Namespace) -> int:
    from eyeline.tools.demo import run_demo

    result = asyncio.run(run_demo(args.out, question=args.question, seed=args.seed, on_event=print_event,
                                  model=model_config_of(args), ray=args.ray))
    print_report(result.report)
    print(f"annotated video: {result.video_path}\nsnapshot:        {result.snapshot_path}")
    return 0


def _run_bench(args: argparse.Namespace) -> int:
    from eyeline.tools.bench import run_benchmarks

    if args.section == "capacity":
        return _run_capacity(args)
    if args.only_ocr:
        from eyeline.tools.bench_ocr import write_ocr_section

        return write_ocr_section(args.output, args.ocr_rounds, Path("../shared/data"))
    if args.only_speech:
        from eyeline.tools.bench_speech import write_speech_section

        return asyncio.run(write_speech_section(args.output))
    if args.only_answers:
        from eyeline.tools.bench_answers import write_answers_section

        return asyncio.run(write_answers_section(args.output, args.rounds))
    return asyncio.run(run_benchmarks(args.output, frames=args.frames, fps=args.fps, speech=not args.no_speech,
                                     edge=not args.no_edge, modes=not args.no_modes, answer_rounds=args.rounds))


def _run_capacity(args: argparse.Namespace) -> int:
    from eyeline.tools.bench_capacity import CapacityBenchError, Load, backends_of, write_capacity_section

    ramp = tuple(int(n) for n in args.sessions.split(",") if n.strip())
    command = (f"eyeline bench capacity --backend {args.backend} --seconds {args.seconds:g} "
               f"--sessions {','.join(map(str, ramp))} --question-every {args.question_every:g}"
               + (f" --cloud-ocr-workers {args.cloud_ocr_workers}" if args.cloud_ocr_workers != 1 else "")
               + (" --whole-ramp" if args.whole_ramp else ""))
    load = Load(seconds=args.seconds, question_every_s=args.question_every)
    try:
        return asyncio.run(write_capacity_section(args.output, backends_of(args.backend), ramp, load, command,
                                                  whole_ramp=args.whole_ramp, ocr_workers=args.cloud_ocr_workers))
    except CapacityBenchError as exc:
        print(f"eyeline bench capacity: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eyeline", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_cloud_parser, _edge_parser, _token_parser, _demo_parser, _bench_parser, _replay_parser,
                _eval_parser, _ask_parser, add_phone_parser, _pack_parser):
        add(sub)
    return parser


def exit_code(error: Exception) -> int:
    """3 for what the cloud did or did not do, 2 for what the user can fix (see the module docstring)."""
    from eyeline.edge.app import NoAnswerError
    from eyeline.edge.runtime import QueryFailedError
    from eyeline.edge.transport.uplink import UplinkError

    if isinstance(error, UplinkError):  # a refused token or unreadable TLS roots are not retryable: the user's
        return EXIT_CLOUD if error.retryable else EXIT_USER_ERROR
    return EXIT_CLOUD if isinstance(error, (NoAnswerError, QueryFailedError)) else EXIT_USER_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args))
    except (CloudError, DeviceError, EdgeError) as exc:
        print(f"eyeline {args.command}: error: {exc}", file=sys.stderr)
        return exit_code(exc)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
