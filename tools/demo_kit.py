"""Write the espresso demo kit of the shipped knowledge pack from the synthetic machine that defines it.

``python -m eyeline.tools.demo_kit`` rewrites ``cloud/knowledge/demo/espresso_kit.json`` and its reference
image; a test fails when the shipped files drift from what this writes. The kit's component regions are the
synthetic machine's own boxes, so the kit and the ground truth of every rendered frame agree exactly.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from eyeline.devices.base import Image
from eyeline.devices.espresso import (
    BRAND_TEXT,
    COMPONENTS,
    MACHINE_NAME,
    MODEL_TEXT,
    make_espresso_scene,
    normalized_regions,
)

DEMO_FOLDER = Path(__file__).resolve().parent.parent / "cloud" / "knowledge" / "demo"
KIT_FILE = "espresso_kit.json"
REFERENCE_FILE = "espresso_reference.jpg"
REFERENCE_WIDTH = 640      # small enough to ship, large enough to register against
_JPEG_QUALITY = 90

STEPS: tuple[dict[str, str], ...] = (
    {"instruction": "Remove the portafilter: turn its handle to the left and pull it down.",
     "target": "portafilter", "warning": "The portafilter may be hot: hold it by the handle."},
    {"instruction": "Wipe the shower screen and gasket of the group head with a damp cloth.",
     "target": "group_head", "warning": "Switch the machine off and let the group head cool first."},
    {"instruction": "Purge the steam wand for two seconds into a cloth, then wipe it clean.",
     "target": "steam_wand", "warning": "Steam scalds: keep your hand away from the tip."},
    {"instruction": "Lift out the water tank, rinse it and refill it to MAX.", "target": "water_tank",
     "done_cue": "TANK OK"},
    {"instruction": "Pull out the drip tray, empty and rinse it, then slide it back.", "target": "drip_tray",
     "done_cue": "TRAY OK"},
    {"instruction": "Check that the left front-panel screw is tight.", "target": "screw_left",
     "warning": "Unplug the machine before touching any panel screw."},
    {"instruction": "Check that the right front-panel screw is tight.", "target": "screw_right"},
)
SAFETY = ("Unplug the machine before opening any panel or turning a screw.",
          "Hot water and steam can scald: let the machine cool down before cleaning it.")


def kit_document() -> dict[str, Any]:
    regions = normalized_regions()
    return {
        "kind": "repair_kit",
        "version": 1,
        "id": "eyeline-barista-clean",
        "machine": MACHINE_NAME,
        "description": "Weekly cleaning of the synthetic demo espresso machine, rendered by eyeline.devices.espresso.",
        "text_cues": [BRAND_TEXT, MODEL_TEXT],
        "reference_images": [REFERENCE_FILE],
        "components": [{"id": c.id, "name": c.name, "region": list(regions[c.id])} for c in COMPONENTS],
        "steps": list(STEPS),
        "safety": list(SAFETY),
    }


def reference_image() -> Image:
    """The machine at rest, head on, scaled to ``REFERENCE_WIDTH``."""
    canvas = make_espresso_scene().canvas
    height = round(canvas.shape[0] * REFERENCE_WIDTH / canvas.shape[1])
    return np.asarray(cv2.resize(canvas, (REFERENCE_WIDTH, height), interpolation=cv2.INTER_AREA), dtype=np.uint8)


def write_kit(folder: Path = DEMO_FOLDER) -> tuple[Path, Path]:
    kit_path, image_path = folder / KIT_FILE, folder / REFERENCE_FILE
    kit_path.write_text(json.dumps(kit_document(), indent=2) + "\n")
    if not cv2.imwrite(str(image_path), reference_image(), [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY]):
        raise OSError(f"cannot write {image_path}")
    return kit_path, image_path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=DEMO_FOLDER)
    for path in write_kit(parser.parse_args().folder):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
