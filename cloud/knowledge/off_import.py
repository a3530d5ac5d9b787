"""An Open Food Facts export read into a catalog pack: what ``eyeline pack import FILE --out PACK`` runs.

Two export forms are read. The JSONL dump has one product object a line, its figures under ``nutriments``
(``{"code", "product_name", "brands", "quantity", "nutriments": {"proteins_100g": ...}}``). The CSV export is
UTF-8 and tab-separated, one column a field, nutrient columns named ``proteins_100g`` (a comma-separated file
and columns spelled ``nutriments.proteins_100g``, as flattening tools write them, are read too). Energy in
``energy_100g`` is in kJ, as Open Food Facts states it.

A row that cannot be read (no code, no name, a figure that is not a number or is out of range, a broken JSON
line) is reported as an :class:`ImportRowError` with its line number; every other row is still imported.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eyeline.cloud.knowledge.packs import SCHEMA_VERSION, KnowledgePackError, load_pack_file

# Open Food Facts nutrient field (without ``_100g``) -> the catalog's key; the first present wins per key.
_OFF_NUTRIENTS: tuple[tuple[str, str], ...] = (
    ("energy-kj", "energy_kj"), ("energy", "energy_kj"), ("energy-kcal", "energy_kcal"), ("fat", "fat"),
    ("saturated-fat", "saturated_fat"), ("carbohydrates", "carbohydrate"), ("sugars", "sugars"),
    ("fiber", "fibre"), ("proteins", "protein"), ("salt", "salt"), ("sodium", "sodium"),
)
_MOST = {"energy_kj": 4000.0, "energy_kcal": 950.0}
_MAX_ROWS = 200_000


class ImportRowError(KnowledgePackError):
    """One row of an export that could not be read; the rest of the file is imported regardless."""

    def __init__(self, file: Path, line: int, problem: str) -> None:
        self.line = line
        super().__init__(file, f"line {line}", problem)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import wrote and what it could not read."""

    out: Path
    imported: int
    errors: tuple[ImportRowError, ...] = field(default=())


def import_off_export(source: Path, out: Path, *, pack_id: str = "") -> ImportReport:
    """Reads ``source`` (``.jsonl``/``.json`` or ``.csv``/``.tsv``) and writes a catalog pack file into folder ``out``.

    Raises :class:`KnowledgePackError` when the file cannot be read at all or holds no readable product.
    """
    rows = list(_rows(source))
    products: list[dict[str, Any]] = []
    errors: list[ImportRowError] = []
    seen: set[str] = set()
    for line, row in rows:
        if isinstance(row, ImportRowError):
            errors.append(row)
            continue
        try:
            product = _product(row, source, line)
        except ImportRowError as exc:
            errors.append(exc)
            continue
        if product["id"] in seen:
            errors.append(ImportRowError(source, line, f"code {product['barcode']} appears again; first kept"))
            continue
        seen.add(product["id"])
        products.append(product)
    if not products:
        raise KnowledgePackError(source, "", f"holds no product that could be read ({len(errors)} rows failed)")
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{pack_id or source.stem}.json"
    document = {"kind": "catalog", "version": SCHEMA_VERSION,
                "description": f"Imported from the Open Food Facts export {source.name}.",
                "source": f"Open Food Facts export {source.name}",
                "licence": "Open Database License (ODbL), Open Food Facts contributors",
                "products": products}
    target.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    load_pack_file(target)   # what was written must load; a failure here is a bug, not bad input
    return ImportReport(target, len(products), tuple(errors))


def _rows(source: Path) -> Iterator[tuple[int, Mapping[str, Any] | ImportRowError]]:
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgePackError(source, "", f"cannot be read as UTF-8 text: {exc}") from exc
    suffix = source.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        yield from _json_lines(source, text.splitlines())
    elif suffix in (".csv", ".tsv"):
        yield from _csv_rows(source, text)
    else:
        raise KnowledgePackError(source, "", "is neither JSONL (.jsonl) nor CSV (.csv, .tsv)")


def _json_lines(source: Path, lines: Iterable[str]) -> Iterator[tuple[int, Mapping[str, Any] | ImportRowError]]:
    for number, line in enumerate(lines, start=1):
        if number > _MAX_ROWS:
            yield number, ImportRowError(source, number, f"more than {_MAX_ROWS} rows; the rest is not read")
            return
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, ImportRowError(source, number, f"is not valid JSON: {exc.msg}")
            continue
        yield number, value if isinstance(value, dict) else ImportRowError(source, number, "is not a JSON object")


def _csv_rows(source: Path, text: str) -> Iterator[tuple[int, Mapping[str, Any] | ImportRowError]]:
    header = text.split("\n", 1)[0]
    delimiter = "\t" if header.count("\t") >= header.count(",") else ","
    reader = csv.DictReader(text.splitlines(), delimiter=delimiter)
    if not reader.fieldnames or "code" not in reader.fieldnames:
        raise KnowledgePackError(source, "", "has no 'code' column in its header line")
    for row in reader:
        number = reader.line_num
        if number > _MAX_ROWS:
            yield number, ImportRowError(source, number, f"more than {_MAX_ROWS} rows; the rest is not read")
            return
        if None in row:
            yield number, ImportRowError(source, number, "has more fields than the header names")
            continue
        yield number, _nested(row)


def _nested(row: Mapping[str, str | None]) -> dict[str, Any]:
    """A CSV row in the JSONL shape: nutrient columns (``proteins_100g`` or ``nutriments.proteins_100g``) nested."""
    nested: dict[str, Any] = {"nutriments": {}}
    for key, value in row.items():
        if value is None or value == "":
            continue
        short = key.removeprefix("nutriments.")
        if short.endswith("_100g"):
            nested["nutriments"][short] = value
        else:
            nested[key] = value
    return nested


def _product(row: Mapping[str, Any], source: Path, line: int) -> dict[str, Any]:
    code = str(row.get("code") or "").strip()
    if not (code.isdigit() and 8 <= len(code) <= 14):
        raise ImportRowError(source, line, f"code must be 8 to 14 digits, got {code!r}")
    name = _clean(row.get("product_name"))
    if not name:
        raise ImportRowError(source, line, "has no product_name")
    brand = _clean(row.get("brands")).split(",")[0].strip()
    nutriments = row.get("nutriments") or {}
    if not isinstance(nutriments, dict):
        raise ImportRowError(source, line, "nutriments must be an object")
    product: dict[str, Any] = {"id": f"off-{code}", "brand": brand or "?", "name": name, "barcode": code}
    quantity = _clean(row.get("quantity"))
    if quantity:
        product["package"] = quantity
    figures = _figures(nutriments, source, line)
    if figures:
        product["nutrients_per_100g"] = figures
        if "protein" in figures:
            product["protein_per_100g"] = figures["protein"]
    return product


def _figures(nutriments: Mapping[str, Any], source: Path, line: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    for off_name, key in _OFF_NUTRIENTS:
        raw = nutriments.get(f"{off_name}_100g")
        if key in figures or raw is None or raw == "":
            continue
        try:
            value = float(str(raw).replace(",", "."))
        except ValueError:
            raise ImportRowError(source, line, f"{off_name}_100g is not a number: {raw!r}") from None
        most = _MOST.get(key, 100.0)
        if not (math.isfinite(value) and 0.0 <= value <= most):
            raise ImportRowError(source, line, f"{off_name}_100g must be between 0 and {most:g}, got {value:g}")
        figures[key] = round(value, 3)
    return figures


def _clean(value: Any) -> str:
    return " ".join(str(value).split()) if isinstance(value, str | int | float) else ""
