"""Knowledge packs: the demo pack, user folders, and an error naming file, field and problem for each fault."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eyeline.cloud.knowledge import KnowledgePackError, demo_pack, load_pack, load_pack_file, load_packs
from eyeline.devices.synthetic import CATALOG


def catalog(*products: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "catalog", "version": 1, "products": list(products)}


def product(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "kale-chips", "brand": "Leafy", "name": "Kale Chips", "serving_g": 28,
                            "protein_per_serving_g": 3}
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def write(folder: Path, name: str, document: dict[str, Any] | str) -> Path:
    path = folder / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def test_the_demo_pack_holds_the_synthetic_shelf_catalog_exactly() -> None:
    pack = demo_pack()
    by_name = {product.display_name: product for product in pack.products}
    assert set(by_name) == {product.display_name for product in CATALOG}
    for shelf_product in CATALOG:
        entry = by_name[shelf_product.display_name]
        assert entry.per_serving_g == shelf_product.protein_g
        assert entry.serving_g == shelf_product.serving_g


def test_a_user_folder_adds_to_the_demo_pack_and_toml_reads_like_json(tmp_path: Path) -> None:
    write(tmp_path, "snacks.toml", 'kind = "catalog"\nversion = 1\n[[products]]\nid = "kale-chips"\n'
          'brand = "Leafy"\nname = "Kale Chips"\nserving_g = 28\nprotein_per_100g = 10\n')
    pack = load_packs([tmp_path])
    kale = next(product for product in pack.products if product.id == "kale-chips")
    assert kale.per_serving_g == pytest.approx(2.8)
    assert len(pack.products) == len(demo_pack().products) + 1


def test_per_serving_is_derived_from_per_100g_and_the_other_way_round(tmp_path: Path) -> None:
    write(tmp_path, "a.json", catalog(product(), product(id="b", protein_per_serving_g=None, protein_per_100g=25)))
    first, second = load_pack(tmp_path).products
    assert first.per_100g == pytest.approx(10.7)
    assert second.per_serving_g == pytest.approx(7.0)


def assert_pack_error(path: Path, field: str, problem: str) -> None:
    with pytest.raises(KnowledgePackError) as caught:
        load_pack_file(path)
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(path) in str(caught.value) and field in str(caught.value)


@pytest.mark.parametrize(("document", "field", "problem"), [
    ("{not json", "", "is not valid JSON"),
    ("[1, 2]", "", "must hold an object"),
    ({"version": 1, "products": []}, "kind", "is required"),
    ({"kind": "recipes", "version": 1}, "kind", "unknown kind 'recipes'"),
    ({"kind": "catalog", "version": 2, "products": []}, "version", "schema version 2 is not supported"),
    ({"kind": "catalog", "version": 1, "products": []}, "products", "at least one entry"),
    ({"kind": "catalog", "version": 1, "products": {}}, "products", "must be a list"),
    (catalog(product(), "Kale"), "products[1]", "must be an object"),
    (catalog(product(brand=None)), "products[0].brand", "is required"),
    (catalog(product(name="  ")), "products[0].name", "must not be empty"),
    (catalog(product(serving_g="28g")), "products[0].serving_g", "must be a number, got '28g'"),
    (catalog(product(serving_g=0)), "products[0].serving_g", "more than 0 grams"),
    (catalog(product(protein_per_serving_g=-1)), "products[0].protein_per_serving_g", "between 0 and"),
    (catalog(product(protein_per_100g=120)), "products[0].protein_per_100g", "between 0 and 100 grams"),
    (catalog(product(protein_per_serving_g=None)), "products[0]", "states no protein"),
    (catalog(product(), product()), "products[1].id", "'kale-chips' is used twice"),
    (catalog(product(aliases=["ok", 3])), "products[0].aliases[1]", "non-empty text"),
])
def test_each_catalog_fault_names_file_field_and_problem(tmp_path: Path, document: dict[str, Any] | str,
                                                        field: str, problem: str) -> None:
    assert_pack_error(write(tmp_path, "pack.json", document), field, problem)


def kit(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "repair_kit", "version": 1, "id": "grinder", "machine": "Burr Grinder", "text_cues": ["BURR"],
        "reference_images": ["ref.png"],
        "components": [{"id": "hopper", "name": "Hopper", "region": [0.1, 0.1, 0.5, 0.4]}],
        "steps": [{"instruction": "Lift the hopper", "target": "hopper", "done_cue": "REMOVED"}],
        "safety": ["Unplug the grinder first."],
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(("overrides", "field", "problem"), [
    ({"machine": None}, "machine", "is required"),
    ({"text_cues": []}, "text_cues", "at least one entry"),
    ({"reference_images": ["missing.png"]}, "reference_images[0]", "does not exist beside the pack file"),
    ({"components": [{"id": "hopper", "name": "Hopper", "region": [0.1, 0.1, 0.5]}]}, "components[0].region",
     "four numbers"),
    ({"components": [{"id": "hopper", "name": "Hopper", "region": [0.5, 0.1, 0.2, 0.4]}]}, "components[0].region",
     "x0 < x1"),
    ({"steps": [{"instruction": "Turn the dial", "target": "dial"}]}, "steps[0].target", "names no component"),
    ({"steps": [{"target": "hopper"}]}, "steps[0].instruction", "is required"),
    ({"safety": "unplug"}, "safety", "must be a list"),
    ({"steps": None, "procedures": [{"id": "p", "name": "P", "asks": ["lift"],
                                     "steps": [{"instruction": "Turn", "target": "dial"}]}]},
     "procedures[0].steps[0].target", "names no component"),
    ({"procedures": [{"id": "p", "name": "P", "asks": [], "steps": [{"instruction": "Lift", "target": "hopper"}]}]},
     "procedures[0].asks", "at least one entry"),
    ({"reference_images": None}, "reference_images", "is required"),
    ({"reference_images": None, "components": [{"id": "hopper", "name": "Hopper", "layout": {
        "anchor": "BURR", "offset": [1], "size": [2, 2]}}]}, "components[0].layout.offset", "two numbers"),
    ({"reference_images": None, "components": [{"id": "hopper", "name": "Hopper", "layout": {
        "anchor": "BURR", "offset": [1, 1], "size": [2, 2], "detect": "square"}}]}, "components[0].layout.detect",
     "unknown detector"),
    ({"reference_images": None, "components": [{"id": "hopper", "name": "Hopper", "layout": {
        "anchor": "GRIND", "offset": [1, 1], "size": [2, 2]}}]}, "components[0].layout.anchor",
     "not one of the kit's text_cues"),
])
def test_each_repair_kit_fault_names_file_field_and_problem(tmp_path: Path, overrides: dict[str, Any],
                                                           field: str, problem: str) -> None:
    (tmp_path / "ref.png").write_bytes(b"\x89PNG")
    document = {key: value for key, value in kit(**overrides).items() if value is not None}
    assert_pack_error(write(tmp_path, "grinder.json", document), field, problem)


def test_a_valid_kit_loads_with_its_steps_pointing_at_components(tmp_path: Path) -> None:
    (tmp_path / "ref.png").write_bytes(b"\x89PNG")
    (loaded,) = load_pack_file(write(tmp_path, "grinder.json", kit())).kits
    assert loaded.component(loaded.steps[0].target).name == "Hopper"
    assert loaded.reference_images == (tmp_path / "ref.png",)


def test_a_product_id_defined_in_two_files_is_refused_naming_the_folder(tmp_path: Path) -> None:
    write(tmp_path, "a.json", catalog(product()))
    write(tmp_path, "b.json", catalog(product()))
    with pytest.raises(KnowledgePackError, match="'kale-chips' is defined twice"):
        load_pack(tmp_path)


def test_a_folder_without_pack_files_or_that_is_missing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KnowledgePackError, match="holds no pack files"):
        load_pack(tmp_path)
    with pytest.raises(KnowledgePackError, match="is not a folder"):
        load_pack(tmp_path / "absent")


@pytest.mark.parametrize("reference", ["../secret.png", "sub/../../secret.png", "ABSOLUTE"])
def test_a_reference_image_outside_the_packs_folder_is_refused(tmp_path: Path, reference: str) -> None:
    # The file exists, so only the path itself can be the reason for the refusal.
    (tmp_path / "secret.png").write_bytes(b"\x89PNG")
    (tmp_path / "pack" / "sub").mkdir(parents=True)
    named = str(tmp_path / "secret.png") if reference == "ABSOLUTE" else reference
    pack_file = write(tmp_path / "pack", "grinder.json", kit(reference_images=[named]))
    assert_pack_error(pack_file, "reference_images[0]", "must be a path inside the pack's folder")


def test_a_kit_placed_by_its_layout_needs_no_reference_image_and_holds_procedures(tmp_path: Path) -> None:
    layout = {"anchor": "BURR", "offset": [-3, 5.5], "size": [4, 2], "detect": "circle"}
    procedures = [{"id": "clean", "name": "Cleaning", "asks": ["clean"],
                   "steps": [{"instruction": "Lift the hopper", "target": "hopper"}]},
                  {"id": "adjust", "name": "Adjusting", "asks": ["grind finer", "adjust"],
                   "steps": [{"instruction": "Turn the collar", "target": "hopper"},
                             {"instruction": "Grind a little", "target": "hopper"}]}]
    document = kit(reference_images=None, steps=None, procedures=procedures,
                   components=[{"id": "hopper", "name": "Hopper", "layout": layout}])
    (loaded,) = load_pack_file(write(tmp_path, "grinder.json", {k: v for k, v in document.items() if v is not None}
                                     )).kits
    assert loaded.reference_images == ()
    hopper = loaded.component("hopper")
    assert hopper.layout is not None and (hopper.layout.offset, hopper.layout.detect) == ((-3.0, 5.5), "circle")
    assert [p.id for p in loaded.procedures] == ["clean", "adjust"] and len(loaded.procedure("adjust").steps) == 2
    assert loaded.steps == loaded.procedure("").steps == loaded.procedures[0].steps


def test_the_demo_pack_holds_the_silvia_kit_with_its_procedures() -> None:
    silvia = next(k for k in demo_pack().kits if k.id == "rancilio-silvia")
    assert {p.id for p in silvia.procedures} == {"descale", "backflush", "gasket", "top_cover", "front_panel"}
    assert all(c.layout is not None and c.layout.anchor == "RANCILIO" for c in silvia.components)
