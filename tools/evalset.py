"""The evaluation set: rendered shelves and espresso machines with exact ground truth, plus the real photos.

Scenes are generated on demand from their index (nothing is checked in), so case ``i`` is the same scene on
every machine. Each case carries its difficulty knobs: blur, perspective, glare, small text (zoom below 1),
occlusion (a sticker over the protein row) and hidden panels (only the catalog can answer); a case with any
of them is *hard*. Every answer goes the live way: an edge runtime streams the frame to a cloud on loopback
over gRPC and asks in the mode under test. ``eyeline eval`` prints accuracy and cost per mode.

Scoring: a shelf answer is right when the first product it names is the one with the most protein per
serving among those fully in view; a repair answer's arrow is right when its head lies within 5% of the image
diagonal of the true centre of the component its step targets; a real photo's answer is right when it holds
every expected fragment (the MANIFEST's ground truth).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from eyeline.devices.base import DeviceError, Image
from eyeline.devices.espresso import EspressoTruth, make_espresso_scene, render_espresso_frame
from eyeline.devices.synthetic import (
    CATALOG,
    FrameEffects,
    LabelLayout,
    ShelfTruth,
    make_shelf_scene,
    render_shelf_frame,
)
from eyeline.edge.errors import EdgeError
from eyeline.edge.overlays import ArrowShape
from eyeline.tools.ask import AskResult, StillSource, ask_over
from eyeline.tools.photo_eval import PhotoCase, PhotoScore, format_photo_table, photo_cases, photo_correct
from eyeline.tools.sections import marked, replace_marked

if TYPE_CHECKING:
    from eyeline.cloud.app import CloudServer
    from eyeline.cloud.reasoning.budgets import ModelConfig

log = logging.getLogger(__name__)

SHELF_QUESTION = "which of these has the most protein?"
REPAIR_STEPS = 7                  # steps of the espresso demo kit; case i asks for step (i % 7) + 1
ARROW_TOLERANCE = 0.05            # share of the image diagonal
DEFAULT_SHELF_CASES = 200
DEFAULT_REPAIR_CASES = 50
MODES = ("instant", "thinking", "contemplating")
_POLL_S = 0.05
# Cases run one at a time, each session released before the next opens; the embedded cloud still has room for
# many, so a session whose deep pass is slow to wind down can never make a later case meet the session limit.
EVAL_MAX_SESSIONS = 128
_RELEASE_S = 30.0
_PER_SERVING_LAYOUTS = (LabelLayout.CLASSIC, LabelLayout.COLON, LabelLayout.AMOUNT_FIRST, LabelLayout.PER_100G)


@dataclass(frozen=True, slots=True)
class SceneCase:
    """One rendered scene: which, seen when, through which knobs, and what is asked."""

    kind: str                     # "shelf" or "repair"
    index: int
    seed: int
    t_s: float
    effects: FrameEffects
    layouts: tuple[LabelLayout, ...] = ()
    n_products: int = 0
    step: int = 0                 # repair: the 1-based step asked for

    @property
    def hard(self) -> bool:
        e = self.effects
        knobs = e.blur_sigma > 0 or e.glare > 0 or e.perspective_deg != 0 or e.zoom < 1.0
        return knobs or any(layout in (LabelLayout.HIDDEN, LabelLayout.OCCLUDED) for layout in self.layouts)

    @property
    def question(self) -> str:
        return SHELF_QUESTION if self.kind == "shelf" else f"show me step {self.step} of cleaning this machine"

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.index:03d}"


def _effects(rng: np.random.Generator) -> FrameEffects:
    """About half the scenes get one or two knobs turned, each to a level people meet."""
    knobs = rng.choice(["blur", "glare", "perspective", "small"], size=int(rng.choice([0, 0, 1, 1, 2])),
                       replace=False)
    return FrameEffects(blur_sigma=float(rng.uniform(0.8, 1.6)) if "blur" in knobs else 0.0,
                        glare=float(rng.uniform(0.3, 0.6)) if "glare" in knobs else 0.0,
                        perspective_deg=float(rng.choice([-1, 1]) * rng.uniform(10, 22)) if "perspective" in knobs
                        else 0.0,
                        zoom=float(rng.uniform(0.75, 0.9)) if "small" in knobs else 1.0)


def shelf_cases(count: int = DEFAULT_SHELF_CASES) -> list[SceneCase]:
    cases = []
    for index in range(count):
        rng = np.random.default_rng([index, 0x5E1F])
        n_products = int(rng.integers(3, 6))
        layouts = [LabelLayout(str(rng.choice([layout.value for layout in _PER_SERVING_LAYOUTS])))
                   for _ in range(n_products)]
        if rng.random() < 0.25:            # one package's panel hidden or covered: the catalog must answer
            layouts[int(rng.integers(n_products))] = LabelLayout(str(rng.choice(["hidden", "occluded"])))
        cases.append(SceneCase("shelf", index, seed=1000 + index, t_s=float(rng.uniform(0, 6)),
                               effects=_effects(rng), layouts=tuple(layouts), n_products=n_products))
    return cases


def repair_cases(count: int = DEFAULT_REPAIR_CASES) -> list[SceneCase]:
    cases = []
    for index in range(count):
        rng = np.random.default_rng([index, 0xE5B0])
        cases.append(SceneCase("repair", index, seed=2000 + index, t_s=float(rng.uniform(0, 6)),
                               effects=_effects(rng), step=index % REPAIR_STEPS + 1))
    return cases


def render_case(case: SceneCase) -> tuple[Image, ShelfTruth | EspressoTruth]:
    if case.kind == "shelf":
        scene = make_shelf_scene(case.seed, case.n_products, case.layouts)
        return render_shelf_frame(scene, case.t_s, effects=case.effects)
    return render_espresso_frame(make_espresso_scene(case.seed), case.t_s, effects=case.effects)


# ------------------------------------------------------------------ scoring


def first_named(answer: str, names: Sequence[str]) -> str | None:
    """The name (of ``names``) the answer mentions first, or None."""
    text = answer.lower()
    found = [(text.find(name.lower()), name) for name in names if name.lower() in text]
    return min(found)[1] if found else None


def shelf_correct(result: AskResult, truth: ShelfTruth) -> bool:
    try:
        best = truth.best_product().display_name
    except Exception:
        return False
    return first_named(result.answer.text, [product.display_name for product in CATALOG]) == best


def arrow_error(result: AskResult, truth: EspressoTruth, target: str) -> float | None:
    """Distance from the arrow's head to the target's true centre, as a share of the diagonal; None: no arrow."""
    if result.overlay is None:
        return None
    width, height = result.frame_size
    for item in result.overlay.items:
        if isinstance(item.shape, ArrowShape) and item.id == f"arrow-{target}":
            centre = truth.component(target).center
            dx, dy = item.shape.head[0] * width - centre[0], item.shape.head[1] * height - centre[1]
            return math.hypot(dx, dy) / math.hypot(width, height)
    return None


# ------------------------------------------------------------------ running


@dataclass(frozen=True, slots=True)
class CaseResult:
    kind: str                     # shelf, repair, photo
    name: str
    mode: str
    hard: bool
    correct: bool
    steps: int
    ms: float
    answer: str
    arrow_error: float | None = None
    tokens: int = 0               # model tokens (prompt + completion) the answer cost, interim passes included


def model_tokens(result: AskResult) -> int:
    """The model tokens an answer's trace says it spent (0 for an embedded answer)."""
    from eyeline.cloud.reasoning.budgets import parse_token_use

    return sum(use.total for step in result.steps if (use := parse_token_use(step.text)) is not None)


@dataclass(slots=True)
class EvalSetReport:
    results: list[CaseResult] = field(default_factory=list)
    shelf_cases: int = 0
    repair_cases: int = 0
    photo_cases: int = 0
    photos: tuple[PhotoCase, ...] = ()

    def photo_scores(self) -> list[PhotoScore]:
        cases = {case.name: case for case in self.photos}
        return [PhotoScore(r.mode, cases[r.name], r.correct) for r in self.results
                if r.kind == "photo" and r.name in cases]


Progress = Callable[[CaseResult], None]
# Another tier's cases for one mode, given the cloud's address and a token: (kind, name, the job to run).
ExtraTier = Callable[[str, str, str], Sequence[tuple[str, str, Callable[[], Coroutine[Any, Any, CaseResult]]]]]


async def run_evalset(*, modes: Sequence[str] = MODES, shelf: int = DEFAULT_SHELF_CASES,
                      repair: int = DEFAULT_REPAIR_CASES, photos: Path | None = None,
                      on_result: Progress | None = None, model: ModelConfig | None = None,
                      tier: ExtraTier | None = None) -> EvalSetReport:
    """Every case in every mode, against one cloud on loopback; ``photos`` is the shared data folder, if any;
    ``tier`` adds a tier's cases to each mode (the stress tier: ``tools/stress.py`` ``stress_tier``)."""
    from eyeline.cloud.app import CloudConfig, CloudServer
    from eyeline.cloud.ingress.auth import TokenSigner

    signer = TokenSigner(os.urandom(32))
    server = CloudServer(CloudConfig(port=0, max_sessions=EVAL_MAX_SESSIONS, model=model), signer)
    await server.start()
    photo_list = photo_cases(photos) if photos is not None else []
    report = EvalSetReport(shelf_cases=shelf, repair_cases=repair, photo_cases=len(photo_list),
                           photos=tuple(photo_list))
    try:
        token = signer.mint("eval", 24 * 3600)
        for mode in modes:
            for case in [*shelf_cases(shelf), *repair_cases(repair)]:
                job = _scene(server.address, token, case, mode)
                _keep(report, await run_case(server, case.kind, case.name, mode, job), on_result)
            for kind, name, make_job in tier(server.address, token, mode) if tier is not None else []:
                _keep(report, await run_case(server, kind, name, mode, make_job()), on_result)
            for photo in photo_list:
                job = _photo(server.address, token, photo, photos or Path(), mode)
                _keep(report, await run_case(server, "photo", photo.name, mode, job), on_result)
    finally:
        await server.stop(grace_s=1.0)
    return report


async def run_case(server: CloudServer, kind: str, name: str, mode: str,
                job: Coroutine[Any, Any, CaseResult]) -> CaseResult:
    """One case, its session released before the next opens; a case that fails is scored wrong, with the reason,
    and the run goes on."""
    started = time.perf_counter()
    try:
        return await job
    except (EdgeError, DeviceError) as exc:
        log.warning("case %s (%s) failed: %s", name, mode, exc)
        return CaseResult(kind, name, mode, True, False, 0, (time.perf_counter() - started) * 1000.0,
                          f"failed: {exc}")
    finally:
        await sessions_released(server)


async def sessions_released(server: CloudServer, within_s: float = _RELEASE_S) -> bool:
    """Wait until the cloud holds no session (a deep mode may still be winding one down after its answer);
    False if one is still held after ``within_s``."""
    for _ in range(round(within_s / _POLL_S)):
        if not server.sessions.active():
            return True
        await asyncio.sleep(_POLL_S)
    log.warning("%d evaluation sessions still open after %g s", len(server.sessions.active()), within_s)
    return False


def _keep(report: EvalSetReport, result: CaseResult, on_result: Progress | None) -> None:
    report.results.append(result)
    if on_result is not None:
        on_result(result)


async def _scene(address: str, token: str, case: SceneCase, mode: str) -> CaseResult:
    image, truth = await asyncio.to_thread(render_case, case)
    result = await ask_over(address, token, StillSource(image, truth), case.question, mode=mode,
                            source_name=case.name, size=(image.shape[1], image.shape[0]))
    error = None
    if isinstance(truth, ShelfTruth):
        correct = shelf_correct(result, truth)
    else:
        from eyeline.tools.demo_kit import STEPS

        error = arrow_error(result, truth, STEPS[case.step - 1]["target"])
        correct = error is not None and error <= ARROW_TOLERANCE
    return CaseResult(case.kind, case.name, mode, case.hard, correct, len(result.steps), result.elapsed_ms,
                      result.answer.text, error, model_tokens(result))


async def _photo(address: str, token: str, case: PhotoCase, folder: Path, mode: str) -> CaseResult:
    image = await asyncio.to_thread(cv2.imread, str(folder / case.file))
    pixels = np.asarray(image, dtype=np.uint8)
    result = await ask_over(address, token, StillSource(pixels), case.question, mode=mode, source_name=case.name,
                            size=(pixels.shape[1], pixels.shape[0]))
    correct = photo_correct(result.answer.text, result.answer.facts, case)
    return CaseResult("photo", case.name, mode, True, correct, len(result.steps), result.elapsed_ms,
                      result.answer.text, tokens=model_tokens(result))


# ------------------------------------------------------------------ reporting


@dataclass(frozen=True, slots=True)
class ModeSummary:
    mode: str
    shelf_top1: float | None
    shelf_hard_top1: float | None
    repair_within: float | None
    repair_median_error: float | None
    photo_accuracy: float | None
    median_steps: float
    median_ms: float
    answers: int
    tokens_per_answer: float = 0.0
    tokens_per_correct: float | None = None   # every token spent, over the answers that were right


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def summarize(report: EvalSetReport) -> list[ModeSummary]:
    rows = []
    for mode in dict.fromkeys(result.mode for result in report.results):
        mine = [r for r in report.results if r.mode == mode and r.kind != "stress"]   # the stress tier: its own table
        shelf = [r for r in mine if r.kind == "shelf"]
        repair = [r for r in mine if r.kind == "repair"]
        errors = [r.arrow_error for r in repair if r.arrow_error is not None]
        rows.append(ModeSummary(
            mode, _share([r.correct for r in shelf]), _share([r.correct for r in shelf if r.hard]),
            _share([r.correct for r in repair]), statistics.median(errors) if errors else None,
            _share([r.correct for r in mine if r.kind == "photo"]),
            statistics.median(r.steps for r in mine), statistics.median(r.ms for r in mine), len(mine),
            sum(r.tokens for r in mine) / len(mine),
            sum(r.tokens for r in mine) / right if (right := sum(r.correct for r in mine)) else None))
    return rows


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def format_tables(report: EvalSetReport) -> str:
    """The per-mode table, and the real photos by language and kind when there are any, in Markdown."""
    scores = report.photo_scores()
    return format_table(report) + ("\n\nReal photos by language / kind:\n\n" + format_photo_table(scores)
                                   if scores else "")


def format_table(report: EvalSetReport) -> str:
    """The per-mode table, in Markdown."""
    lines = ["| mode | shelf top-1 | shelf top-1, hard | repair arrows within 5% | median arrow error | "
             "real photos | median steps | median ms per answer | answers | model tokens per answer | "
             "model tokens per correct answer |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in summarize(report):
        error = "—" if row.repair_median_error is None else f"{row.repair_median_error:.2%} of diagonal"
        lines.append(f"| {row.mode} | {_pct(row.shelf_top1)} | {_pct(row.shelf_hard_top1)} | "
                     f"{_pct(row.repair_within)} | {error} | {_pct(row.photo_accuracy)} | {row.median_steps:g} | "
                     f"{row.median_ms:.0f} | {row.answers} | {row.tokens_per_answer:.0f} | "
                     f"{'—' if row.tokens_per_correct is None else f'{row.tokens_per_correct:.0f}'} |")
    return "\n".join(lines)


def format_case(result: CaseResult) -> str:
    mark = "ok" if result.correct else "WRONG"
    extra = f" arrow {result.arrow_error:.2%}" if result.arrow_error is not None else ""
    answer = result.answer.replace("\n", " / ")[:70]
    extra += f" {result.tokens} tokens" if result.tokens else ""
    return (f"{result.mode:<13} {result.name:<40} {mark:<5} {result.ms:>7.0f} ms {result.steps:>2} steps{extra}  "
            f"{answer}")


SECTION_START = "<!-- eval:start -->"
SECTION_END = "<!-- eval:end -->"
# With a model reasoner the table goes in a section of its own, beside the embedded engine's.
MODEL_SECTION_START = "<!-- eval-model:start -->"
MODEL_SECTION_END = "<!-- eval-model:end -->"
# The stress tier's table (``tools/stress.py``) has a section of its own too.
STRESS_SECTION_START = "<!-- eval-stress:start -->"
STRESS_SECTION_END = "<!-- eval-stress:end -->"
_SECTIONS = ((SECTION_START, SECTION_END), (MODEL_SECTION_START, MODEL_SECTION_END),
             (STRESS_SECTION_START, STRESS_SECTION_END))


def _wrong_cases(report: EvalSetReport) -> list[str]:
    lines = []
    for mode in dict.fromkeys(result.mode for result in report.results):
        wrong = [r.name for r in report.results if r.mode == mode and not r.correct and r.kind != "stress"]
        if wrong:
            lines.append(f"- {mode}: {', '.join(wrong)}")
    return lines or ["- none"]


def performance_section(report: EvalSetReport, command: str, model: str = "") -> str:
    """The evaluation section; ``model`` (the model reasoner's name) makes it the model section."""
    hard = sum(case.hard for case in shelf_cases(report.shelf_cases))
    full = report.shelf_cases >= DEFAULT_SHELF_CASES and report.repair_cases >= DEFAULT_REPAIR_CASES
    scope = ("This is the full set." if full else f"The full set is {DEFAULT_SHELF_CASES} shelf and "
             f"{DEFAULT_REPAIR_CASES} repair scenes (`eyeline eval` without a subset flag); the numbers below are "
             "for the subset named here.")
    start, end = (MODEL_SECTION_START, MODEL_SECTION_END) if model else (SECTION_START, SECTION_END)
    title = (f"## Accuracy, latency and model tokens per mode (model reasoner: {model})" if model
             else "## Accuracy and cost per mode (evaluation set)")
    return "\n".join([
        start,
        title,
        "",
        f"Produced by `{command}`: {report.shelf_cases} rendered shelf scenes ({hard} hard), "
        f"{report.repair_cases} rendered espresso-machine scenes and {report.photo_cases} real photos, every "
        f"answer over loopback gRPC through the edge runtime, real OCR. {scope}",
        "",
        format_tables(report),
        "",
        "Cases answered wrongly:",
        "",
        *_wrong_cases(report),
        "",
        "Shelf top-1: the first product the answer names is the one with the most protein per serving among those "
        "fully in view. Repair: the arrow's head within 5% of the image diagonal of the true centre of the step's "
        "component. Real photos: asked \"how much protein is in this?\"; right when the answer's facts state every "
        "protein figure the manifest records, on its basis (per 100 g, per serving, per package), within 0.1 g or 2%. "
        "Steps: trace steps per answer. Milliseconds: from asking to the final answer, on this machine.",
        *(_model_notes(model) if model else []),
        end,
    ])


def _model_notes(model: str) -> list[str]:
    notes = [_MODEL_NOTE]
    if model.startswith("eyeline"):
        notes += ["", f"The model here is Eyeline's own embedded engine served over `/v1` by another `eyeline cloud` "
                  f"(model `{model}`, the key an `eyeline token`), which estimates its token counts (four "
                  "characters a token, an image 85 + 170 per 512-pixel tile): the cost of the model path (keyframe "
                  "and OCR evidence in the prompt, structured replies, grounding, Contemplating's sub-agents and "
                  "synthesis) at the embedded engine's accuracy, not a vision model's."]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    notes += ["", f"Machine: {platform.machine()}, {os.cpu_count()} cores; load average {load:.1f} when the section "
              "was written (other work on the machine inflates the milliseconds)."]
    return notes


_MODEL_NOTE = ("Model tokens: prompt plus completion tokens of every model call an answer cost, interim passes "
               "included, as the endpoint counted them (0 when the embedded answer was confident and the model was "
               "not asked); per correct answer: all tokens spent over the answers that were right.")


def kept_section(path: Path) -> str:
    """The evaluation sections ``path`` already holds (each with a blank line before it), or ""."""
    text = path.read_text() if path.is_file() else ""
    return "".join(marked(text, start, end) for start, end in _SECTIONS)


def update_performance(path: Path, section: str) -> None:
    """Replace the evaluation section of ``path`` that ``section`` is (or append it), leaving every other
    section as it is."""
    text = path.read_text() if path.is_file() else "# Performance\n"
    start_marker = section.split("\n", 1)[0]
    path.write_text(replace_marked(text, start_marker, dict(_SECTIONS).get(start_marker, SECTION_END), section))
