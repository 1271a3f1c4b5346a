"""`nlptl tune` and `nlptl ensemble` on the tiny BERT: the space parser, a 3-trial study killed and resumed,
pruning, two worker processes on one study, and an ensemble folder that `Predictor` loads."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import torch
import yaml
from conftest import REPO, tiny_recipe

import nlptl
from nlptl import NlptlError
from nlptl.cli import main as cli_main
from nlptl.ensemble import build_ensemble, parse_weights
from nlptl.recipe import Recipe, load_recipe_yaml, recipe_to_dict
from nlptl.tune import tune
from nlptl.tune.space import apply, parse_space, suggest

SPACE = "train.lr=loguniform(1e-4,1e-2);train.batch_size=choice(8,16)"


def quick_recipe(model_dir: Path, data_dir: Path, **train) -> Recipe:
    """Trials of a few steps, evaluated every 2 steps on 16 rows."""
    settings = {"max_steps": 6, "eval_every": 2, "keep_checkpoints": 1, **train}
    recipe = tiny_recipe(model_dir, data_dir, Path("unused"), **settings)
    recipe.data.max_train_samples, recipe.data.max_eval_samples = 64, 16
    return recipe


def recipe_file(recipe: Recipe, folder: Path) -> Path:
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe_to_dict(recipe)))
    return path


def tune_command(recipe_path: Path, root: Path, *extra: str, worker: tuple[str, ...] = ()) -> list[str]:
    """`nlptl tune` in a new process; `worker`: a fault or rendezvous of tests/tune_worker.py."""
    args = ["tune", str(recipe_path), "--trials", "3", "--space", SPACE, "--output-dir", str(root), *extra]
    return [sys.executable, str(Path(__file__).with_name("tune_worker.py")), *worker, "--", *args[1:]]


def subprocess_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def study_of(root: Path, name: str = "tiny") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{root / 'study.db'}")


# ---- the space ---------------------------------------------------------------------------------------------
def test_space_inline_file_and_conditions(tmp_path):
    base = Recipe()
    space_file = tmp_path / "space.yaml"
    space_file.write_text("strategy.name: choice(full, lora)\n"
                          "strategy.lora_r: choice(4, 8) if strategy.name=lora\n")
    params = parse_space([SPACE + ";train.epochs=int(1,4)", str(space_file)], base)
    assert [(p.field, p.kind) for p in params] == [("train.lr", "loguniform"), ("train.batch_size", "choice"),
                                                   ("train.epochs", "int"), ("strategy.name", "choice"),
                                                   ("strategy.lora_r", "choice")]
    assert params[0].args == (1e-4, 1e-2) and params[1].args == (8, 16) and params[4].when == ("strategy.name",
                                                                                                ("lora",))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = []
    for _ in range(12):
        values = suggest(study.ask(), params)
        seen.append(values)
        assert ("strategy.lora_r" in values) == (values["strategy.name"] == "lora")  # only when the strategy is lora
        assert 1e-4 <= values["train.lr"] <= 1e-2 and values["train.epochs"] in (1, 2, 3, 4)
    recipe = apply(base, seen[0])
    assert recipe.train.lr == seen[0]["train.lr"] and base.train.lr == 2e-5  # a copy; the base is untouched
    assert [p.field for p in parse_space([], base)][:2] == ["train.lr", "train.batch_size"]  # the default space


@pytest.mark.parametrize(("spec", "message"), [
    ("train.lrr=loguniform(1e-5,1e-3)", r"--space train.lrr: unknown recipe field 'train.lrr'; did you mean train.lr"),
    ("train.lr=logunif(1e-5,1e-3)", r"train.lr: unknown distribution 'logunif'; use loguniform\(LOW,HIGH\)"),
    ("train.lr=loguniform(0,1e-3)", r"train.lr: loguniform\(0,0.001\) needs LOW < HIGH and LOW > 0"),
    ("train.batch_size=int(8)", r"train.batch_size: write int\(LOW,HIGH\) with two integers, e.g. int\(1,4\)"),
    ("train.batch_size=choice(16,big)", r"train.batch_size=choice\(16,big\).*cannot read 'big' as int"),
    ("train.batch_size=uniform(8,64)", r"train.batch_size.*expected int, got 8.0"),
    ("strategy.lora_r=choice(4,8) if strategy.name=lora", r"strategy.lora_r: its condition names strategy.name, "
                                                           r"which is not a choice\(...\) earlier in the space"),
    ("strategy.name=choice(full,lora);strategy.lora_r=choice(4) if strategy.name=lorra",
     r"condition value\(s\) lorra are not among strategy.name's choices \(full, lora\)"),
    ("train.lr 1e-4", r"write FIELD=DISTRIBUTION\(...\), e.g. train.lr=loguniform"),
])
def test_space_errors_name_the_field_and_the_fix(spec, message):
    with pytest.raises(NlptlError, match=message):
        parse_space([spec], Recipe())


def test_bad_space_on_the_command_line_exits_2_in_one_line(tmp_path, capsys):
    path = recipe_file(Recipe(name="x"), tmp_path)
    with pytest.raises(SystemExit) as stop:
        cli_main(["tune", str(path), "--trials", "2", "--space", "train.lr=loguniform(1e-3,1e-5)",
                  "--output-dir", str(tmp_path / "t")])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and "\n" not in err
    assert "--space train.lr: loguniform(0.001,1e-05) needs LOW < HIGH" in err
    assert not (tmp_path / "t" / "study.db").exists()  # nothing is created before the space is read


# ---- a study killed and resumed -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def resumed_study(tiny_model_dir, tiny_data_dir, tmp_path_factory):
    """A 3-trial `nlptl tune` process killed (SIGKILL) during trial 1, then the same study run again."""
    folder = tmp_path_factory.mktemp("tune")
    root = folder / "tune"
    base = quick_recipe(tiny_model_dir, tiny_data_dir)
    path = recipe_file(base, folder)
    worker = subprocess.run(tune_command(path, root, worker=("kill-after-checkpoint", "trial-0001")),
                            env=subprocess_env(), capture_output=True, text=True, timeout=900)
    assert worker.returncode == -signal.SIGKILL, worker.stderr[-2000:]  # killed during trial 1
    before = {t.number: (t.state.name, t.value) for t in study_of(root).trials}
    first_metrics = (root / "trials" / "trial-0000" / "metrics.json").stat().st_mtime_ns
    ran = []

    def train(recipe, on_evaluate=None):
        ran.append((Path(recipe.output_dir).name, recipe.resume))
        return nlptl.train(recipe, on_evaluate=on_evaluate)

    summary = tune(base, 3, [SPACE], output_dir=root, train=train, ensemble_top=2)
    return {"root": root, "before": before, "ran": ran, "summary": summary, "first_metrics": first_metrics,
            "base": base}


@pytest.mark.slow  # `nlptl tune` worker processes
def test_killed_study_resumes_without_losing_or_redoing_a_trial(resumed_study):
    root, before, ran = resumed_study["root"], resumed_study["before"], resumed_study["ran"]
    assert before == {0: ("COMPLETE", before[0][1]), 1: ("RUNNING", None)}
    trials = {t.number: t for t in study_of(root).trials}
    assert {n: t.state.name for n, t in trials.items()} == {0: "COMPLETE", 1: "FAIL", 2: "COMPLETE", 3: "COMPLETE"}
    assert trials[0].value == before[0][1]  # kept, not redone:
    assert (root / "trials" / "trial-0000" / "metrics.json").stat().st_mtime_ns == resumed_study["first_metrics"]
    assert trials[2].params == trials[1].params and trials[2].system_attrs["failed_trial"] == 1  # the retry
    assert ran == [("trial-0001", "latest"), ("trial-0003", None)]  # continued from its checkpoint; one new trial
    assert not list(root.glob("trials/*/checkpoints/*"))


@pytest.mark.slow  # `nlptl tune` worker processes
def test_study_outputs(resumed_study):
    root, summary = resumed_study["root"], resumed_study["summary"]
    rows = list(csv.DictReader((root / "trials.csv").open()))
    assert [r["state"] for r in rows] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    best = max((r for r in rows if r["state"] == "COMPLETE"), key=lambda r: float(r["value"]))
    assert summary["best_value"] == float(best["value"]) and summary["trials"] == 4
    recipe = load_recipe_yaml(root / "best_recipe.yaml")  # runnable by `nlptl train`: a valid recipe
    assert recipe.train.lr == pytest.approx(float(best["params_train.lr"]))
    assert recipe.train.batch_size == int(best["params_train.batch_size"]) and recipe.output_dir == ""
    metrics = json.loads((root / "best_model" / "metrics.json").read_text())
    assert metrics["validation"]["accuracy"] == summary["best_value"]
    assert (root / "best_model" / "model.safetensors").is_file()
    for plot in ("optimization_history.png", "param_importances.png", "parallel_coordinate.png"):
        assert (root / plot).read_bytes()[:4] == b"\x89PNG"
    report = (root / "tune.md").read_text()
    assert f"validation accuracy **{summary['best_value']:.4f}**" in report and "1 fail" in report


@pytest.mark.slow  # `nlptl tune` worker processes
def test_ensemble_predicts_the_mean_of_its_members(resumed_study, tmp_path, capsys):
    root = resumed_study["root"]
    members = json.loads((root / "ensemble" / "ensemble.json").read_text())["sources"]
    best = root / "trials" / f"trial-{resumed_study['summary']['best_trial']:04d}"
    assert len(members) == 2 and members[0] == str(best.resolve())
    texts = ["the movie was great", "dull and tedious plot", "it was fine", "awful acting"]
    scored = [nlptl.Predictor(run, precision="fp32").predict(texts, all_scores=True) for run in members]
    ensemble = nlptl.Predictor(root / "ensemble", precision="fp32").predict(texts, all_scores=True)
    for row, first, second in zip(ensemble, *scored, strict=True):
        for label in ("neg", "pos"):
            assert row["scores"][label] == pytest.approx((first["scores"][label] + second["scores"][label]) / 2,
                                                         abs=1e-5)
    weighted = build_ensemble([Path(m) for m in members], tmp_path / "w", [3.0, 1.0], combine="logits")
    logits = nlptl.Predictor(weighted, precision="fp32").model(**_encode(weighted, texts)).logits
    singles = [nlptl.Predictor(m, precision="fp32").model(**_encode(weighted, texts)).logits for m in members]
    assert torch.allclose(logits, 0.75 * singles[0] + 0.25 * singles[1], atol=1e-5)

    swapped = tmp_path / "swapped"  # the same run with its labels in the other order
    build_ensemble([Path(members[0]), Path(members[1])], swapped)
    config_path = swapped / "members" / "1" / "config.json"
    config = json.loads(config_path.read_text())
    config["id2label"] = {"0": "pos", "1": "neg"}
    config_path.unlink()
    config_path.write_text(json.dumps(config))
    with pytest.raises(NlptlError, match="an ensemble needs the same labels in the same order"):
        build_ensemble([Path(members[0]), swapped / "members" / "1"], tmp_path / "bad")
    with pytest.raises(NlptlError, match="give 2 positive numbers"):
        parse_weights("1,0", 2)
    with pytest.raises(SystemExit) as stop:
        cli_main(["ensemble", members[0], "--output", str(tmp_path / "one")])
    assert stop.value.code == 2 and "give at least two runs" in capsys.readouterr().err


def _encode(folder: Path, texts: list[str]) -> dict:
    from transformers import AutoTokenizer

    return dict(AutoTokenizer.from_pretrained(folder)(texts, padding=True, return_tensors="pt"))


# ---- pruning and parallel workers ---------------------------------------------------------------------------
@pytest.mark.slow  # unit-run budget: several tiny trainings (the slow job runs it)
def test_pruning_stops_a_trial_whose_metric_is_bad(tiny_model_dir, tiny_data_dir, tmp_path):
    """Trial 0 learns (validation loss falls); trial 1 has lr 0, so its loss stays at the start: pruned at its
    first evaluation, its checkpoints and weights removed."""
    root = tmp_path / "tune"
    base = quick_recipe(tiny_model_dir, tiny_data_dir, lr=3e-3)
    study = optuna.create_study(study_name="tiny", storage=f"sqlite:///{tmp_path / 'tune.db'}", direction="minimize")
    for lr in (3e-3, 0.0):
        study.enqueue_trial({"train.lr": lr})
    tune(base, 2, ["train.lr=uniform(0,1e-2)"], metric="loss", storage=f"sqlite:///{tmp_path / 'tune.db'}",
         output_dir=root, pruner_startup=1)
    trials = study_of_url(f"sqlite:///{tmp_path / 'tune.db'}").trials
    assert [t.state.name for t in trials] == ["COMPLETE", "PRUNED"]
    assert list(trials[1].intermediate_values) == [2]  # stopped at its first evaluation
    assert sorted(trials[0].intermediate_values) == [2, 4, 6]
    pruned = root / "trials" / "trial-0001"
    assert len((pruned / "history.jsonl").read_text().splitlines()) == 1
    assert not (pruned / "model.safetensors").exists() and not (pruned / "checkpoints").exists()
    assert (root / "trials" / "trial-0000" / "model.safetensors").exists()


def study_of_url(url: str) -> optuna.Study:
    return optuna.load_study(study_name="tiny", storage=url)


@pytest.mark.slow  # `nlptl tune` worker processes
def test_two_workers_share_one_study(tiny_model_dir, tiny_data_dir, tmp_path):
    root = tmp_path / "tune"
    path = recipe_file(quick_recipe(tiny_model_dir, tiny_data_dir, max_steps=2), tmp_path)
    meeting = ("meet", "2", str(tmp_path / "started"))  # each worker's first trial waits for the other's
    commands = [tune_command(path, root, "--sampler-seed", str(seed), "--pruner", "none", worker=meeting)
                for seed in (1, 2)]
    workers = [subprocess.Popen(command, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for command in commands]
    outputs = [worker.communicate(timeout=900) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], [err[-2000:] for _, err in outputs]
    trials = study_of(root).trials
    numbers = [t.number for t in trials]
    assert sorted(numbers) == list(range(len(numbers)))  # no duplicate trial numbers
    assert {t.state.name for t in trials} == {"COMPLETE"} and 3 <= len(trials) <= 4  # a worker may start one more
    assert {t.user_attrs["pid"] for t in trials} == {w.pid for w in workers}  # both workers ran trials
    assert len({t.user_attrs["output_dir"] for t in trials}) == len(trials)
