"""Read knowledge packs from plain data files and validate them.

Every problem is a :class:`KnowledgePackError` naming the file, the field (a path such as
``products[2].serving_g``) and what is wrong with it; a pack that loads is complete and consistent.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from eyeline.cloud.errors import CloudError
from eyeline.cloud.knowledge.schema import (
    NUTRIENT_KEYS,
    CatalogProduct,
    Component,
    KnowledgePack,
    Layout,
    Procedure,
    RepairKit,
    RepairStep,
)
from eyeline.cloud.model import NormBox

PACK_SUFFIXES = (".json", ".toml")
SCHEMA_VERSION = 1
_T = TypeVar("_T")


class KnowledgePackError(CloudError):
    """A knowledge-pack file that cannot be read or breaks the schema."""

    def __init__(self, file: Path | str, field: str, problem: str) -> None:
        self.file = str(file)
        self.field = field
        self.problem = problem
        where = f"{self.file}: {field}: " if field else f"{self.file}: "
        super().__init__(where + problem)


# ------------------------------------------------------------------ entry points


def load_pack(folder: Path) -> KnowledgePack:
    """Every pack file in ``folder`` (not recursive), validated, merged, and checked for duplicate ids."""
    if not folder.is_dir():
        raise KnowledgePackError(folder, "", "is not a folder of knowledge-pack files")
    files = sorted(path for path in folder.iterdir() if path.suffix in PACK_SUFFIXES and path.is_file())
    if not files:
        raise KnowledgePackError(folder, "", f"holds no pack files ({', '.join(PACK_SUFFIXES)})")
    pack = KnowledgePack()
    for path in files:
        pack = _merge_checked(pack, load_pack_file(path), path)
    return pack


def load_packs(folders: Iterable[Path], *, with_demo: bool = True) -> KnowledgePack:
    """The demo pack (unless told otherwise) plus each user folder, later folders after earlier ones."""
    pack = demo_pack() if with_demo else KnowledgePack()
    for folder in folders:
        pack = _merge_checked(pack, load_pack(folder), folder)
    return pack


def grocery_pack() -> KnowledgePack:
    """The shipped catalog of real products (the GroceryStoreDataset's packages), for identifying fronts."""
    with resources.as_file(resources.files("eyeline.cloud.knowledge") / "grocery") as folder:
        return load_pack(Path(folder))


def demo_pack() -> KnowledgePack:
    """The pack shipped with the project: the synthetic shelf's catalog and the espresso demo kit."""
    with resources.as_file(resources.files("eyeline.cloud.knowledge") / "demo") as folder:
        return load_pack(Path(folder))


def load_pack_file(path: Path) -> KnowledgePack:
    document = _read_document(path)
    kind = _field(document, "kind", str, path, "")
    version = _field(document, "version", int, path, "")
    if version != SCHEMA_VERSION:
        raise KnowledgePackError(path, "version", f"schema version {version} is not supported (expected 1)")
    if kind == "catalog":
        return KnowledgePack(products=_catalog(document, path))
    if kind == "repair_kit":
        return KnowledgePack(kits=(_repair_kit(document, path),))
    raise KnowledgePackError(path, "kind", f"unknown kind {kind!r} (expected 'catalog' or 'repair_kit')")


def _read_document(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KnowledgePackError(path, "", f"cannot be read: {exc.strerror}") from exc
    try:
        document = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgePackError(path, "", f"is not valid {path.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(document, dict):
        raise KnowledgePackError(path, "", f"must hold an object at the top, not {type(document).__name__}")
    return document


def _merge_checked(pack: KnowledgePack, more: KnowledgePack, source: Path) -> KnowledgePack:
    known_products = {product.id for product in pack.products}
    for product in more.products:
        if product.id in known_products:
            raise KnowledgePackError(source, "products.id", f"product id {product.id!r} is defined twice")
    known_kits = {kit.id for kit in pack.kits}
    for kit in more.kits:
        if kit.id in known_kits:
            raise KnowledgePackError(source, "id", f"repair kit id {kit.id!r} is defined twice")
    return pack.merged(more)


# ------------------------------------------------------------------ field checks


def _field(obj: dict[str, Any], key: str, kind: type[_T], path: Path, prefix: str, *,
           default: _T | None = None) -> _T:
    name = f"{prefix}.{key}" if prefix else key
    if key not in obj:
        if default is not None:
            return default
        raise KnowledgePackError(path, name, "is required")
    value = obj[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise KnowledgePackError(path, name, f"must be {_kind_name(kind)}, got {value!r}")
    if isinstance(value, str) and not value.strip():
        raise KnowledgePackError(path, name, "must not be empty")
    return value


def _kind_name(kind: type) -> str:
    return {str: "text", int: "an integer", float: "a number", list: "a list", dict: "an object"}.get(
        kind, kind.__name__)


def _grams(obj: dict[str, Any], key: str, path: Path, prefix: str, *, most: float) -> float | None:
    if key not in obj:
        return None
    value = _field(obj, key, float, path, prefix)
    if not (math.isfinite(value) and 0.0 <= value <= most):
        raise KnowledgePackError(path, f"{prefix}.{key}", f"must be between 0 and {most:g} grams, got {value:g}")
    return value


def _items(obj: dict[str, Any], key: str, path: Path, prefix: str, read: Callable[[Any, str], _T], *,
           required: bool = True) -> tuple[_T, ...]:
    name = f"{prefix}.{key}" if prefix else key
    values = _field(obj, key, list, path, prefix, default=None if required else [])
    if required and not values:
        raise KnowledgePackError(path, name, "must list at least one entry")
    return tuple(read(value, f"{name}[{index}]") for index, value in enumerate(values))


def _object(value: Any, path: Path, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise KnowledgePackError(path, name, f"must be an object, got {value!r}")
    return value


def _text(value: Any, path: Path, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KnowledgePackError(path, name, f"must be non-empty text, got {value!r}")
    return value


def _unique(ids: Iterable[str], path: Path, name: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(ids):
        if value in seen:
            raise KnowledgePackError(path, f"{name}[{index}].id", f"id {value!r} is used twice")
        seen.add(value)


# ------------------------------------------------------------------ catalog


def _catalog(document: dict[str, Any], path: Path) -> tuple[CatalogProduct, ...]:
    source = " ".join(_optional_text(document, key, path, "") for key in ("source", "licence")).strip()
    products = _items(document, "products", path, "", lambda value, name: _product(value, path, name, source))
    _unique((product.id for product in products), path, "products")
    return products


def _product(value: Any, path: Path, name: str, source: str = "") -> CatalogProduct:
    obj = _object(value, path, name)
    nutrients = _nutrients(obj, path, name)
    serving = _grams(obj, "serving_g", path, name, most=5000.0)
    if serving == 0.0:
        raise KnowledgePackError(path, f"{name}.serving_g", "must be more than 0 grams")
    product = CatalogProduct(
        id=_field(obj, "id", str, path, name), brand=_field(obj, "brand", str, path, name),
        name=_field(obj, "name", str, path, name),
        aliases=_items(obj, "aliases", path, name, lambda v, n: _text(v, path, n), required=False),
        serving_g=serving, protein_per_serving_g=_grams(obj, "protein_per_serving_g", path, name, most=serving or 500),
        protein_per_100g=_grams(obj, "protein_per_100g", path, name, most=100.0),
        barcode=_barcode(obj, path, name), package=_optional_text(obj, "package", path, name),
        nutrients_per_100g=nutrients, source=source)
    if product.per_serving_g is None and product.per_100g is None and not nutrients and not product.barcode:
        raise KnowledgePackError(path, name, "states no protein, no nutrients_per_100g and no barcode")
    return product


def _barcode(obj: dict[str, Any], path: Path, name: str) -> str:
    code = _optional_text(obj, "barcode", path, name)
    if code and not (code.isdigit() and 8 <= len(code) <= 14):
        raise KnowledgePackError(path, f"{name}.barcode", f"must be 8 to 14 digits, got {code!r}")
    return code


def _nutrients(obj: dict[str, Any], path: Path, name: str) -> tuple[tuple[str, float], ...]:
    table: dict[str, Any] = _field(obj, "nutrients_per_100g", dict, path, name, default={})
    prefix = f"{name}.nutrients_per_100g"
    unknown = sorted(set(table) - set(NUTRIENT_KEYS))
    if unknown:
        raise KnowledgePackError(path, prefix, f"unknown nutrient {unknown[0]!r} (known: {', '.join(NUTRIENT_KEYS)})")
    most = {"energy_kj": 4000.0, "energy_kcal": 950.0}
    return tuple((key, value) for key in NUTRIENT_KEYS if key in table
                 for value in [_grams(table, key, path, prefix, most=most.get(key, 100.0))] if value is not None)


# ------------------------------------------------------------------ repair kits


def _repair_kit(document: dict[str, Any], path: Path) -> RepairKit:
    components = _items(document, "components", path, "", lambda v, n: _component(v, path, n))
    _unique((component.id for component in components), path, "components")
    procedures = _items(document, "procedures", path, "", lambda v, n: _procedure(v, path, n), required=False)
    _unique((procedure.id for procedure in procedures), path, "procedures")
    own_steps = "steps" in document or not procedures
    steps = _items(document, "steps", path, "", lambda v, n: _step(v, path, n)) if own_steps else procedures[0].steps
    known = {component.id for component in components}
    listed_by = [("", steps)] if own_steps else []
    for prefix, listed in (*listed_by, *((f"procedures[{i}].", p.steps) for i, p in enumerate(procedures))):
        for index, step in enumerate(listed):
            if step.target not in known:
                raise KnowledgePackError(path, f"{prefix}steps[{index}].target",
                                         f"names no component: {step.target!r} (known: {', '.join(sorted(known))})")
    placed = all(component.layout is not None for component in components)
    cues = _items(document, "text_cues", path, "", lambda v, n: _text(v, path, n))
    for index, component in enumerate(components):
        if component.layout is not None and component.layout.anchor not in cues:
            raise KnowledgePackError(path, f"components[{index}].layout.anchor",
                                     f"{component.layout.anchor!r} is not one of the kit's text_cues")
    return RepairKit(
        id=_field(document, "id", str, path, ""), machine=_field(document, "machine", str, path, ""),
        text_cues=cues,
        # A kit whose every part is placed by its layout needs no reference image.
        reference_images=_items(document, "reference_images", path, "", lambda v, n: _image(v, path, n),
                                required=not placed),
        components=components, steps=steps,
        safety=_items(document, "safety", path, "", lambda v, n: _text(v, path, n), required=False), source=path,
        procedures=procedures)


def _procedure(value: Any, path: Path, name: str) -> Procedure:
    obj = _object(value, path, name)
    return Procedure(id=_field(obj, "id", str, path, name), name=_field(obj, "name", str, path, name),
                     asks=_items(obj, "asks", path, name, lambda v, n: _text(v, path, n)),
                     steps=_items(obj, "steps", path, name, lambda v, n: _step(v, path, n)))


def _layout(obj: dict[str, Any], path: Path, name: str) -> Layout:
    pairs = []
    for key in ("offset", "size"):
        pair = _field(obj, key, list, path, name)
        if len(pair) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair):
            raise KnowledgePackError(path, f"{name}.{key}", f"must be two numbers, got {pair!r}")
        pairs.append((float(pair[0]), float(pair[1])))
    (dx, dy), (w, h) = pairs
    if not (w > 0 and h > 0):
        raise KnowledgePackError(path, f"{name}.size", f"must be positive, got {[w, h]!r}")
    detect = _optional_text(obj, "detect", path, name)
    if detect not in ("", "circle"):
        raise KnowledgePackError(path, f"{name}.detect", f"unknown detector {detect!r} (known: 'circle')")
    return Layout(anchor=_field(obj, "anchor", str, path, name), offset=(dx, dy), size=(w, h), detect=detect)


def _component(value: Any, path: Path, name: str) -> Component:
    obj = _object(value, path, name)
    # A part placed by its layout alone has no region in a reference image: the whole image stands in.
    region = _field(obj, "region", list, path, name, default=[0.0, 0.0, 1.0, 1.0] if "layout" in obj else None)
    if len(region) != 4 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in region):
        raise KnowledgePackError(path, f"{name}.region", f"must be four numbers [x0, y0, x1, y1], got {region!r}")
    x0, y0, x1, y1 = (float(v) for v in region)
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
        raise KnowledgePackError(path, f"{name}.region",
                                 f"must be normalized with x0 < x1 and y0 < y1 inside [0, 1], got {region!r}")
    layout = _layout(_object(obj["layout"], path, f"{name}.layout"), path, f"{name}.layout") if "layout" in obj \
        else None
    return Component(id=_field(obj, "id", str, path, name), name=_field(obj, "name", str, path, name),
                     region=NormBox(x0, y0, x1, y1), layout=layout)


def _step(value: Any, path: Path, name: str) -> RepairStep:
    obj = _object(value, path, name)
    return RepairStep(instruction=_field(obj, "instruction", str, path, name),
                      target=_field(obj, "target", str, path, name),
                      warning=_optional_text(obj, "warning", path, name),
                      done_cue=_optional_text(obj, "done_cue", path, name))


def _optional_text(obj: dict[str, Any], key: str, path: Path, prefix: str) -> str:
    return _field(obj, key, str, path, prefix) if key in obj else ""


def _image(value: Any, path: Path, name: str) -> Path:
    relative = Path(_text(value, path, name))
    # A pack names files beside it; an absolute path or a climb out (`..`) would let it read any file.
    if relative.is_absolute() or relative.anchor or ".." in relative.parts or "\x00" in str(relative):
        raise KnowledgePackError(path, name, f"reference image {value!r} must be a path inside the pack's folder")
    image = path.parent / relative
    if not image.is_file():
        raise KnowledgePackError(path, name, f"reference image {value!r} does not exist beside the pack file")
    return image
