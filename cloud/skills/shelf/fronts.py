"""Packages that face the wearer with their fronts, not their nutrition panels: each known from its front's
words through the catalog (``identity.match``, the matcher "what is this?" uses), its figures the catalog's.

Only a package region with no reading of its own is looked at this way, so a panel read always wins over the
catalog; a front that names no product clearly is left out rather than guessed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from eyeline.cloud.knowledge.schema import CatalogProduct
from eyeline.cloud.model import NormBox
from eyeline.cloud.perception.ocr import TextLine
from eyeline.cloud.skills.identity.match import identify
from eyeline.cloud.skills.shelf.ranking import ProductReading, Source


def front_readings(lines: Sequence[TextLine], packages: Sequence[NormBox], readings: Sequence[ProductReading],
                   catalog: Sequence[CatalogProduct]) -> list[ProductReading]:
    """A catalog reading for each product a package front names, among the packages no panel reading lies on
    and the text read with no amount; one per product (a package split into several regions is one product,
    over their union)."""
    if not catalog:
        return []
    found: dict[str, ProductReading] = {}
    unknown = [reading.region for reading in readings if reading.source is Source.UNKNOWN]
    for box in [*packages, *unknown]:
        if any(_holds(box, reading.region) for reading in readings if reading.source is not Source.UNKNOWN):
            continue
        # The words on the region, else those of its column: a front's words stand above one another, and
        # segmentation may cut one package into several regions.
        identified = identify([line.text for line in lines if _holds(box, line.box)], (), catalog) or identify(
            [line.text for line in lines if box.x0 <= (line.box.x0 + line.box.x1) / 2 <= box.x1], (), catalog)
        if identified is None:
            continue
        product = identified.product
        reading = ProductReading(product.display_name, box, product.per_serving_g, product.per_100g, Source.CATALOG,
                                 identified.confidence, f"catalog entry {product.id!r}, identified from the front's "
                                 f"words {', '.join(identified.evidence)}", package=box)
        if product.id in found:
            kept = found[product.id]
            union = _union(kept.region, box)
            reading = replace(kept if kept.confidence >= reading.confidence else reading, region=union, package=union)
        found[product.id] = reading
    return list(found.values())


def _holds(box: NormBox, inner: NormBox) -> bool:
    x, y = (inner.x0 + inner.x1) / 2, (inner.y0 + inner.y1) / 2
    return box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1


def _union(a: NormBox, b: NormBox) -> NormBox:
    return NormBox(min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1))
