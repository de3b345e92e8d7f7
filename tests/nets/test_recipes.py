"""Recipes: the notebook's, overrides, and what ``auto`` resolves to."""

from __future__ import annotations

import pytest

from acmlkit.nets.models import ARCHITECTURES
from acmlkit.nets.recipes import RECIPES, Recipe, get_recipe, resolve_recipe_name


def test_notebook_recipe_is_the_notebooks():
    r = RECIPES["notebook"]["cnn"]
    assert (r.optimizer, r.lr, r.momentum, r.batch_size, r.epochs) == ("sgd", 0.001, 0.9, 4, 2)
    assert (r.schedule, r.normalize, r.flip, r.label_smoothing) == ("constant", "half", False, 0)
    assert RECIPES["notebook"]["mlp"] == r == RECIPES["notebook"]["mlp-matched"]


def test_recipe_overrides_and_errors():
    assert get_recipe("fast", "mlp", epochs=7).epochs == 7
    assert get_recipe("fast", "mlp", epochs=None) == RECIPES["fast"]["mlp"]
    assert get_recipe("auto", "cnn", 3000) == RECIPES["small"]["cnn"]
    assert get_recipe("auto", "cnn", 50_000) == RECIPES["fast"]["cnn"]
    with pytest.raises(ValueError, match=r"recipe must be one of .* got 'slow'"):
        get_recipe("slow", "cnn")
    with pytest.raises(ValueError, match=r"batch_size must be in \[1, None\], got 0"):
        Recipe(batch_size=0)



def test_auto_resolves_by_training_set_size_and_every_arch_has_every_recipe():
    assert resolve_recipe_name("auto", 19_999) == "small"
    assert resolve_recipe_name("auto", 20_000) == "fast"
    assert resolve_recipe_name("auto", None) == "fast"
    assert resolve_recipe_name("notebook", 10) == "notebook"
    for name, table in RECIPES.items():
        assert set(table) == set(ARCHITECTURES), name
