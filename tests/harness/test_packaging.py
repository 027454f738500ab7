"""The wheel ships the product only: nothing of the harness, its benchmarks, fault scenarios or fakes."""

import re
import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, find_packages

ROOT = Path(__file__).resolve().parents[2]
# Words in the name of any module that measures or fakes the service rather than being it.
HARNESS_WORDS = re.compile(r"harness|bench|chaos|fault|fake|testing")
# The settings that select the harness: they only name its app, which is not in the wheel.
NAMED_ONLY = {"project.settings.harness"}


def shipped_modules() -> list[str]:
    """Every module the build puts in the wheel, found as setuptools finds them from pyproject."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    find = pyproject["tool"]["setuptools"]["packages"]["find"]
    # pyproject's find lists namespace packages (folders without __init__.py) too, unless told not to.
    finder = find_namespace_packages if find.get("namespaces", True) else find_packages
    packages = finder(where=str(ROOT / find.get("where", ["."])[0]), include=find.get("include", ["*"]),
                      exclude=find.get("exclude", []))
    modules = []
    for package in packages:
        modules.append(package)
        folder = ROOT.joinpath(*package.split("."))
        modules += [f"{package}.{path.stem}" for path in folder.glob("*.py") if path.stem != "__init__"]
    return sorted(modules)


def test_the_wheel_ships_the_product_and_nothing_of_the_harness():
    modules = shipped_modules()

    assert {"project.settings.base", "reminders.models", "reminders.tasks"} <= set(modules)
    assert [name for name in modules if HARNESS_WORDS.search(name) and name not in NAMED_ONLY] == []


def test_production_settings_do_not_install_the_harness():
    from project.settings import base, harness, test

    assert "harness" not in base.INSTALLED_APPS
    assert "harness" in harness.INSTALLED_APPS and "harness" in test.INSTALLED_APPS
