"""The values a knowledge pack holds: a product catalog and repair kits.

A pack is a folder of plain data files (JSON or TOML), each naming its ``kind``:

``catalog``
    ``products``: a list of ``{id, brand, name, aliases?, serving_g?, protein_per_serving_g?,
    protein_per_100g?, barcode?, package?, nutrients_per_100g?}``; at least one protein figure, a
    ``nutrients_per_100g`` object (keys from ``NUTRIENT_KEYS``) or a barcode; ``serving_g`` with a per-100 g
    figure alone lets the other be derived. The file's optional ``source`` and ``licence`` say where the
    records came from; answers that use them say so.
``repair_kit``
    ``id``, ``machine``, ``text_cues`` (words printed on the machine), ``reference_images`` (paths relative
    to the file), ``components`` (``{id, name, region: [x0, y0, x1, y1]}`` normalized in the reference
    image), ``steps`` (``{instruction, target, warning?, done_cue?}``, ``target`` a component id) and
    ``safety`` (warnings shown before the first step).

``eyeline.cloud.knowledge.packs`` reads and validates these files; the values here are what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eyeline.cloud.model import NormBox

# The per-100 g figures a catalog may state, with their units: what an Open Food Facts export calls them is
# mapped onto these by ``eyeline.cloud.knowledge.off_import``.
NUTRIENT_KEYS: dict[str, str] = {
    "energy_kj": "kJ", "energy_kcal": "kcal", "fat": "g", "saturated_fat": "g", "carbohydrate": "g",
    "sugars": "g", "fibre": "g", "protein": "g", "salt": "g", "sodium": "g",
}


@dataclass(frozen=True, slots=True)
class CatalogProduct:
    """One product as its maker states it; protein figures in grams, ``None`` where not known."""

    id: str
    brand: str
    name: str
    aliases: tuple[str, ...] = ()
    serving_g: float | None = None
    protein_per_serving_g: float | None = None
    protein_per_100g: float | None = None
    # Identity and catalog facts: the EAN/UPC printed under the bars, what the package holds ("1 l"), every
    # per-100 g figure the maker states (keys as in NUTRIENT_KEYS), and where the record came from.
    barcode: str = ""
    package: str = ""
    nutrients_per_100g: tuple[tuple[str, float], ...] = ()
    source: str = ""

    @property
    def display_name(self) -> str:
        return f"{self.brand} {self.name}".strip()

    @property
    def per_serving_g(self) -> float | None:
        """Protein per serving, stated or derived from the per-100 g figure and the serving size."""
        if self.protein_per_serving_g is not None:
            return self.protein_per_serving_g
        if self.protein_per_100g is not None and self.serving_g is not None:
            return round(self.protein_per_100g * self.serving_g / 100.0, 1)
        return None

    @property
    def per_100g(self) -> float | None:
        if self.protein_per_100g is not None:
            return self.protein_per_100g
        if self.protein_per_serving_g is not None and self.serving_g:
            return round(self.protein_per_serving_g * 100.0 / self.serving_g, 1)
        return None


@dataclass(frozen=True, slots=True)
class Component:
    """A named part of a machine, where it is in the kit's reference image."""

    id: str
    name: str
    region: NormBox


@dataclass(frozen=True, slots=True)
class RepairStep:
    instruction: str
    target: str                 # a Component id
    warning: str = ""
    done_cue: str = ""          # text that, once seen, means the step is done


@dataclass(frozen=True, slots=True)
class RepairKit:
    id: str
    machine: str
    text_cues: tuple[str, ...]
    reference_images: tuple[Path, ...]
    components: tuple[Component, ...]
    steps: tuple[RepairStep, ...]
    safety: tuple[str, ...] = ()
    source: Path = field(default=Path(), compare=False)

    def component(self, component_id: str) -> Component:
        for component in self.components:
            if component.id == component_id:
                return component
        raise KeyError(component_id)


@dataclass(frozen=True, slots=True)
class KnowledgePack:
    """Everything the skills may ground their answers in; empty by default."""

    products: tuple[CatalogProduct, ...] = ()
    kits: tuple[RepairKit, ...] = ()

    def merged(self, other: KnowledgePack) -> KnowledgePack:
        return KnowledgePack(products=(*self.products, *other.products), kits=(*self.kits, *other.kits))
