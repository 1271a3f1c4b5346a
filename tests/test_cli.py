"""The command line: help without a recipe, both flag spellings, one --resume style, rerunning a saved run, the
recipe-free quick start (CSV and NER parquet) and `nlptl init`, end to end on the tiny BERT; user errors in one line."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import FILLER, POSITIVE, REPO, synthetic_reviews

from nlptl.cli import build_parser
from nlptl.cli import main as cli_main
from nlptl.compare import parse_args as compare_args
from nlptl.fields import fields_of, type_name
from nlptl.overrides import apply_overrides, field_reference, flag_of, format_value
from nlptl.recipe import Recipe, load_recipe_file, load_recipe_yaml

FAST = ["--train.max_steps", "3", "--train.batch_size", "16", "--train.lr", "3e-3", "--train.mixed_precision", "no",
        "--train.log_with", "", "--data.max_length", "32", "--train.warmup_ratio", "0"]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of one `nlptl` call in this process."""
    try:
        cli_main(argv)
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reviews_csv(tmp_path_factory) -> Path:
    """A plain labelled CSV as a user has it: text in `review`, string classes in `stars`, no `text` column."""
    frame = synthetic_reviews(160, seed=5)
    frame = pd.DataFrame({"id": range(len(frame)), "review": frame["text"],
                          "stars": ["five" if label else "one" for label in frame["label"]]})
    path = tmp_path_factory.mktemp("byod") / "reviews.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def ner_parquet(tmp_path_factory) -> Path:
    """Words and string IOB2 tags under the user's own column names (`words`, `tags`)."""
    rng = random.Random(3)
    rows = []
    for _ in range(96):
        words = rng.choices(FILLER, k=rng.randint(3, 8))
        tags = ["O"] * len(words)
        at = rng.randrange(len(words))
        words.insert(at, rng.choice(POSITIVE).capitalize())
        tags.insert(at, "B-PER")
        rows.append({"words": words, "tags": tags})
    path = tmp_path_factory.mktemp("byod-ner") / "people.parquet"
    pd.DataFrame(rows).to_parquet(path)
    return path


# -- help and the field reference ------------------------------------------------------------------------------------

def test_every_field_has_a_one_line_description():
    fields = fields_of(Recipe())
    missing = [name for name, info in fields.items() if not info.help]
    assert not missing, f"add a `# comment` after these fields in nlptl/recipe.py: {missing}"
    assert all("\n" not in info.help for info in fields.values())


def test_train_help_works_without_a_recipe_and_lists_every_field(capsys):
    code, out, _ = run_cli(["train", "--help"], capsys)
    assert code == 0
    flat = " ".join(out.split())  # argparse wraps lines
    for name, info in fields_of(Recipe()).items():
        if name != "resume":  # shown as its two flags, --resume and --resume-from CHECKPOINT
            assert flag_of(name) in flat and info.help in flat, name
    assert "--resume resume: latest, i.e. continue the interrupted run" in flat
    assert "--resume-from CHECKPOINT resume: continue from this checkpoint" in flat
    assert "passes over the training set (fractions allowed) (float; default 3.0)" in flat
    assert "(float | auto; default 2e-05)" in flat and "(list[str] | None; default none)" in flat


def test_train_help_shows_the_recipes_own_values_as_defaults(tmp_path, capsys):
    recipe = Recipe(name="mine")
    recipe.train.epochs, recipe.data.label_names = 7.0, ["neg", "pos"]
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({"name": "mine", "train": {"epochs": 7}, "data": {"label_names": ["neg", "pos"]}}))
    code, out, _ = run_cli(["train", str(path), "--help"], capsys)
    flat = " ".join(out.split())
    assert code == 0 and "(float; default 7.0)" in flat and "(list[str] | None; default neg,pos)" in flat


def test_docs_field_reference_is_up_to_date():
    docs = (REPO / "docs" / "cli.md").read_text()
    begin, end = "<!-- field reference: generated -->\n", "<!-- end of field reference -->"
    current = docs[docs.index(begin) + len(begin):docs.index(end)]
    assert current == field_reference(), "regenerate it: python3 -m nlptl.overrides docs/cli.md"
    assert max(len(line) for line in docs.splitlines()) <= 160


def test_type_names_read_as_written():
    fields = fields_of(Recipe())
    assert type_name(fields["train.adam_betas"].type) == "tuple[float, float]"
    assert type_name(fields["mirrors"].type) == "dict[str, str]"
    assert format_value(fields["train.adam_betas"].value) == "0.9,0.999"


# -- spellings and --resume -----------------------------------------------------------------------------------------

def test_dash_and_underscore_spellings_are_the_same_flag():
    dashes = apply_overrides(Recipe(), ["--output-dir", "o", "--overwrite-output-dir", "--train.batch-size", "8",
                                        "--max-train-samples", "3", "--push-to-hub", "me/x", "--data.text-column=t"])
    underscores = apply_overrides(Recipe(), ["--output_dir", "o", "--overwrite_output_dir", "true",
                                             "--train.batch_size", "8", "--max_train_samples", "3", "--push_to_hub",
                                             "me/x", "--data.text_column=t"])
    assert dashes == underscores
    assert (dashes.output_dir, dashes.overwrite_output_dir, dashes.train.batch_size) == ("o", True, 8)
    assert (dashes.data.max_train_samples, dashes.push_to_hub, dashes.data.text_column) == (3, "me/x", "t")


def test_other_commands_take_both_spellings_too():
    predict = build_parser().parse_args(["predict", "m", "in.csv", "--output", "o.csv", "--text_column", "body",
                                         "--batch_size", "8", "--all_scores", "--no_progress", "--resume"])
    assert (predict.text_column, predict.batch_size, predict.all_scores, predict.resume) == ("body", 8, True, True)
    push = build_parser().parse_args(["push", "runs/x", "me/x", "--to_dir", "d", "--commit_message", "m"])
    assert (push.to_dir, push.commit_message) == ("d", "m")
    args, rest = compare_args(["--output_dir", "grid", "--train.lr", "1e-3"])
    assert args.output_dir == "grid" and rest == ["--train.lr", "1e-3"]


def test_resume_is_a_flag_and_a_checkpoint_is_given_with_resume_from():
    assert apply_overrides(Recipe(), ["--resume"]).resume == "latest"
    assert apply_overrides(Recipe(), ["--resume-from", "runs/x/checkpoints/step-0000004"]).resume.endswith("04")


# -- user errors: one line, exit code 2, no traceback, nothing written ------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["train", "--train.lrr", "1"], "unknown option --train.lrr: did you mean --train.lr?"),
    (["train", "--epochs", "many"], "--train.epochs: cannot read 'many' as float"),
    (["train", "--task", "sentiment", "--data", "x.csv"], "unknown task 'sentiment': choose one of"),
    (["train"], "nlptl train needs a recipe or your data"),
    (["train", "--resume", "runs/x/checkpoints/step-1"], "pass --resume-from runs/x/checkpoints/step-1"),
    (["train", "--data", "no/such/dir/file.csv"], "no such file: no/such/dir/file.csv"),
    (["train", "no_such_recipe.py"], "recipe file no_such_recipe.py not found"),
    (["init", "sentiment"], "invalid choice: 'sentiment'"),
    (["predict", "m", "in.csv"], "required: --output"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_user_errors_are_one_line_with_exit_code_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and not out
    assert not any(tmp_path.iterdir())  # nothing written


def test_quick_start_without_a_text_column_says_which_flag(reviews_csv, tiny_model_dir, tmp_path, capsys):
    code, _, err = run_cli(["train", "--data", str(reviews_csv), "--model", str(tiny_model_dir),
                            "--output-dir", str(tmp_path / "run")], capsys)
    assert code == 2 and err.strip().splitlines() == [
        f"nlptl: error: {reviews_csv} has no column 'text' (its columns: id, review, stars): pass --text-column COLUMN"]
    code, _, err = run_cli(["train", "--data", str(reviews_csv), "--text-column", "review", "--label-column", "score",
                            "--output-dir", str(tmp_path / "run")], capsys)
    assert code == 2 and "has no column 'score' (its columns: id, review, stars): pass --label-column" in err
    assert not (tmp_path / "run").exists()


# -- quick start, rerun, init: end to end on the tiny BERT ------------------------------------------------------------

def test_quick_start_trains_from_a_csv_and_reruns_its_recipe_yaml(reviews_csv, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "runs" / "reviews"
    code, _, err = run_cli(["train", "--data", str(reviews_csv), "--text-column", "review", "--label-column", "stars",
                            "--model", str(tiny_model_dir), "--output-dir", str(out), *FAST], capsys)
    assert code == 0, err
    saved = load_recipe_yaml(out / "recipe.yaml")
    assert (saved.name, saved.task, saved.data.text_column, saved.data.label_column) == (
        "reviews", "sequence_classification", "review", "stars")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["validation"]["num_examples"] == 16  # carved from train: data.validation_size 0.1 of 160
    assert json.loads((out / "config.json").read_text())["id2label"] == {"0": "five", "1": "one"}  # from train
    new_rows = tmp_path / "new_reviews.csv"
    pd.DataFrame({"review": ["a great film", "the plot was dull"]}).to_csv(new_rows, index=False)
    code, _, err = run_cli(["predict", str(out), str(new_rows), "--output", str(tmp_path / "p.csv"), "--no_progress",
                            "--precision", "fp32"], capsys)  # the README's second command: the training column
    predicted = pd.read_csv(tmp_path / "p.csv")
    assert code == 0 and list(predicted["review"]) == ["a great film", "the plot was dull"], err
    assert set(predicted["label"]) <= {"five", "one"}

    before = snapshot(out)
    code, _, err = run_cli(["train", str(out / "recipe.yaml")], capsys)  # as the README says: a new dir
    assert code == 0, err
    rerun = out.with_name("reviews-2")
    assert f"{out} already holds a run: training into {rerun}" in err
    assert snapshot(out) == before
    assert load_recipe_yaml(rerun / "recipe.yaml").output_dir == str(rerun)
    assert json.loads((rerun / "metrics.json").read_text())["validation"] == metrics["validation"]  # same seed

    code, _, err = run_cli(["train", str(out / "recipe.yaml"), "--output-dir", str(out)], capsys)
    assert code == 2 and "continue it with --resume, replace it with --overwrite-output-dir" in err
    assert len(err.strip().splitlines()) == 1 and snapshot(out) == before


def test_quick_start_infers_ner_from_a_words_column(ner_parquet, tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "ner"
    code, _, err = run_cli(["train", "--data", str(ner_parquet), "--text-column", "words", "--label-column", "tags",
                            "--model", str(tiny_model_dir), "--output-dir", str(out), *FAST], capsys)
    assert code == 0, err
    saved = load_recipe_yaml(out / "recipe.yaml")
    assert (saved.task, saved.data.tokens_column, saved.data.tags_column) == ("token_classification", "words", "tags")
    assert "f1" in json.loads((out / "metrics.json").read_text())["validation"]


def test_init_writes_a_recipe_that_trains(reviews_csv, tiny_model_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(["init", "text_classification"], capsys)
    assert code == 0 and "nlptl train my_classifier.py" in out
    text = (tmp_path / "my_classifier.py").read_text()
    assert "max_length=256,  # tokens per row" in text  # the field's help, as in --help
    recipe = load_recipe_file(tmp_path / "my_classifier.py")
    assert (recipe.name, recipe.task, recipe.data.source) == ("my_classifier", "sequence_classification", "my_data.csv")
    assert recipe.train == Recipe().train and recipe.model == Recipe().model
    code, _, err = run_cli(["train", "my_classifier.py", "--data", str(reviews_csv), "--text-column", "review",
                            "--label-column", "stars", "--model", str(tiny_model_dir), *FAST], capsys)
    assert code == 0, err
    assert (tmp_path / "runs" / "my_classifier" / "model.safetensors").exists()

    code, _, _ = run_cli(["init", "ner", "tags.py"], capsys)
    ner = load_recipe_file(tmp_path / "tags.py")
    assert code == 0 and (ner.task, ner.data.tokens_column) == ("token_classification", "tokens")
    before = (tmp_path / "tags.py").read_bytes()
    code, _, err = run_cli(["init", "ner", "tags.py"], capsys)
    assert code == 2 and "tags.py already exists" in err and (tmp_path / "tags.py").read_bytes() == before
