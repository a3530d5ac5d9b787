"""The shipped espresso demo kit is what ``eyeline.tools.demo_kit`` writes, and it loads and validates."""

from __future__ import annotations

import json

import cv2
import numpy as np

from eyeline.cloud.knowledge import demo_pack
from eyeline.devices.espresso import MACHINE_NAME, make_espresso_scene, normalized_regions
from eyeline.tools.demo_kit import DEMO_FOLDER, KIT_FILE, REFERENCE_FILE, kit_document, reference_image


def test_the_shipped_kit_file_matches_the_generator() -> None:
    shipped = json.loads((DEMO_FOLDER / KIT_FILE).read_text())
    assert shipped == json.loads(json.dumps(kit_document())), "run python -m eyeline.tools.demo_kit"


def test_the_shipped_reference_image_matches_the_renderer() -> None:
    shipped = cv2.imread(str(DEMO_FOLDER / REFERENCE_FILE))
    assert shipped is not None and shipped.shape == reference_image().shape
    assert float(np.abs(shipped.astype(np.int16) - reference_image()).mean()) < 4.0   # JPEG loss only


def test_the_demo_pack_holds_the_kit_with_every_part_the_issue_names() -> None:
    kit = next(kit for kit in demo_pack().kits if kit.id == "eyeline-barista-clean")
    assert kit.machine == MACHINE_NAME
    names = " ".join(component.name for component in kit.components)
    for part in ("group head", "portafilter", "steam wand", "water tank", "drip tray", "screw"):
        assert part in names
    assert {step.target for step in kit.steps} <= {component.id for component in kit.components}
    assert kit.safety and any(step.done_cue for step in kit.steps)
    regions = normalized_regions()
    for component in kit.components:
        assert (component.region.x0, component.region.y0, component.region.x1, component.region.y1) == \
            regions[component.id]
    assert make_espresso_scene().components  # the renderer the regions come from
