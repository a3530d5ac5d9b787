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

    A kit may hold several ``procedures`` (``{id, name, asks, steps}``: ``asks`` the words a question about it
    uses, such as ``"descale"`` or ``"take top off"``) instead of one list of ``steps``. A kit for a machine
    met in real photos, where no reference image can be registered, may place each component by its
    ``layout`` instead: ``{anchor, offset: [dx, dy], size: [w, h], detect?}``, measured from the centre of a
    text cue printed on the machine (``anchor``) in widths of one of its printed letters; ``detect: "circle"``
    looks for a round part (a knob, a gauge) near there. ``reference_images`` may then be empty.

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
class Layout:
    """Where a part sits relative to a printed text cue, in widths of one printed letter of that cue."""

    anchor: str
    offset: tuple[float, float]
    size: tuple[float, float]
    detect: str = ""            # "circle": a round part to look for near there; "": placed by the layout alone


@dataclass(frozen=True, slots=True)
class Component:
    """A named part of a machine, where it is in the kit's reference image (and by its layout, if known)."""

    id: str
    name: str
    region: NormBox
    layout: Layout | None = None


@dataclass(frozen=True, slots=True)
class RepairStep:
    instruction: str
    target: str                 # a Component id
    warning: str = ""
    done_cue: str = ""          # text that, once seen, means the step is done


@dataclass(frozen=True, slots=True)
class Procedure:
    """One job on the machine ("descale"), with the words a question about it uses."""

    id: str
    name: str
    asks: tuple[str, ...]
    steps: tuple[RepairStep, ...]


@dataclass(frozen=True, slots=True)
class RepairKit:
    id: str
    machine: str
    text_cues: tuple[str, ...]
    reference_images: tuple[Path, ...]
    components: tuple[Component, ...]
    steps: tuple[RepairStep, ...]           # the first procedure's steps, for a kit that holds only one
    safety: tuple[str, ...] = ()
    source: Path = field(default=Path(), compare=False)
    procedures: tuple[Procedure, ...] = ()

    def procedure(self, procedure_id: str) -> Procedure:
        """The named procedure; "" (or a kit with one list of steps) is its first one."""
        for procedure in self.procedures:
            if procedure.id == procedure_id:
                return procedure
        if self.procedures and not procedure_id:
            return self.procedures[0]
        if not self.procedures and not procedure_id:
            return Procedure("", self.machine, (), self.steps)
        raise KeyError(procedure_id)

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
