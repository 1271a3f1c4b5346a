"""`nlptl compare`: a strategies x budgets x seeds grid of tiny runs, its three reports, and resumption."""

import csv
from pathlib import Path

import pytest
import yaml
from conftest import tiny_recipe

import nlptl
from nlptl import NlptlError
from nlptl.cli import main as cli_main
from nlptl.compare import compare
from nlptl.compare.grid import Arm, Cell, cells, parse_budgets, parse_seeds, parse_strategies
from nlptl.recipe import load_recipe_yaml, recipe_to_dict


def test_grid_arguments():
    assert parse_budgets("100, 500,all") == [100, 500, None]
    assert parse_seeds("3", 42) == [42, 43, 44] and parse_seeds("1,7", 42) == [1, 7]
    assert parse_strategies("full,lora", ["full", "lora", "distill"]) == [Arm("full"), Arm("lora")]
    lora = parse_strategies("lora:train.lr=5e-4:strategy.lora_r=4", ["lora"])[0]
    assert lora.overrides == (("train.lr", "5e-4"), ("strategy.lora_r", "4"))
    assert lora.label == "lora:train.lr=5e-4:strategy.lora_r=4"
    for call, message in ((lambda: parse_budgets("100,lots"), "'lots' is not a positive number"),
                          (lambda: parse_seeds("0", 1), "at least one seed"),
                          (lambda: parse_strategies("full,magic", ["full"]), "unknown magic"),
                          (lambda: parse_strategies("full:lr", ["full"]), "NAME:section.field=VALUE")):
        with pytest.raises(NlptlError, match=message):
            call()
    grid = cells(["a", "b"], [10, None], [1, 2])
    assert len(grid) == 8 and grid[0] == Cell(Arm("a"), 10, 1) and grid[-1] == Cell(Arm("b"), None, 2)
    assert str(Cell(Arm("full"), None, 3).output_dir(Path("g"))) == "g/full/nall/seed3"
    assert str(Cell(lora, 8, 1).output_dir(Path("g"))) == "g/lora_train.lr=5e-4_strategy.lora_r=4/n8/seed1"


@pytest.mark.slow  # eight training cells
def test_compare_writes_the_reports_and_skips_finished_cells(tiny_model_dir, tiny_data_dir, tmp_path, capsys):
    base = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "unused", max_steps=1, keep_checkpoints=1)
    base.data.max_eval_samples = 16
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(recipe_to_dict(base)))
    grid = tmp_path / "grid"
    fe = "feature_extraction:train.lr=1e-2"  # a strategy with its own learning rate
    cli_main(["compare", str(recipe_file), "--strategies", f"full,{fe}", "--budgets", "16,all",
              "--seeds", "2", "--output-dir", str(grid), "--train.lr", "1e-3"])
    rows = list(csv.DictReader((grid / "compare.csv").open()))
    assert len(rows) == 8
    assert {(r["strategy"], r["budget"], r["seed"]) for r in rows} == {
        (s, b, str(seed)) for s in ("full", fe) for b in ("16", "all") for seed in (42, 43)}
    assert {r["train_examples"] for r in rows if r["budget"] == "16"} == {"16"}
    assert {r["train_examples"] for r in rows if r["budget"] == "all"} == {"256"}
    assert {r["split"] for r in rows} == {"test"} and {r["metric"] for r in rows} == {"accuracy"}
    assert all(int(r["trainable_parameters"]) < int(r["total_parameters"]) for r in rows
               if r["strategy"] == fe)
    def lr_of(folder):
        return load_recipe_yaml(grid / folder / "n16" / "seed42" / "recipe.yaml").train.lr

    assert lr_of("feature_extraction_train.lr=1e-2") == 1e-2 and lr_of("full") == 1e-3
    table = (grid / "compare.md").read_text()
    assert f"| {fe} |" in table and " ± " in table and "| strategy | 16 | all |" in table
    assert (grid / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (grid / "full" / "n16" / "seed43" / "model.safetensors").exists()
    assert not list(grid.glob("*/*/*/checkpoints/*"))  # a finished cell keeps its model, not its optimizer state

    (grid / "full" / "nall" / "seed42" / "metrics.json").unlink()  # as if interrupted before the end
    ran = []

    def train(recipe):
        ran.append(recipe.output_dir)
        return nlptl.train(recipe)

    base.train.lr = 1e-3
    again = compare(base, [Arm("full"), parse_strategies(fe, ["feature_extraction"])[0]], [16, None], [42, 43],
                    grid, train=train)
    assert ran == [str(grid / "full" / "nall" / "seed42")]
    assert [r["score"] for r in again] == [float(r["score"]) for r in rows]


def test_compare_cli_errors_are_one_line(tiny_model_dir, tiny_data_dir, tmp_path, capsys):
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(recipe_to_dict(tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path))))
    with pytest.raises(SystemExit) as stop:
        cli_main(["compare", str(recipe_file), "--strategies", "full,nope"])
    assert stop.value.code == 2 and "unknown nope" in capsys.readouterr().err
