"""The stress tier of ``eyeline eval``: rendered shelves through what a real camera does to them.

Each case is a clean rendered shelf whose products are all fully in view, put through one degradation of
``devices.degrade`` (small text, defocus or motion blur, a tilted head, glare, a hand in front) at a severity
from 1 to 3, seeded by the case. It goes the live way, as every evaluation case does (edge runtime, loopback
gRPC, real OCR), and is scored as a shelf case: the first product the answer names must be the one with the
most protein. The table gives each mode's accuracy per degradation, so a deeper mode's gain is seen where it
comes from.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from eyeline.devices.base import Image
from eyeline.devices.degrade import SEVERITIES, Degradation, degrade
from eyeline.devices.synthetic import FULLY_VISIBLE, ShelfTruth, make_shelf_scene, render_shelf_frame
from eyeline.tools.ask import StillSource, ask_over
from eyeline.tools.evalset import (
    SHELF_QUESTION,
    STRESS_SECTION_END,
    STRESS_SECTION_START,
    CaseResult,
    EvalSetReport,
    ExtraTier,
    model_tokens,
    shelf_cases,
    shelf_correct,
)

DEFAULT_STRESS_SCENES = 4          # scenes per degradation and severity: 5 x 3 x 4 = 60 cases per mode
_SCENE_POOL = 80                   # the shelf scenes the stress scenes are drawn from, in order



@dataclass(frozen=True, slots=True)
class StressCase:
    index: int                     # the evaluation set's shelf case the scene is
    degradation: Degradation
    severity: int

    @property
    def name(self) -> str:
        return f"stress-{self.degradation.value}{self.severity}-{self.index:03d}"


def clean_scenes(count: int) -> list[int]:
    """The first ``count`` shelf cases with every panel printed and every product fully in view when rendered
    clean: a degradation is then the only difficulty, and no package's cut-off edge can move inside the frame."""
    chosen: list[int] = []
    for case in shelf_cases(_SCENE_POOL):
        if len(chosen) == count:
            break
        if case.hard:
            continue
        _, truth = render_shelf_frame(make_shelf_scene(case.seed, case.n_products, case.layouts), case.t_s)
        if all(product.visible_fraction >= FULLY_VISIBLE for product in truth.products):
            chosen.append(case.index)
    return chosen


def stress_cases(scenes: int = DEFAULT_STRESS_SCENES) -> list[StressCase]:
    indices = clean_scenes(scenes)
    return [StressCase(index, kind, severity) for kind in Degradation for severity in SEVERITIES
            for index in indices]


def render_stress_case(case: StressCase) -> tuple[Image, ShelfTruth]:
    base = shelf_cases(case.index + 1)[case.index]
    image, truth = render_shelf_frame(make_shelf_scene(base.seed, base.n_products, base.layouts), base.t_s)
    return degrade(image, case.degradation, case.severity, base.seed), truth


def stress_tier(scenes: int = DEFAULT_STRESS_SCENES) -> ExtraTier:
    """The stress tier as ``run_evalset`` runs a tier: every stress case, for one mode at a time."""
    cases = stress_cases(scenes)

    def jobs(address: str, token: str, mode: str) -> list[tuple[str, str, Callable[[], Coroutine[Any, Any,
                                                                                                  CaseResult]]]]:
        return [("stress", case.name, functools.partial(stress_scene, address, token, case, mode)) for case in cases]

    return jobs


async def stress_scene(address: str, token: str, case: StressCase, mode: str) -> CaseResult:
    image, truth = await asyncio.to_thread(render_stress_case, case)
    result = await ask_over(address, token, StillSource(image, truth), SHELF_QUESTION, mode=mode,
                            source_name=case.name, size=(image.shape[1], image.shape[0]))
    return CaseResult("stress", case.name, mode, True, shelf_correct(result, truth), len(result.steps),
                      result.elapsed_ms, result.answer.text, tokens=model_tokens(result))


# ------------------------------------------------------------------ reporting


def _degradation(result: CaseResult) -> str:
    return result.name.split("-")[1].rstrip("0123456789")


def _pct(flags: list[bool]) -> str:
    return f"{sum(flags) / len(flags):.0%}" if flags else "—"


def format_stress_table(report: EvalSetReport) -> str:
    """Accuracy per mode (rows) and per degradation (columns), with every stress case together last."""
    stress = [r for r in report.results if r.kind == "stress"]
    kinds = [kind.value for kind in Degradation]
    lines = ["| mode | " + " | ".join(kinds) + " | all stress cases | median ms per answer |",
             "|---|" + "---|" * (len(kinds) + 2)]
    for mode in dict.fromkeys(r.mode for r in stress):
        mine = [r for r in stress if r.mode == mode]
        cells = [_pct([r.correct for r in mine if _degradation(r) == kind]) for kind in kinds]
        median_ms = sorted(r.ms for r in mine)[len(mine) // 2]
        lines.append(f"| {mode} | " + " | ".join(cells) + f" | {_pct([r.correct for r in mine])} "
                     f"({sum(r.correct for r in mine)}/{len(mine)}) | {median_ms:.0f} |")
    return "\n".join(lines)


def stress_section(report: EvalSetReport, command: str, scenes: int) -> str:
    stress = [r for r in report.results if r.kind == "stress"]
    wrong = {mode: [r.name for r in stress if r.mode == mode and not r.correct]
             for mode in dict.fromkeys(r.mode for r in stress)}
    return "\n".join([
        STRESS_SECTION_START,
        "## Stress tier: degraded rendered shelves per mode",
        "",
        f"Produced by `{command}`: {scenes} clean rendered shelf scenes (every product fully in view, every panel "
        f"printed) x {len(Degradation)} degradations x {len(SEVERITIES)} severities, seeded "
        "(`devices/degrade.py`): small (the frame shrunk to 32/26/22% in the middle of the view), blur (defocus "
        "sigma 2.2/2.8/3.4 px or motion 11/15/19 px, by the seed), rotated (the head tilted 10/16/22 degrees), "
        "glare (a soft reflection of peak strength 0.86/0.91/0.95), occluded (a hand 12/16/20% of the frame "
        "wide reaching in from below). Every answer over loopback gRPC through the edge runtime, real OCR; "
        "scored as a shelf case (the first product named is the one with the most protein). Thinking and "
        "Contemplating differ from Instant only by the passes they spend (`cloud/skills/shelf/passes.py`): "
        "the close re-read at 2x, fused views, and the restored view (`cloud/perception/restore.py`: turned "
        "upright by the text lines' own angle, enlarged when the text is small, sharpened when soft, contrast "
        "restored when washed out). A ranking whose first place has no name read is not confident, so the "
        "deeper modes spend their passes on it; Instant's answer is the same either way.",
        "",
        format_stress_table(report),
        "",
        "Cases answered wrongly:",
        "",
        *([f"- {mode}: {', '.join(names)}" for mode, names in wrong.items() if names] or ["- none"]),
        "",
        "Milliseconds: from asking to the final answer, on this machine; other work on it inflates them, and "
        "modes ran one after another, so their medians saw different loads.",
        STRESS_SECTION_END,
    ])
