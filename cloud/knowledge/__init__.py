"""Knowledge packs: product catalogs and repair kits as plain, validated data files."""

from eyeline.cloud.knowledge.packs import (
    KnowledgePackError,
    demo_pack,
    grocery_pack,
    load_pack,
    load_pack_file,
    load_packs,
)
from eyeline.cloud.knowledge.schema import (
    CatalogProduct,
    Component,
    KnowledgePack,
    RepairKit,
    RepairStep,
)

__all__ = ["CatalogProduct", "Component", "KnowledgePack", "KnowledgePackError", "RepairKit", "RepairStep",
           "demo_pack", "grocery_pack", "load_pack", "load_pack_file", "load_packs"]
