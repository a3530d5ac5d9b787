"""Package discovery. The repository's top-level folders are the architecture; installed, each is a
subpackage of ``eyeline`` (``edge/frames`` is ``eyeline.edge.frames``). pyproject.toml cannot add that prefix to
discovered packages, so this file finds them; everything else is declared in pyproject.toml."""

from setuptools import find_packages, setup

LAYERS = ("protos", "devices", "edge", "cloud", "tools")

packages = find_packages(include=[f"{layer}*" for layer in LAYERS])
setup(
    package_dir={f"eyeline.{layer}": layer for layer in LAYERS},
    packages=[f"eyeline.{package}" for package in packages],
)
