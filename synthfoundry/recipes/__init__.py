"""Query-synthesis recipes: each is versioned prompt templates plus a parse function (see `base.py`).

To add a recipe: write its module, then list it in RECIPES; its Config joins the run config automatically.
"""

from __future__ import annotations

from synthfoundry.recipes import (
    backtranslation,
    code_instruct,
    code_tests,
    cosmopedia,
    evol_instruct,
    load,
    mammoth2,
    metamath,
    procedural,
    self_instruct,
    tool_use,
    ultrachat,
    wrap,
)
from synthfoundry.recipes.base import Recipe
from synthfoundry.sandbox import Sandbox

RECIPES: dict[str, Recipe] = {module.NAME: module for module in (
    self_instruct, ultrachat, metamath, procedural, backtranslation, mammoth2, wrap, cosmopedia, evol_instruct,
    load, code_instruct, code_tests, tool_use,
)}


def get_recipe(name: str) -> Recipe:
    return RECIPES[name]


def code_tools(recipe: Recipe, sandbox: Sandbox | None) -> dict[str, Sandbox | None]:
    """The keyword arguments a recipe's synthesize and estimate get beside its config: the run's sandbox, for a recipe
    that runs programs (RUNS_CODE); nothing for the others."""
    return {"sandbox": sandbox} if getattr(recipe, "RUNS_CODE", False) else {}
