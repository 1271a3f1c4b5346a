import pytest

from nlptl import NlptlError, Recipe
from nlptl.overrides import apply_overrides
from nlptl.recipe import (
    load_recipe_file,
    load_recipe_yaml,
    recipe_from_dict,
    recipe_to_dict,
    recipe_to_yaml,
)

REPO_RECIPES = ["recipes/imdb_sentiment.py", "recipes/sst2_sentiment.py"]


def test_dotted_overrides_are_typed():
    recipe = apply_overrides(Recipe(), ["--train.lr", "3e-5", "--train.batch_size", "8", "--train.group_by_length",
                                        "false", "--data.label_names", "neg,pos", "--train.adam_betas", "0.9,0.98",
                                        "--train.max_steps", "none", "--mirrors", "a/b=/x,c=/y"])
    assert recipe.train.lr == 3e-5 and recipe.train.batch_size == 8
    assert recipe.train.group_by_length is False
    assert recipe.data.label_names == ["neg", "pos"]
    assert recipe.train.adam_betas == (0.9, 0.98)
    assert recipe.train.max_steps is None
    assert recipe.mirrors == {"a/b": "/x", "c": "/y"}


def test_short_flags_match_the_hf_examples():
    recipe = apply_overrides(Recipe(), ["--model", "m", "--data", "d", "--output-dir", "o", "--epochs", "2",
                                        "--max-train-samples", "10", "--max-eval-samples", "5", "--seed", "7",
                                        "--resume", "--text-column", "review", "--label-column", "stars"])
    assert (recipe.model.name, recipe.data.source, recipe.output_dir) == ("m", "d", "o")
    assert recipe.train.epochs == 2.0 and recipe.seed == 7
    assert (recipe.data.max_train_samples, recipe.data.max_eval_samples) == (10, 5)
    assert recipe.resume == "latest"
    assert (recipe.data.text_column, recipe.data.label_column) == ("review", "stars")
    assert apply_overrides(Recipe(), ["--resume-from", "runs/x/checkpoints/step-0000010"]).resume.endswith("10")


def test_overrides_do_not_change_the_original():
    original = Recipe()
    apply_overrides(original, ["--train.lr", "1"])
    assert original.train.lr == 2e-5


@pytest.mark.parametrize("argv, message", [
    (["--train.lrr", "1"], "unknown option"),
    (["--train.lr", "fast"], "--train.lr: cannot read 'fast' as a learning rate: give a number"),
    (["--train.lr=-1e-4"], "cannot read '-1e-4' as a learning rate"),
    (["--train.group_by_length", "maybe"], "cannot read 'maybe' as bool"),
    (["--mirrors", "nonsense"], "mirrors"),
])
def test_bad_overrides_name_the_field(argv, message):
    with pytest.raises(NlptlError, match=message):
        apply_overrides(Recipe(), argv)


def test_lr_auto_parses_and_round_trips(tmp_path):
    recipe = apply_overrides(Recipe(name="x"), ["--train.lr", "AUTO", "--train.lr_find_range", "1e-7,1"])
    assert recipe.train.lr == "auto" and recipe.train.lr_find_range == (1e-7, 1.0)
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe_to_yaml(recipe))
    assert "lr: auto" in path.read_text() and load_recipe_yaml(path) == recipe
    data = recipe_to_dict(Recipe())
    data["train"]["lr"] = 3
    assert recipe_from_dict(data).train.lr == 3.0
    data["train"]["lr"] = "fast"
    with pytest.raises(NlptlError, match="cannot read 'fast' as a learning rate"):
        recipe_from_dict(data)


def test_yaml_round_trip(tmp_path):
    recipe = apply_overrides(Recipe(name="x"), ["--train.lr", "1e-4", "--data.label_names", "a,b,c"])
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe_to_yaml(recipe))
    assert load_recipe_yaml(path) == recipe


def test_yaml_rejects_unknown_fields():
    data = recipe_to_dict(Recipe())
    data["train"]["learning_rate"] = 1
    with pytest.raises(NlptlError, match="train.learning_rate"):
        recipe_from_dict(data)


@pytest.mark.parametrize("path", REPO_RECIPES)
def test_repo_recipes_load(path):
    from conftest import REPO

    recipe = load_recipe_file(str(REPO / path))
    assert recipe.data.source.startswith("stanfordnlp/") and recipe.model.name == "bert-base-uncased"
