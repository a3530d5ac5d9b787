"""Ranking packages that face the wearer with their fronts, not their panels: each known from its front's words
through the grocery catalog, the figures said to come from the catalog. Real fronts (GroceryStoreDataset
photos in the shared data) are composed side by side at run time; nothing is copied into the repository."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from eyeline.cloud.knowledge import demo_pack, grocery_pack
from eyeline.cloud.knowledge.schema import CatalogProduct
from eyeline.cloud.model import BadgeItem, Image, Mode, NormBox, StepKind
from eyeline.cloud.perception.ocr import OcrPool, TextLine
from eyeline.cloud.skills.base import SkillContext
from eyeline.cloud.skills.shelf.fronts import front_readings
from eyeline.cloud.skills.shelf.ranking import ProductReading, Source
from eyeline.cloud.skills.shelf.skill import ProteinRankingSkill

FRONTS = ("gsd_Oatly-Natural-Oatghurt_009.jpg", "gsd_Arla-Lactose-Medium-Fat-Milk_009.jpg",
          "gsd_Alpro-Vanilla-Soyghurt_009.jpg")
CATALOG = (*demo_pack().products, *grocery_pack().products)


def composite(folder: Path, names: tuple[str, ...], size: tuple[int, int] = (1740, 560), margin: int = 20,
              gap: int = 24) -> Image:
    """The fronts side by side, each as large as fits its slot, on a plain frame of ``size``."""
    width, height = size
    frame = np.full((height, width, 3), (200, 205, 210), np.uint8)
    slot = (width - 2 * margin - gap * (len(names) - 1)) // len(names)
    for index, name in enumerate(names):
        photo = cv2.imread(str(folder / name))
        scale = min(slot / photo.shape[1], (height - 2 * margin) / photo.shape[0])
        photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        x = margin + index * (slot + gap) + (slot - photo.shape[1]) // 2
        y = (height - photo.shape[0]) // 2
        frame[y:y + photo.shape[0], x:x + photo.shape[1]] = photo
    return frame


def shown(name: str) -> CatalogProduct:
    """The catalog product a GroceryStoreDataset photo shows: its class name is the product's alias."""
    alias = name.removeprefix("gsd_").rsplit("_", 1)[0].replace("-", " ")
    return next(product for product in CATALOG if alias in product.aliases)


async def test_a_shelf_of_fronts_is_ranked_from_the_catalog(shared_data: Path, real_ocr: OcrPool) -> None:
    image = composite(shared_data / "shelf_products", FRONTS)
    result = await ProteinRankingSkill(CATALOG).answer(
        SkillContext("which of these has the most protein?", Mode.INSTANT, image, 1, real_ocr))
    best = max((shown(name) for name in FRONTS), key=lambda product: product.per_100g or 0.0)
    assert result.answer.startswith(f"{best.display_name} has the most protein: {best.per_100g:g} g per 100 g "
                                    "(of 2 products read)")
    assert "From the product catalog" in result.answer
    grounded = [s for s in result.steps if s.kind is StepKind.GROUND and "identified from the front" in s.text]
    assert any(s.text.startswith(best.display_name) and "from the catalog" in s.text for s in grounded)
    badge = next(item for item in result.items if isinstance(item, BadgeItem) and item.text == "1")
    assert badge.center[0] > 2 / 3            # on the third front, where the best product stands


def line(text: str, x0: float, y0: float, x1: float, y1: float) -> TextLine:
    return TextLine(text, 0.95, NormBox(x0, y0, x1, y1), ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def test_a_panel_read_wins_and_a_front_naming_nothing_is_left_out() -> None:
    oatly = [line("HAVRE", 0.1, 0.3, 0.2, 0.35), line("GURT", 0.1, 0.36, 0.2, 0.4),
             line("NATURELL", 0.1, 0.5, 0.25, 0.55)]
    noise = [line("SALE", 0.6, 0.3, 0.7, 0.35), line("18,90", 0.6, 0.4, 0.7, 0.45)]
    packages = [NormBox(0.05, 0.2, 0.3, 0.8), NormBox(0.55, 0.2, 0.8, 0.8)]
    found = front_readings([*oatly, *noise], packages, [], CATALOG)
    assert [(r.name, r.source, r.per_100g) for r in found] == [("Oatly Havregurt Naturell", Source.CATALOG, 1.2)]
    panel = ProductReading("Oat thing", NormBox(0.1, 0.3, 0.2, 0.4), 3.0, None)   # its panel was read
    assert front_readings([*oatly, *noise], packages, [panel], CATALOG) == []
