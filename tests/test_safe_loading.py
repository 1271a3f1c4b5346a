"""Safe loading: no pickle beyond `torch.load(weights_only=True)`, a checkpoint's own code runs only when the recipe
says so, and a checkpoint file crafted to run code on unpickling is refused without running it."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import tiny_recipe

import nlptl
from nlptl import NlptlError
from nlptl.models import load_config, load_tokenizer
from nlptl.recipe import ModelConfig, Recipe

PACKAGE = Path(nlptl.__file__).parent
UNPICKLERS = {"pickle", "cPickle", "_pickle", "dill", "joblib", "cloudpickle", "shelve", "marshal"}
# accelerate unpickles objects registered with register_for_checkpointing with weights_only=False
FORBIDDEN_CALLS = {"register_for_checkpointing", "load_custom_state"}


def package_sources() -> list[tuple[Path, ast.AST]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in sorted(PACKAGE.rglob("*.py"))]


def test_the_package_unpickles_nothing_beyond_weights_only():
    problems = []
    for path, tree in package_sources():
        where = path.relative_to(PACKAGE.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module]
                problems += [f"{where}:{node.lineno} imports {m}" for m in modules
                             if m and m.split(".")[0] in UNPICKLERS]
                if isinstance(node, ast.ImportFrom) and node.module == "torch":
                    problems += [f"{where}:{node.lineno} imports torch.load" for a in node.names if a.name == "load"]
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in FORBIDDEN_CALLS:
                problems.append(f"{where}:{node.lineno} calls {name}")
            on_torch = isinstance(node.func, ast.Attribute) and getattr(node.func.value, "id", "") == "torch"
            if name == "load" and on_torch:
                flags = {k.arg: k.value for k in node.keywords}
                safe = isinstance(flags.get("weights_only"), ast.Constant) and flags["weights_only"].value is True
                if not safe:
                    problems.append(f"{where}:{node.lineno} torch.load without weights_only=True")
            weights_only = [k for k in node.keywords if k.arg == "weights_only"]
            if any(isinstance(k.value, ast.Constant) and k.value.value is False for k in weights_only):
                problems.append(f"{where}:{node.lineno} weights_only=False")
            if name == "from_pretrained" and any(k.arg == "trust_remote_code" and isinstance(k.value, ast.Constant)
                                                 and k.value.value is True for k in node.keywords):
                problems.append(f"{where}:{node.lineno} trust_remote_code=True")
    assert len(package_sources()) > 50  # the walk saw the package
    assert not problems, problems


def write_custom_code_model(folder: Path, marker: Path) -> None:
    """A checkpoint whose config.json asks for its own Python code, which writes `marker` when it runs."""
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "model_type": "nlptl-custom", "auto_map": {"AutoConfig": "custom.CustomConfig"}}))
    (folder / "custom.py").write_text(
        "from pathlib import Path\nfrom transformers import PretrainedConfig\n"
        f"Path({str(marker)!r}).write_text('ran')\n"
        "class CustomConfig(PretrainedConfig):\n    model_type = 'nlptl-custom'\n")


def test_a_checkpoints_own_code_runs_only_when_the_recipe_trusts_it(tmp_path):
    folder, marker = tmp_path / "custom", tmp_path / "custom-code-ran"
    write_custom_code_model(folder, marker)
    assert Recipe().model.trust_remote_code is False
    with pytest.raises(NlptlError, match="custom code .* model.trust_remote_code true"):
        load_config(ModelConfig(name=str(folder)), {})
    with pytest.raises(NlptlError, match="trust_remote_code"):
        load_tokenizer(ModelConfig(name=str(folder)), {})
    assert not marker.exists()
    config = load_config(ModelConfig(name=str(folder), trust_remote_code=True), {})
    assert marker.read_text() == "ran" and type(config).__name__ == "CustomConfig"


class RunsCode:
    """Unpickling this calls `open(marker, "w")`: what a crafted checkpoint file would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir, tiny_data_dir) -> Path:
    out = tmp_path_factory.mktemp("safe-loading") / "run"
    nlptl.train(tiny_recipe(tiny_model_dir, tiny_data_dir, out, max_steps=4, eval_every=2, keep_checkpoints=5))
    return out


@pytest.mark.parametrize("planted", ["optimizer.bin", "scheduler.bin", "random_states_0.pkl", "legacy_loop_state"])
def test_a_crafted_checkpoint_file_is_refused_without_running_it(planted, finished_run, tiny_model_dir,
                                                                tiny_data_dir, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    checkpoint = run / "checkpoints" / "step-0000002"
    marker = tmp_path / "code-ran"
    if planted == "legacy_loop_state":  # a checkpoint as earlier versions wrote it: the loop state pickled
        (checkpoint / "loop_state.json").unlink()
        torch.save({"step": 2, "evil": RunsCode(marker)}, checkpoint / "custom_checkpoint_0.pkl")
    else:
        torch.save({"state": RunsCode(marker)}, checkpoint / planted)
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, run, max_steps=4, eval_every=2, keep_checkpoints=5)
    recipe.resume = str(checkpoint)
    with pytest.raises(NlptlError, match="step-0000002 cannot be loaded"):
        nlptl.train(recipe)
    assert not marker.exists()


def test_a_legacy_checkpoint_loop_state_still_resumes(finished_run, tiny_model_dir, tiny_data_dir, tmp_path):
    """Checkpoints of earlier versions kept the loop state in custom_checkpoint_0.pkl: read with weights_only."""
    run = tmp_path / "run"
    shutil.copytree(finished_run, run, ignore=shutil.ignore_patterns("step-0000004"))
    checkpoint = run / "checkpoints" / "step-0000002"
    state = json.loads((checkpoint / "loop_state.json").read_text())
    (checkpoint / "loop_state.json").unlink()
    torch.save(state, checkpoint / "custom_checkpoint_0.pkl")
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, run, max_steps=4, eval_every=2, keep_checkpoints=5)
    recipe.resume = "latest"
    assert nlptl.train(recipe)["train"]["steps"] == 4
