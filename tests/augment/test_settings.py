"""The recipe's augment section is the one settings shape: flags and YAML round-trip, `check` refuses bad fields."""

from __future__ import annotations

import pytest
import yaml

import nlptl
from nlptl import NlptlError
from nlptl.augment import RANDOM_SWAP, SYNONYM_REPLACEMENT, check, resolve_ops
from nlptl.overrides import apply_overrides
from nlptl.recipe import AugmentSettings, load_recipe_yaml, recipe_to_yaml


def test_augment_flag_and_yaml_round_trip(tmp_path):
    recipe = apply_overrides(nlptl.Recipe(), ["--augment", "synonym,swap", "--augment.copies", "4",
                                              "--augment.mode", "on_the_fly",
                                              "--augment.antonym_label_map", "pos=neg,neg=pos"])
    assert recipe.augment.ops == ["synonym", "swap"] and recipe.augment.copies == 4
    assert recipe.augment.antonym_label_map == {"pos": "neg", "neg": "pos"}
    assert resolve_ops(recipe.augment.ops) == (SYNONYM_REPLACEMENT, RANDOM_SWAP) == check(recipe.augment)
    assert resolve_ops(["random_swap", "swap", "none"]) == (RANDOM_SWAP,)
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe_to_yaml(recipe))
    assert yaml.safe_load(path.read_text())["augment"]["ops"] == ["synonym", "swap"]
    assert load_recipe_yaml(path) == recipe
    with pytest.raises(NlptlError, match="unknown operation 'synonyms'"):
        resolve_ops(["synonyms"])


def test_no_operations_is_off():
    assert check(AugmentSettings()) == () == check(AugmentSettings(ops=["none"], mode="never checked"))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ops": ["shuffle"]}, "augment.ops: unknown operation 'shuffle'"),
        ({"ops": "random_swap"}, "augment.ops: a list of operations, not the string"),
        ({"alpha": 0}, r"augment.alpha=0: .* in \(0, 1\]"),
        ({"alpha": 1.5}, r"augment.alpha=1.5"),
        ({"copies": 0}, "augment.copies=0"),
        ({"copies": 1.5}, "augment.copies=1.5"),
        ({"mode": "sometimes"}, "augment.mode='sometimes'"),
        ({"record_samples": -1}, "augment.record_samples=-1"),
        ({"ops": ["antonym"]}, "needs augment.antonym_label_map"),
        ({"ops": ["contextual_substitution"]}, "augment.mlm_model_dir"),
    ],
)
def test_bad_settings_are_refused(fields, message):
    with pytest.raises(NlptlError, match=message):
        check(AugmentSettings(**{"ops": ["swap"], **fields}))
