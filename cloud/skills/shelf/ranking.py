"""From grouped package text to readings, a ranking on one stated basis, the answer and its overlay.

A reading holds protein per serving and per 100 g where each is printed, or derivable with a read serving
size, or stated by the catalog the package's visible name matches. The ranking picks one basis for every
product (per serving when all have it, else per 100 g when all have that) and says so in the answer;
a package it cannot place on that basis is named as not compared, never guessed.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from eyeline.cloud.model import BadgeItem, BoxItem, NormBox, NoticeItem, OverlayItem, PanelItem, PanelRow, Point
from eyeline.cloud.perception.segmentation import package_of
from eyeline.cloud.skills.shelf.grounding import CatalogMatcher

NOTICE_TEXT = "Nutrition information only - not medical advice."
# Package text this close to the frame's border (as a share of the frame) means the package runs out of
# view: its name may be cut short and part of its panel unseen, so it is read but not ranked.
FRAME_EDGE_MARGIN = 0.01


class Basis(enum.Enum):
    PER_SERVING = "per serving"
    PER_100G = "per 100 g"


class Source(enum.Enum):
    LABEL = "label"          # read off the package's own panel
    CATALOG = "catalog"      # the panel is not readable; the visible name matched the catalog
    UNKNOWN = "unknown"      # neither: nothing is claimed


@dataclass(frozen=True, slots=True)
class ProductReading:
    """One package: its name, where it is, and its protein figures (grams; None where not known)."""

    name: str
    region: NormBox
    per_serving_g: float | None
    per_100g: float | None
    source: Source = Source.LABEL
    confidence: float = 1.0
    note: str = ""
    # The whole package, where segmentation found it; ``region`` is only the text read on it.
    package: NormBox | None = None
    # The text the reading rests on (its name and protein row): the package is cut off only if this is.
    readable: NormBox | None = None

    @property
    def display_name(self) -> str:
        """The name read, or where the package stands when no name could be read ("the package on the left")."""
        return self.name or f"the unnamed package {_position(self.package or self.region)}"

    @property
    def badge_center(self) -> Point:
        return (self.package or self.region).center

    @property
    def cut_off(self) -> bool:
        """Whether what the reading rests on runs out of view; a panel's other rows at the edge do not matter."""
        return at_frame_edge(self.readable or self.region)

    @property
    def protein_g(self) -> float:
        """Per serving where known, else per 100 g; ranking uses :meth:`value` with an explicit basis."""
        return next(value for value in (self.per_serving_g, self.per_100g, 0.0) if value is not None)

    def value(self, basis: Basis) -> float | None:
        return self.per_serving_g if basis is Basis.PER_SERVING else self.per_100g


def _position(box: NormBox) -> str:
    x = box.center[0]
    return "on the left" if x < 1 / 3 else "in the middle" if x < 2 / 3 else "on the right"


def at_frame_edge(box: NormBox, margin: float = FRAME_EDGE_MARGIN) -> bool:
    return box.x0 < margin or box.y0 < margin or box.x1 > 1.0 - margin or box.y1 > 1.0 - margin


def label_reading(name: str, region: NormBox, grams: float, basis: Basis, serving_g: float | None,
                  confidence: float) -> ProductReading:
    """A reading from a panel: the stated figure, and the other basis where the serving size allows."""
    if basis is Basis.PER_100G:
        per_serving = round(grams * serving_g / 100.0, 1) if serving_g else None
        note = f"{grams:g} g per 100 g" + (f" with a {serving_g:g} g serving" if serving_g else "")
        return ProductReading(name, region, per_serving, grams, Source.LABEL, confidence, note)
    per_100g = round(grams * 100.0 / serving_g, 1) if serving_g else None
    return ProductReading(name, region, grams, per_100g, Source.LABEL, confidence)


def catalog_reading(name: str, region: NormBox, matcher: CatalogMatcher) -> ProductReading:
    """A package whose panel cannot be read: the catalog's figures if its name matches, else unknown."""
    match = matcher.match(name) if matcher else None
    if match is None:
        return ProductReading(name, region, None, None, Source.UNKNOWN, 0.0,
                              "no readable panel and no catalog entry")
    product = match.product
    return ProductReading(product.display_name, region, product.per_serving_g, product.per_100g, Source.CATALOG,
                          round(match.score, 3), f"catalog entry {product.id!r}, matched on {name!r}")


# ------------------------------------------------------------------ ranking


@dataclass(frozen=True, slots=True)
class Ranking:
    basis: Basis
    ranked: tuple[ProductReading, ...]
    not_compared: tuple[ProductReading, ...] = ()   # known products without a figure on the chosen basis
    unknown: tuple[ProductReading, ...] = ()
    cut_off: int = 0


def rank_by_protein(readings: Iterable[ProductReading]) -> Ranking:
    """Most protein first on one basis; equal amounts keep their left-to-right order."""
    readings = sorted(readings, key=lambda r: (r.region.x0, r.region.y0))
    cut_off = sum(reading.cut_off for reading in readings)
    known = [r for r in readings if not r.cut_off and r.source is not Source.UNKNOWN]
    unknown = tuple(r for r in readings if not r.cut_off and r.source is Source.UNKNOWN)
    basis = Basis.PER_SERVING
    if known and any(r.per_serving_g is None for r in known) and all(r.per_100g is not None for r in known):
        basis = Basis.PER_100G
    ranked = sorted((r for r in known if r.value(basis) is not None),
                    key=lambda r: (-(r.value(basis) or 0.0), r.region.x0, r.region.y0))
    not_compared = tuple(r for r in known if r.value(basis) is None)
    return Ranking(basis, tuple(ranked), not_compared, unknown, cut_off)


# ------------------------------------------------------------------ the answer


def answer_text(ranking: Ranking) -> str:
    """The spoken answer, with the basis of the comparison and where each figure came from."""
    if not ranking.ranked:
        return _no_ranking_text(ranking)
    best, basis = ranking.ranked[0], ranking.basis.value
    amount = ranking.ranked[0].value(ranking.basis)
    if len(ranking.ranked) == 1 and not ranking.cut_off:
        head = (f"{best.display_name} has {amount:g} g of protein {basis}; it is the only product whose protein "
                "I could establish.")
    else:
        count = f"of {len(ranking.ranked)} product{'s' if len(ranking.ranked) != 1 else ''} read"
        if ranking.cut_off:
            count += f"; {ranking.cut_off} more at the edge of view not ranked"
        tied = [r for r in ranking.ranked if r.value(ranking.basis) == amount]
        names = " and ".join(r.display_name for r in tied)
        verb = "tie for the most protein:" if len(tied) > 1 else "has the most protein:"
        head = f"{names} {verb} {amount:g} g {basis} ({count})."
    return " ".join([head, *_basis_notes(ranking), "Not medical advice."])


def _basis_notes(ranking: Ranking) -> list[str]:
    notes: list[str] = []
    if ranking.basis is Basis.PER_100G:
        notes.append("Compared per 100 g, because not every serving size could be read.")
    doubtful = [r for r in ranking.ranked if "doubtful" in r.note]
    if doubtful:
        notes.append("Check the label of " + "; ".join(f"{r.display_name} ({r.note})" for r in doubtful)
                     + ": its figures do not add up.")
    converted = [r for r in ranking.ranked if r.source is Source.LABEL and r.note and "doubtful" not in r.note]
    if converted and ranking.basis is Basis.PER_SERVING:
        notes.append("Per serving worked out from " + "; ".join(f"{r.display_name}'s {r.note}" for r in converted)
                     + ".")
    from_catalog = [r.display_name for r in ranking.ranked if r.source is Source.CATALOG]
    if from_catalog:
        notes.append(f"From the product catalog, as the label is not readable: {', '.join(from_catalog)}.")
    if ranking.not_compared:
        names = ", ".join(r.display_name for r in ranking.not_compared)
        notes.append(f"Not compared, no figure {ranking.basis.value}: {names}.")
    if ranking.unknown:
        names = ", ".join(r.display_name for r in ranking.unknown)
        notes.append(f"Unknown (no readable panel, not in the catalog): {names}.")
    return notes


def _no_ranking_text(ranking: Ranking) -> str:
    if ranking.unknown:
        names = ", ".join(r.display_name for r in ranking.unknown)
        return (f"I could not read a protein amount for {names}, and the catalog has no entry, so it is unknown. "
                "Turn the packages so their nutrition panels face the camera, and ask again.")
    if ranking.cut_off:
        return ("The only protein amounts I could read are on packages cut off at the edge of view; turn "
                "toward them so they are fully in view, and ask again.")
    return ("I could not read any nutrition panel with a protein amount in view, so I cannot rank these "
            "products. Try holding the packages closer, panels facing the camera.")


def overlay_items(ranking: Ranking) -> tuple[OverlayItem, ...]:
    """Badges, boxes, the ranked panel and the notice; colours are left to the edge's renderer."""
    if not ranking.ranked:
        return ()
    box_ids = _box_ids(ranking.ranked)
    items: list[OverlayItem] = []
    for rank, reading in enumerate(ranking.ranked, start=1):
        value = reading.value(ranking.basis) or 0.0
        items.append(BadgeItem(id=f"rank-{rank}", center=reading.badge_center, text=str(rank)))
        items.append(BoxItem(id=box_ids[rank - 1], box=reading.package or reading.region, caption=f"{value:g} g"))
    rows = [PanelRow(rank=str(rank), text=_row_name(reading), value=f"{reading.value(ranking.basis) or 0.0:g} g")
            for rank, reading in enumerate(ranking.ranked, start=1)]
    rows += [PanelRow(rank="?", text=r.display_name, value="unknown") for r in (*ranking.not_compared,
                                                                             *ranking.unknown)]
    items.append(PanelItem(id="ranking", title=f"Protein {ranking.basis.value}", rows=tuple(rows)))
    items.append(NoticeItem(id="notice", text=NOTICE_TEXT))
    return tuple(items)


def _row_name(reading: ProductReading) -> str:
    return reading.display_name + (" (catalog)" if reading.source is Source.CATALOG else "")


def _box_ids(ranking: Sequence[ProductReading]) -> list[str]:
    """Ids from the product's read name, so a product keeps its box id when the ranking changes."""
    ids: list[str] = []
    for reading in ranking:
        slug = re.sub(r"[^a-z0-9]+", "-", reading.name.lower()).strip("-") or "unnamed"
        candidate, suffix = f"product-{slug}", 2
        while candidate in ids:
            candidate, suffix = f"product-{slug}-{suffix}", suffix + 1
        ids.append(candidate)
    return ids


def on_packages(readings: Sequence[ProductReading], packages: Sequence[NormBox]) -> list[ProductReading]:
    """Each reading placed on the package region that holds the centre of its text, if one does."""
    placed: list[ProductReading] = []
    for reading in readings:
        package = package_of(reading.region, packages)
        placed.append(replace(reading, package=package) if package is not None else reading)
    return placed
