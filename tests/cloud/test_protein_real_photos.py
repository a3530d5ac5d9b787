"""The protein skill on real nutrition-label photographs (../shared/data, ground truth in its MANIFEST)."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from eyeline.cloud.model import BadgeItem, Mode, PanelItem
from eyeline.cloud.perception.ocr import OcrPool
from eyeline.cloud.skills.base import SkillContext
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill

pytestmark = pytest.mark.slow

# file -> protein grams per serving, as the MANIFEST records them (read by eye from the label)
US_PANELS = {
    "nutrition_labels/off_4903015130266_2.jpg": 3.1,   # YBC Langue de Chat, 1 bag
    "nutrition_labels/off_0011110702081_2.jpg": 1.0,   # Kroger condiment, 1 tbsp
}


@pytest.mark.parametrize(("name", "grams"), US_PANELS.items())
async def test_a_real_us_panel_is_read_without_inventing_a_name(
        shared_data: Path, real_ocr: OcrPool, name: str, grams: float) -> None:
    image = cv2.imread(str(shared_data / name))
    result = await ProteinRankingSkill().answer(
        SkillContext("which of these has the most protein?", Mode.INSTANT, image, 1, real_ocr))
    panel = next(item for item in result.items if isinstance(item, PanelItem))
    assert [(row.text.startswith("the unnamed package"), row.value) for row in panel.rows] == [(True, f"{grams:g} g")]
    assert f"{grams:g} g of protein per serving" in result.answer
    assert "not medical advice" in result.answer.lower()
    badge = next(item for item in result.items if isinstance(item, BadgeItem))
    assert 0.0 < badge.center[0] < 1.0 and 0.0 < badge.center[1] < 1.0


async def test_a_photo_with_no_readable_protein_amount_is_not_guessed(shared_data: Path, real_ocr: OcrPool) -> None:
    image = cv2.imread(str(shared_data / "package_fronts/off_4099100116205_4.400.jpg"))  # front: no protein shown
    result = await ProteinRankingSkill().answer(
        SkillContext("which of these has the most protein?", Mode.INSTANT, image, 1, real_ocr))
    assert not any(isinstance(item, BadgeItem) for item in result.items)
    assert "could not read" in result.answer
