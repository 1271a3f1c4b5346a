"""One shared encoder, one head per task.

Each head is the task kind's own transformers model (e.g. `BertForTokenClassification`) whose base model is not
registered as its submodule but points at the shared encoder: its forward runs unchanged, while parameters, the
state dict and the optimizer see the encoder once (`encoder.*`) and each head's own layers (`heads.<name>.*`).
Saved as: the encoder in plain transformers format at the top of the folder (`AutoModel.from_pretrained`
loads it), `heads/<name>/` with the head's config.json and model.safetensors (its own layers only), and
`multitask.json` naming the tasks. `load_head` rebuilds one task's complete transformers model from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from transformers import AutoConfig, PreTrainedModel

from nlptl.errors import NlptlError
from nlptl.io import write_json

MANIFEST = "multitask.json"
HEADS = "heads"


class MultitaskModel(torch.nn.Module):
    """`forward(task_index=..., **inputs)` runs the head of the batch's task (one task per batch)."""

    base_model_prefix = "encoder"  # where nlptl.training.layers finds the shared layers (freezing, LLRD)

    def __init__(self, encoder: PreTrainedModel, heads: dict[str, PreTrainedModel], kinds: dict[str, str]) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config  # peft and the precision probe read the encoder's config
        self.names = list(heads)
        self.kinds = kinds
        for head in heads.values():
            share_encoder(head, encoder)
        self.heads = torch.nn.ModuleDict(heads)
        self.head_models = heads  # the same modules, typed

    def __setattr__(self, name: str, value: Any) -> None:
        """A strategy that replaces the encoder (feature extraction's frozen stand-in, and putting it back)
        replaces it under every head too."""
        super().__setattr__(name, value)
        if name == "encoder" and "head_models" in self.__dict__:
            for head in self.head_models.values():
                object.__setattr__(head, head.base_model_prefix, value)

    def forward(self, task_index: torch.Tensor, **inputs: Any) -> Any:
        return self.head_models[self.names[int(task_index.reshape(-1)[0])]](**inputs)

    def save_pretrained(self, folder: str | Path, safe_serialization: bool = True, **kwargs: Any) -> None:
        folder = Path(folder)
        self.encoder.save_pretrained(folder, safe_serialization=True)
        for name, head in self.head_models.items():
            head_dir = folder / HEADS / name
            head_dir.mkdir(parents=True, exist_ok=True)
            head.config.architectures = [type(head).__name__]
            head.config.save_pretrained(head_dir)
            save_file({k: v.detach().contiguous() for k, v in head.state_dict().items()},
                      str(head_dir / "model.safetensors"), metadata={"format": "pt"})
        tasks = [{"name": name, "task": self.kinds[name], "head": f"{HEADS}/{name}",
                  "labels": list((self.head_models[name].config.id2label or {}).values())} for name in self.names]
        write_json(folder / MANIFEST, {"encoder": ".", "encoder_class": type(self.encoder).__name__, "tasks": tasks})


def share_encoder(head: PreTrainedModel, encoder: PreTrainedModel) -> None:
    """Make `head`'s base model the shared encoder without registering it as the head's submodule."""
    prefix = head.base_model_prefix
    if prefix not in head._modules:
        raise NlptlError(f"{type(head).__name__} keeps no base model under {prefix!r}; multi-task learning needs "
                         "a BERT-family head model")
    del head._modules[prefix]
    object.__setattr__(head, prefix, encoder)  # an attribute, not a submodule: found by forward, not by state_dict


@dataclass(frozen=True)
class SavedHead:
    """Where one task's head of a saved multi-task run lies."""

    run: Path
    name: str
    task: str
    folder: Path


def read_manifest(run: Path) -> dict | None:
    """The multitask.json of a saved multi-task run (None: not one)."""
    path = run / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise NlptlError(f"{path} cannot be read ({err}); retrain, or restore the file from the run") from None


def find_head(run: str | Path, task: str | None) -> SavedHead | None:
    """The head `task` of the multi-task run in `run`; None for a single-task model asked for no task. Asking a
    multi-task run for no task, or for one it has not, is an error naming the tasks it has."""
    manifest = read_manifest(Path(run))
    if manifest is None:
        if task is not None:
            raise NlptlError(f"--task {task}: {run} is a single-task model (no {MANIFEST}); leave --task out")
        return None
    names = [entry["name"] for entry in manifest["tasks"]]
    if task is None or task not in names:
        asked = "no --task given" if task is None else f"no task {task!r}"
        raise NlptlError(f"{run} is a multi-task model: {asked}; pass --task with one of {', '.join(names)}")
    entry = next(entry for entry in manifest["tasks"] if entry["name"] == task)
    return SavedHead(Path(run), task, entry["task"], Path(run) / entry["head"])


def load_head(head: SavedHead, model_class: Any) -> PreTrainedModel:
    """One task's complete transformers model: the saved encoder's weights under the base-model prefix plus the
    head's own layers."""
    config = AutoConfig.from_pretrained(head.folder)
    model = model_class.from_config(config)
    prefix = model.base_model_prefix
    weights = {f"{prefix}.{k}": v for k, v in load_file(str(head.run / "model.safetensors")).items()}
    weights.update(load_file(str(head.folder / "model.safetensors")))
    missing = model.load_state_dict(weights, strict=False).missing_keys
    if missing:
        raise NlptlError(f"{head.run}: the saved encoder and head {head.name!r} lack {len(missing)} weights "
                         f"(e.g. {missing[0]}); the run's files are incomplete, retrain it")
    return model.eval()
