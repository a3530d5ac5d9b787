"""`eyeline pack import`: Open Food Facts exports (JSONL and CSV) into a catalog pack that loads and identifies;
malformed rows give typed errors with their line and lose nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eyeline.cloud.knowledge import KnowledgePackError, load_pack
from eyeline.cloud.knowledge.off_import import ImportRowError, import_off_export
from eyeline.cloud.skills.identity.match import identify
from eyeline.tools.cli import main

GOOD_JSONL = [
    {"code": "7310865004703", "product_name": "Kvarg Vanilj", "brands": "Lindahls, Nestlé", "quantity": "500 g",
     "nutriments": {"proteins_100g": 10, "energy-kcal_100g": 66, "energy-kj_100g": 277, "fat_100g": 0.2,
                    "saturated-fat_100g": 0.1, "carbohydrates_100g": 6.1, "sugars_100g": 5.2, "salt_100g": 0.1}},
    {"code": "5000112548167", "product_name": "Coca-Cola Zero", "brands": "Coca-Cola",
     "nutriments": {"energy_100g": 1.3, "proteins_100g": "0"}},
]


def _write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_jsonl_export_becomes_a_pack_that_loads_with_every_figure(tmp_path: Path) -> None:
    source = _write_jsonl(tmp_path / "off.jsonl", [json.dumps(row) for row in GOOD_JSONL])
    report = import_off_export(source, tmp_path / "pack")
    assert report.imported == 2 and report.errors == ()
    products = {p.id: p for p in load_pack(tmp_path / "pack").products}
    kvarg = products["off-7310865004703"]
    assert (kvarg.brand, kvarg.name, kvarg.barcode, kvarg.package) == ("Lindahls", "Kvarg Vanilj", "7310865004703",
                                                                       "500 g")
    assert kvarg.per_100g == 10.0
    assert dict(kvarg.nutrients_per_100g) == {"energy_kj": 277.0, "energy_kcal": 66.0, "fat": 0.2,
                                               "saturated_fat": 0.1, "carbohydrate": 6.1, "sugars": 5.2,
                                               "protein": 10.0, "salt": 0.1}
    cola = products["off-5000112548167"]
    assert dict(cola.nutrients_per_100g) == {"energy_kj": 1.3, "protein": 0.0}   # ``energy_100g`` is kJ
    assert "Open Food Facts" in kvarg.source
    # What was imported identifies a front that reads it.
    found = identify(["LINDAHLS", "KVARG", "VANILJ"], (), tuple(products.values()))
    assert found is not None and found.product.id == "off-7310865004703"


def test_malformed_jsonl_rows_are_typed_errors_with_their_line_and_the_rest_is_kept(tmp_path: Path) -> None:
    lines = [json.dumps(GOOD_JSONL[0]),
             "{not json",                                                                # 2: broken JSON
             json.dumps({"code": "12ab", "product_name": "X"}),                         # 3: code not digits
             json.dumps({"code": "4006381333931", "brands": "Stabilo"}),                # 4: no name
             json.dumps({"code": "4006381333931", "product_name": "Y",
                         "nutriments": {"proteins_100g": "lots"}}),                     # 5: not a number
             json.dumps({"code": "4006381333931", "product_name": "Z",
                         "nutriments": {"proteins_100g": 140}}),                        # 6: over 100 g
             "[1, 2]",                                                                  # 7: not an object
             json.dumps(GOOD_JSONL[1]),
             json.dumps(GOOD_JSONL[1])]                                                 # 9: the same code again
    report = import_off_export(_write_jsonl(tmp_path / "mixed.jsonl", lines), tmp_path / "pack")
    assert report.imported == 2
    assert all(isinstance(error, ImportRowError) for error in report.errors)
    assert [error.line for error in report.errors] == [2, 3, 4, 5, 6, 7, 9]
    assert "not a number" in str(report.errors[3]) and "line 5" in str(report.errors[3])
    assert {p.id for p in load_pack(tmp_path / "pack").products} == {"off-7310865004703", "off-5000112548167"}


def test_a_tab_separated_off_csv_and_a_flattened_comma_csv_are_read(tmp_path: Path) -> None:
    tsv = tmp_path / "off.csv"
    tsv.write_text("code\tproduct_name\tbrands\tquantity\tenergy-kcal_100g\tproteins_100g\tsalt_100g\n"
                   "7340011495437\tHavregryn\tAXA\t1,5 kg\t370\t13\t0,01\n"
                   "7340011495438\t\tAXA\t\t\t\t\n"                          # line 3: no name
                   "7340011495439\tMüsli\tAXA\t\t380\tmuch\t\n", encoding="utf-8")   # line 4: not a number
    report = import_off_export(tsv, tmp_path / "a")
    assert report.imported == 1 and [error.line for error in report.errors] == [3, 4]
    oats = load_pack(tmp_path / "a").products[0]
    assert (oats.name, dict(oats.nutrients_per_100g)) == ("Havregryn", {"energy_kcal": 370.0, "protein": 13.0,
                                                                         "salt": 0.01})
    flat = tmp_path / "flat.csv"
    flat.write_text("code,product_name,brands,nutriments.proteins_100g,nutriments.fat_100g\n"
                    "0036000291452,Granola,Nature Valley,9.5,18\n"
                    "0036000291453,Broken,Nature Valley,9.5,18,extra\n", encoding="utf-8")
    report = import_off_export(flat, tmp_path / "b")
    assert report.imported == 1 and [error.line for error in report.errors] == [3]
    assert dict(load_pack(tmp_path / "b").products[0].nutrients_per_100g) == {"fat": 18.0, "protein": 9.5}


def test_a_file_with_nothing_readable_is_one_typed_error_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(KnowledgePackError, match="no product that could be read"):
        import_off_export(_write_jsonl(tmp_path / "bad.jsonl", ["{", "[]"]), tmp_path / "pack")
    assert not (tmp_path / "pack").exists()
    with pytest.raises(KnowledgePackError, match="neither JSONL"):
        import_off_export(_write_jsonl(tmp_path / "off.xml", ["<x/>"]), tmp_path / "pack")
    (tmp_path / "nocode.csv").write_text("ean,product_name\n1,2\n", encoding="utf-8")
    with pytest.raises(KnowledgePackError, match="no 'code' column"):
        import_off_export(tmp_path / "nocode.csv", tmp_path / "pack")


def test_the_cli_imports_reports_skipped_rows_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _write_jsonl(tmp_path / "off.jsonl", [json.dumps(GOOD_JSONL[0]), "{oops"])
    assert main(["pack", "import", str(source), "--out", str(tmp_path / "pack"), "--id", "mine"]) == 2
    captured = capsys.readouterr()
    assert "imported 1 products" in captured.out and "line 2" in captured.err
    assert (tmp_path / "pack" / "mine.json").is_file()
    clean = _write_jsonl(tmp_path / "clean.jsonl", [json.dumps(GOOD_JSONL[1])])
    assert main(["pack", "import", str(clean), "--out", str(tmp_path / "pack2")]) == 0
    assert main(["pack", "import", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "p3")]) == 2
