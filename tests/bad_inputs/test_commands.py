"""The bad-input corpus outside data files: recipes, models, output paths, push, resume and compare.

Each case builds its situation under `tmp_path` and returns the command line, the folder that must stay
byte-identical and the names the message must contain; `expect_clean_failure` checks the rest (exit code 2,
one or two lines, no traceback). Unwritable places: a path under a regular file, or the `read_only` /
`disk_full` patches (root ignores chmod).
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from bad_input import disk_full, expect_clean_failure, read_only, run_cli
from conftest import synthetic_reviews, tiny_recipe
from test_safe_loading import write_custom_code_model

import nlptl
from nlptl.recipe import load_recipe_yaml, recipe_to_yaml


@dataclass
class Case:
    argv: list[str]
    watch: Path
    names: list[str]
    kept: list[str] = field(default_factory=list)
    patch: AbstractContextManager = field(default_factory=nullcontext)
    after: Callable[[], None] | None = None  # a check once the failure is confirmed (e.g. --resume now works)


@dataclass
class World:
    tmp: Path
    model: Path  # the tiny BERT (a masked-LM checkpoint: not a classifier)
    data: Path
    run: Path  # a finished tiny run: checkpoints step-2 and step-4, model, recipe.yaml
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def recipe_yaml(self, **changes) -> Path:
        recipe = tiny_recipe(self.model, self.data, self.tmp / "out", max_steps=2, eval_every=2)
        path = self.tmp / "recipe.yaml"
        text = recipe_to_yaml(recipe)
        for old, new in changes.items():
            text = text.replace(old, new)
        path.write_text(text)
        return path

    def copy_run(self, name: str = "copy", interrupted_at: int | None = None) -> Path:
        """A copy of the finished run; `interrupted_at`: as if killed after that checkpoint (later checkpoints,
        history and final outputs gone). Its recipe.yaml names its own folder, as `nlptl train` writes it."""
        dest = self.tmp / name
        shutil.copytree(self.run, dest)
        recipe = dataclasses.replace(load_recipe_yaml(dest / "recipe.yaml"), output_dir=str(dest))
        (dest / "recipe.yaml").write_text(recipe_to_yaml(recipe))
        if interrupted_at is not None:
            for path in dest.iterdir():
                if path.is_file() and path.name not in ("recipe.yaml", "history.jsonl"):
                    path.unlink()
            for checkpoint in (dest / "checkpoints").iterdir():
                if int(checkpoint.name.split("-")[1]) > interrupted_at:
                    shutil.rmtree(checkpoint)
            lines = (dest / "history.jsonl").read_text().splitlines()
            kept = [line for line in lines if json.loads(line)["step"] <= interrupted_at]
            (dest / "history.jsonl").write_text("".join(line + "\n" for line in kept))
        return dest

    def resume(self, run: Path, *extra: str) -> list[str]:
        return ["train", str(run / "recipe.yaml"), "--output-dir", str(run), "--resume", *extra]

    def a_file(self, name: str = "somefile") -> Path:
        path = self.tmp / name
        path.write_text("a regular file, not a folder\n")
        return path

    def reviews_csv(self) -> Path:
        path = self.tmp / "reviews.csv"
        synthetic_reviews(20, seed=5).rename(columns={"label": "gold"}).to_csv(path, index=False)
        return path


# ---- recipes -----------------------------------------------------------------------------------------------
def recipe_unknown_field(w: World) -> Case:
    return Case(["train", str(w.recipe_yaml(**{"  lr: ": "  lrr: "}))], w.tmp, ["train.lrr"])


def recipe_unknown_override(w: World) -> Case:
    return Case(["train", str(w.recipe_yaml()), "--train.lrr", "1e-3"], w.tmp, ["--train.lrr"])


def recipe_bad_type_in_yaml(w: World) -> Case:
    return Case(["train", str(w.recipe_yaml(**{"  batch_size: 16": "  batch_size: sixteen"}))], w.tmp,
                ["train.batch_size", "sixteen"])


def recipe_bad_type_override(w: World) -> Case:
    return Case(["train", str(w.recipe_yaml()), "--train.epochs", "many"], w.tmp, ["train.epochs", "many"])


def recipe_bad_list_type(w: World) -> Case:
    return Case(["train", str(w.recipe_yaml(**{"  max_length: 32": "  max_length: [32]"}))], w.tmp,
                ["data.max_length"])


def recipe_bad_scheduler(w: World) -> Case:
    return Case(["train", str(w.recipe_yaml()), "--train.scheduler", "wavy"], w.tmp, ["wavy", "scheduler"])


def recipe_bad_precision(w: World) -> Case:
    return Case(["train", str(w.recipe_yaml()), "--train.mixed_precision", "fp8"], w.tmp, ["fp8", "mixed_precision"])


def recipe_bad_task(w: World) -> Case:
    return Case(["train", str(w.recipe_yaml()), "--task", "summarization"], w.tmp, ["summarization"])


def recipe_bad_strategy(w: World) -> Case:
    return Case(["train", str(w.recipe_yaml()), "--strategy.name", "magic"], w.tmp, ["magic"])


def recipe_bad_truncation(w: World) -> Case:
    return Case(["train", str(w.recipe_yaml()), "--data.truncation", "middle"], w.tmp, ["middle", "truncation"])


def recipe_missing(w: World) -> Case:
    return Case(["train", str(w.tmp / "no_such_recipe.py")], w.tmp, ["no_such_recipe.py"])


def recipe_python_syntax_error(w: World) -> Case:
    path = w.tmp / "broken.py"
    path.write_text("from nlptl import Recipe\nrecipe = Recipe(name='x'\n")
    return Case(["train", str(path)], w.tmp, ["broken.py", "line"])


def recipe_python_raises(w: World) -> Case:
    path = w.tmp / "raises.py"
    path.write_text("from nlptl import Recipe\nrecipe = Recipe(nme='x')\n")
    return Case(["train", str(path)], w.tmp, ["raises.py", "nme"])


def recipe_defines_no_recipe(w: World) -> Case:
    path = w.tmp / "empty_recipe.py"
    path.write_text("from nlptl import Recipe\nsettings = {'name': 'x'}\n")
    return Case(["train", str(path)], w.tmp, ["empty_recipe.py", "recipe = Recipe"])


def recipe_yaml_syntax_error(w: World) -> Case:
    path = w.tmp / "broken.yaml"
    path.write_text("name: x\ntrain: {lr: 1e-3\n")
    return Case(["train", str(path)], w.tmp, ["broken.yaml"])


def recipe_yaml_not_a_mapping(w: World) -> Case:
    path = w.tmp / "list.yaml"
    path.write_text("- name\n- x\n")
    return Case(["train", str(path)], w.tmp, ["list.yaml", "mapping"])


# ---- models ------------------------------------------------------------------------------------------------
def model_nonexistent_dir(w: World) -> Case:
    return Case(["train", str(w.recipe_yaml()), "--model", "/nonexistent/model/dir"], w.tmp,
                ["/nonexistent/model/dir", "no such directory"])


def model_dir_without_config(w: World) -> Case:
    empty = w.tmp / "empty-model"
    empty.mkdir()
    (empty / "notes.txt").write_text("no model here\n")
    return Case(["train", str(w.recipe_yaml()), "--model", str(empty)], w.tmp, [str(empty), "config.json"])


def predict_with_a_masked_lm_checkpoint(w: World) -> Case:
    return Case(["predict", str(w.model), str(w.reviews_csv()), "--output", str(w.tmp / "p.csv")], w.tmp,
                [str(w.model), "classification"])


def predict_with_a_nonexistent_model(w: World) -> Case:
    return Case(["predict", "./no/such/model", str(w.reviews_csv()), "--output", str(w.tmp / "p.csv")], w.tmp,
                ["./no/such/model", "no such directory"])


def model_with_custom_code(w: World) -> Case:
    folder = w.tmp / "custom-code-model"
    write_custom_code_model(folder, marker=w.tmp / "custom-code-ran")
    return Case(["predict", str(folder), str(w.reviews_csv()), "--output", str(w.tmp / "p.csv")], w.tmp,
                [str(folder), "trust_remote_code"])


# ---- output paths ------------------------------------------------------------------------------------------
def train_output_under_a_file(w: World) -> Case:
    blocker = w.a_file()
    return Case(["train", str(w.recipe_yaml()), "--output-dir", str(blocker / "run")], w.tmp,
                [str(blocker / "run")])


def predict_output_under_a_file(w: World) -> Case:
    blocker = w.a_file()
    return Case(["predict", str(w.run), str(w.reviews_csv()), "--output", str(blocker / "dir" / "p.csv")], w.tmp,
                [str(blocker / "dir"), "--output"])


def predict_output_read_only(w: World) -> Case:
    folder = w.tmp / "read-only"
    folder.mkdir()
    return Case(["predict", str(w.run), str(w.reviews_csv()), "--output", str(folder / "p.csv")], w.tmp,
                [str(folder), "Read-only file system"], patch=read_only(w.monkeypatch, folder))


def train_disk_full_during_checkpoint(w: World) -> Case:
    run = w.copy_run(interrupted_at=2)
    real_save = torch.save

    def full_save(obj, f, *args, **kwargs):  # writes part of the file, then the disk is full
        real_save(obj, f, *args, **kwargs)
        with open(f, "r+b") as handle:
            handle.truncate(os.path.getsize(f) // 2)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(f))

    w.monkeypatch.setattr(torch, "save", full_save)
    return Case(w.resume(run), run, ["step-0000004", "No space left on device", "--resume"])


def train_disk_full_during_final_save(w: World) -> Case:
    run = w.copy_run(interrupted_at=4)  # resumes from the last checkpoint: evaluates, then saves the model
    w.monkeypatch.setattr("nlptl.run.write_json", failing_write)  # metrics.json, after the model and tokenizer
    return Case(w.resume(run), run, [str(run), "No space left on device", "--resume"])


def failing_write(path, data) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def train_read_only_checkpoints_on_resume(w: World) -> Case:
    run = w.copy_run(interrupted_at=2)
    return Case(w.resume(run), run, [str(run / "checkpoints"), "Read-only file system"],
                patch=read_only(w.monkeypatch, run / "checkpoints"))


def train_existing_run_without_overwrite(w: World) -> Case:
    run = w.copy_run()  # --output-dir named: rerunning a saved recipe.yaml alone would train into copy-2 instead
    return Case(["train", str(run / "recipe.yaml"), "--output-dir", str(run)], run,
                [str(run), "--overwrite-output-dir", "--resume"])


def predict_disk_full_writing_the_output(w: World) -> Case:
    output = w.tmp / "out" / "p.csv"
    output.parent.mkdir()
    w.monkeypatch.setattr("nlptl.inference.writers.open", disk_full(after_bytes=50), raising=False)
    argv = ["predict", str(w.run), str(w.reviews_csv()), "--output", str(output), "--no-progress"]

    def resumes() -> None:  # the predictions were kept: --resume writes the output without predicting again
        w.monkeypatch.undo()
        assert run_cli(argv + ["--resume"], w.capsys).code is None
        assert len(output.read_text().splitlines()) == 21
    return Case(argv, output.parent, [str(output), "No space left on device", "--resume"],
                kept=[".p.csv.nlptl-predict"], after=resumes)


def predict_disk_full_writing_a_part(w: World) -> Case:
    output = w.tmp / "out" / "p.csv"
    output.parent.mkdir()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    w.monkeypatch.setattr("nlptl.inference.workdir.pq.write_table", full)
    return Case(["predict", str(w.run), str(w.reviews_csv()), "--output", str(output), "--no-progress"],
                output.parent, [".p.csv.nlptl-predict", "No space left on device", "--resume"],
                kept=[".p.csv.nlptl-predict"])


def predict_existing_output(w: World) -> Case:
    output = w.tmp / "p.csv"
    output.write_text("text,label\nkept,yes\n")
    return Case(["predict", str(w.run), str(w.reviews_csv()), "--output", str(output)], w.tmp,
                [str(output), "--overwrite"])


# ---- push --------------------------------------------------------------------------------------------------
def push_missing_run_dir(w: World) -> Case:
    return Case(["push", str(w.tmp / "no-run"), "user/model", "--to-dir", str(w.tmp / "up")], w.tmp,
                [str(w.tmp / "no-run")])


def push_without_recipe(w: World) -> Case:
    run = w.copy_run()
    (run / "recipe.yaml").unlink()
    return Case(["push", str(run), "user/model", "--to-dir", str(w.tmp / "up")], w.tmp, ["recipe.yaml", str(run)])


def push_without_model(w: World) -> Case:
    run = w.copy_run()
    (run / "model.safetensors").unlink()
    return Case(["push", str(run), "user/model", "--to-dir", str(w.tmp / "up")], w.tmp, [str(run), "safetensors"])


def push_to_dir_exists(w: World) -> Case:
    target = w.tmp / "up"
    target.mkdir()
    (target / "mine.txt").write_text("someone's file\n")
    return Case(["push", str(w.run), "user/model", "--to-dir", str(target)], w.tmp, [str(target)])


def push_to_dir_under_a_file(w: World) -> Case:
    blocker = w.a_file()
    return Case(["push", str(w.run), "user/model", "--to-dir", str(blocker / "up")], w.tmp, [str(blocker / "up")])


# ---- resume ------------------------------------------------------------------------------------------------
def resume_without_checkpoint(w: World) -> Case:
    run = w.copy_run(interrupted_at=0)
    return Case(w.resume(run), run, [str(run / "checkpoints"), "--overwrite_output_dir"])


def resume_from_a_folder_that_is_no_checkpoint(w: World) -> Case:
    run = w.copy_run(interrupted_at=2)
    return Case(["train", str(run / "recipe.yaml"), "--output-dir", str(run), "--resume", str(w.tmp)], run,
                [str(w.tmp), "checkpoint"])


def resume_corrupt_weights(w: World) -> Case:
    run = w.copy_run(interrupted_at=4)
    weights = run / "checkpoints" / "step-0000004" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    return Case(w.resume(run), run, ["step-0000004", "--resume"])


def resume_corrupt_optimizer(w: World) -> Case:
    run = w.copy_run(interrupted_at=4)
    optimizer = run / "checkpoints" / "step-0000004" / "optimizer.bin"
    optimizer.write_bytes(optimizer.read_bytes()[:500])
    return Case(w.resume(run), run, ["step-0000004", "--resume"])


def resume_corrupt_rng_state(w: World) -> Case:
    run = w.copy_run(interrupted_at=4)
    (run / "checkpoints" / "step-0000004" / "random_states_0.pkl").write_bytes(b"\x80\x04garbage")
    return Case(w.resume(run), run, ["step-0000004"])


def resume_corrupt_loop_state(w: World) -> Case:
    run = w.copy_run(interrupted_at=4)
    (run / "checkpoints" / "step-0000004" / "loop_state.json").write_text('{"step": 4, "epo')
    return Case(w.resume(run), run, ["step-0000004"])


def predict_resume_with_other_options(w: World) -> Case:
    output = w.tmp / "p.csv"
    work = w.tmp / ".p.csv.nlptl-predict"
    work.mkdir()
    (work / "manifest.json").write_text(json.dumps({"chunk_size": 1, "input": "other.csv"}))
    return Case(["predict", str(w.run), str(w.reviews_csv()), "--output", str(output), "--resume"], w.tmp,
                [str(work), "--overwrite"])


# ---- compare -----------------------------------------------------------------------------------------------
def compare_bad_budget(w: World) -> Case:
    return Case(["compare", str(w.recipe_yaml()), "--budgets", "10,many", "--output-dir", str(w.tmp / "grid")],
                w.tmp, ["--budgets", "many"])


def compare_output_under_a_file(w: World) -> Case:
    blocker = w.a_file()
    return Case(["compare", str(w.recipe_yaml()), "--budgets", "32", "--seeds", "1", "--strategies", "full",
                 "--output-dir", str(blocker / "grid")], w.tmp, [str(blocker / "grid")])


CASES = [recipe_unknown_field, recipe_unknown_override, recipe_bad_type_in_yaml, recipe_bad_type_override,
         recipe_bad_list_type, recipe_bad_scheduler, recipe_bad_precision, recipe_bad_task, recipe_bad_strategy,
         recipe_bad_truncation, recipe_missing, recipe_python_syntax_error, recipe_python_raises,
         recipe_defines_no_recipe, recipe_yaml_syntax_error, recipe_yaml_not_a_mapping,
         model_nonexistent_dir, model_dir_without_config, predict_with_a_masked_lm_checkpoint,
         predict_with_a_nonexistent_model, model_with_custom_code,
         train_output_under_a_file, predict_output_under_a_file, predict_output_read_only,
         train_disk_full_during_checkpoint, train_disk_full_during_final_save, train_read_only_checkpoints_on_resume,
         train_existing_run_without_overwrite, predict_disk_full_writing_the_output, predict_disk_full_writing_a_part,
         predict_existing_output,
         push_missing_run_dir, push_without_recipe, push_without_model, push_to_dir_exists, push_to_dir_under_a_file,
         resume_without_checkpoint, resume_from_a_folder_that_is_no_checkpoint, resume_corrupt_weights,
         resume_corrupt_optimizer, resume_corrupt_rng_state, resume_corrupt_loop_state,
         predict_resume_with_other_options, compare_bad_budget, compare_output_under_a_file]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir, tiny_data_dir) -> Path:
    out = tmp_path_factory.mktemp("bad-inputs") / "run"
    nlptl.train(tiny_recipe(tiny_model_dir, tiny_data_dir, out, max_steps=4, eval_every=2, keep_checkpoints=5))
    return out


@pytest.mark.parametrize("case", CASES, ids=[case.__name__ for case in CASES])
def test_fails_cleanly_and_loses_nothing(case, tmp_path, tiny_model_dir, tiny_data_dir, finished_run, monkeypatch,
                                         capsys):
    monkeypatch.chdir(tmp_path)  # a default output dir (runs/<name>) would land here
    world = World(tmp_path, tiny_model_dir, tiny_data_dir, finished_run, monkeypatch, capsys)
    built = case(world)
    with built.patch:
        expect_clean_failure(built.argv, capsys, watch=built.watch, names=built.names, kept=built.kept)
    if built.after:
        built.after()
