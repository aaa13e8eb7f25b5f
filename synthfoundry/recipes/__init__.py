"""Query-synthesis recipes: each is versioned prompt templates plus a parse function (see `base.py`).

To add a recipe: write its module, then list it in RECIPES; its Config joins the run config automatically.
"""

from __future__ import annotations

from synthfoundry.recipes import metamath, procedural, self_instruct, ultrachat
from synthfoundry.recipes import backtranslation, mammoth2, wrap
from synthfoundry.recipes import cosmopedia, evol_instruct
from synthfoundry.recipes import load
from synthfoundry.recipes.base import Recipe

RECIPES: dict[str, Recipe] = {module.NAME: module for module in (
    self_instruct, ultrachat, metamath, procedural, backtranslation, mammoth2, wrap, cosmopedia, evol_instruct,
    load,
)}


def get_recipe(name: str) -> Recipe:
    return RECIPES[name]
