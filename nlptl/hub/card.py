"""The model card (README.md) of a trained run, built from what the run saved: recipe.yaml, metrics.json,
config.json and the plots. Metadata goes through `huggingface_hub.ModelCardData`, so the YAML header
(base_model, datasets, model-index...) is the one the Hub parses and shows."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from nlptl.errors import NlptlError
from nlptl.inference.trained import saved_recipe
from nlptl.recipe import Recipe
from nlptl.tasks import Task, get_task
from nlptl.training.strategies import describe_strategy as strategy_description

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")

TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

This model is {{ base_description }} fine-tuned for {{ task_words }} on {{ data_description }} with
nlptl (transfer learning for BERT-family encoders).
{% if test_lines %}
Results on the test split ({{ test_examples }} examples):
{% for line in test_lines %}
- {{ line }}
{%- endfor %}
{% endif %}
## Labels

| id | label |
|---|---|
{% for id, label in labels -%}
| {{ id }} | {{ label }} |
{% endfor %}
## Intended uses & limitations

Intended for {{ task_words }} of texts like the training data: the same language, domain and style as
{{ data_description }}. Predictions on other domains, languages or text lengths were not evaluated and may be
much worse. {{ length_note }} Scores are softmax probabilities from a model trained with cross-entropy; they are
not calibrated confidence. The model repeats the biases of its pretraining corpus and of the training labels;
do not use it for decisions about people without a review of those biases.

## How to use

```python
{{ usage }}
```

With nlptl, for files of any size (csv, tsv, jsonl, parquet, txt; resumable, length-sorted batches):

```bash
nlptl predict {{ repo_id }} INPUT.csv --output predictions.csv
```

## Training data

- source: {{ source }}{% if config_name %} (configuration `{{ config_name }}`){% endif %}
{%- for line in data_lines %}
- {{ line }}
{%- endfor %}

## Training procedure

### Transfer strategy

{{ strategy }}

### Augmentation

{{ augmentation }}

### Training hyperparameters

| setting | value |
|---|---|
{% for name, value in hyperparameters -%}
| {{ name }} | {{ value }} |
{% endfor %}
### Results
{% if result_rows %}
| split | {% for name in result_columns %}{{ name }} | {% endfor %}
|---|{% for name in result_columns %}---|{% endfor %}
{% for split, values in result_rows -%}
| {{ split }} | {% for value in values %}{{ value }} | {% endfor %}
{% endfor %}{% else %}
No evaluation results were saved with this run.
{% endif %}{% if train_lines %}
Training: {{ train_lines }}.
{% endif %}{% for plot in plots %}
![{{ plot }}]({{ plot }})
{% endfor %}
## Reproduce

The full resolved recipe is in this repository as `recipe.yaml`:

```bash
nlptl train recipe.yaml
```

## Framework versions

{% for name, version in versions -%}
- {{ name }} {{ version }}
{% endfor %}"""


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def hub_id(name: Any) -> str | None:
    """The name if it can be a Hub id (not a local path), else None: metadata must not hold local paths."""
    if not isinstance(name, str) or Path(name).expanduser().exists() or not HUB_ID.match(name):
        return None
    return name


def describe_strategy(recipe: Recipe) -> str:
    """The transfer strategy in words, as the strategy describes itself (its settings for a name unknown here)."""
    described = strategy_description(recipe)
    if described is None:
        return f"`{recipe.strategy.name}`\n\n" + describe_setting(dataclasses.asdict(recipe.strategy), "")
    return described


def augmentation_setting(recipe: Recipe) -> dict[str, Any] | None:
    """The recipe's augmentation settings, or None when augmentation is off (no ops)."""
    return dataclasses.asdict(recipe.augment) if recipe.augment.ops else None


def describe_setting(value: Any, default: str) -> str:
    if value is None:
        return default
    if isinstance(value, dict | list):
        return "```yaml\n" + yaml.safe_dump(value, sort_keys=False).strip() + "\n```"
    return str(value)


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def metric(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else ""


def training_summary(train: dict[str, Any]) -> str:
    """One line from metrics.json's `train` section (what is there)."""
    parts = []
    if train.get("steps") is not None:
        parts.append(f"{train['steps']} optimizer steps")
    if train.get("samples_seen") is not None:
        parts.append(f"{train['samples_seen']} samples seen")
    if train.get("train_runtime_s") is not None:
        parts.append(f"{train['train_runtime_s']:.1f} s")
    if train.get("trainable_parameters") is not None and train.get("total_parameters"):
        parts.append(f"{train['trainable_parameters']:,} of {train['total_parameters']:,} parameters trained")
    if train.get("did_not_learn"):
        parts.append("**the run did not learn** (" + "; ".join(train.get("did_not_learn_because") or []) + ")")
    return ", ".join(parts)


def local_name(name: Any) -> str:
    """A local path shown by its last part only: cards are public, home directories are not."""
    return Path(str(name)).name or str(name)


def eval_results(metrics: dict[str, Any], task: Task, dataset: str, config_name: str | None) -> list:
    test = metrics.get("test") or {}
    return [
        EvalResult(task_type=task.pipeline_tag, dataset_type=dataset, dataset_name=dataset, dataset_config=config_name,
                   dataset_split="test", metric_type=key, metric_name=name, metric_value=round(float(test[key]), 4))
        for key, name in task.metric_names.items() if isinstance(test.get(key), int | float)
    ]


def learning_rate(recipe_lr: Any, trained: dict[str, Any]) -> Any:
    """The rate as set, and with `auto` the one the LR range test chose (and how)."""
    found = trained.get("lr_find")
    if recipe_lr != "auto" or not isinstance(found, dict):
        return recipe_lr
    return (f"auto: {found['suggested_lr']:.3g}, chosen by an LR range test ({len(found.get('lrs', []))} steps, "
            f"{found.get('rule')} rule, {found.get('seconds', 0):.1f} s; curve in lr_find.png)")


def optimizer_text(recipe: Recipe, trained: dict[str, Any]) -> str:
    """AdamW, and SparseAdam on the used word-embedding rows where the run recorded it (training/sparse_rows.py)."""
    text = f"AdamW (betas {format_value(recipe.train.adam_betas)}, eps {recipe.train.adam_eps})"
    if trained.get("embedding_update") == "sparse":
        text += "; word embeddings: SparseAdam on the rows each batch used (lazy Adam)"
    return text


def hyperparameters(recipe: Recipe, trained: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    train, data, model = recipe.train, recipe.data, recipe.model
    rows = [
        ("learning rate", learning_rate(train.lr, trained or {})),
        ("batch size (per process)", train.batch_size),
        ("gradient accumulation", train.grad_accum),
        ("epochs", train.epochs),
        ("max steps", train.max_steps),
        ("min steps", train.min_steps),
        ("optimizer", optimizer_text(recipe, trained or {})),
        ("weight decay", train.weight_decay),
        ("scheduler", f"{train.scheduler}, warmup ratio {train.warmup_ratio}"),
        ("max grad norm", train.max_grad_norm),
        ("mixed precision", train.mixed_precision),
        ("max length (tokens)", data.max_length),
        ("truncation", data.truncation),
        ("dropout override", model.dropout),
        ("seed", recipe.seed),
        *loss_rows(recipe, trained or {}),
    ]
    return [(name, format_value(value)) for name, value in rows if value is not None]


def loss_rows(recipe: Recipe, trained: dict[str, Any]) -> list[tuple[str, Any]]:
    """What weighted or scaled the loss: class weights (as used), example weights, a regression's target scale,
    from the recipe and what metrics.json recorded."""
    rows: list[tuple[str, Any]] = []
    weights = trained.get("class_weights")
    if recipe.train.class_weights != "none":
        setting = recipe.train.class_weights if isinstance(recipe.train.class_weights, str) else "given"
        used = ", ".join(f"{label} {weight:g}" for label, weight in (weights or {}).items())
        rows.append(("class weights", f"{setting}: {used}" + (f" ({trained['class_weights_as']})"
                                                              if trained.get("class_weights_as") else "")))
    example = trained.get("example_weights")
    if recipe.data.weight_column:
        detail = f", min {example['min']:g}, max {example['max']:g} after rescaling" if example else ""
        rows.append(("example weights", f"column `{recipe.data.weight_column}`, rescaled to mean 1{detail}"))
    scale = trained.get("target_scale")
    if scale:
        rows.append(("target standardisation", f"mean {format_value(scale['mean'])}, std {format_value(scale['std'])} "
                                               "(folded into the saved head: outputs are in the data's units)"))
    return rows


def results_table(metrics: dict[str, Any], task: Task) -> tuple[list[str], list[tuple[str, list[str]]]]:
    names = task.metric_names
    splits = [s for s in ("validation", "test") if isinstance(metrics.get(s), dict)]
    keys = [k for k in names if any(isinstance(metrics[s].get(k), int | float) for s in splits)]
    rows = [(s, [metric(metrics[s].get(k)) for k in keys] + [str(metrics[s].get("num_examples", ""))])
            for s in splits]
    return [names[k] for k in keys] + ["examples"], rows


def framework_versions() -> list[tuple[str, str]]:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("nlptl", "transformers", "torch", "datasets", "tokenizers", "accelerate", "huggingface_hub"):
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:
            continue
    return found


def build_card(run_dir: Path, repo_id: str, license: str | None = None,
               language: list[str] | None = None) -> ModelCard:
    """The card for a run directory, to be saved as README.md next to the uploaded files."""
    recipe = saved_recipe(run_dir)
    if recipe is None:
        raise NlptlError(f"{run_dir} holds no recipe.yaml, which the model card is written from; "
                         "pass the output dir of a finished `nlptl train` run")
    metrics = read_json(run_dir / "metrics.json")
    config = read_json(run_dir / "config.json")
    data, model = recipe.data, recipe.model
    task = get_task(recipe.task)
    pipeline_tag = task.pipeline_tag
    base_model, dataset = hub_id(model.name), hub_id(data.source)
    model_name = repo_id.split("/")[-1]
    results = eval_results(metrics, task, dataset or local_name(data.source), data.config_name)
    card_data = ModelCardData(
        base_model=base_model, datasets=[dataset] if dataset else None, language=language, license=license,
        library_name="transformers", pipeline_tag=pipeline_tag, model_name=model_name if results else None,
        tags=["nlptl", pipeline_tag, *([config["model_type"]] if config.get("model_type") else [])],
        eval_results=results or None,
    )
    id2label = config.get("id2label") or {}
    labels = sorted(((int(i), name) for i, name in id2label.items()), key=lambda pair: pair[0])
    test = metrics.get("test") or {}
    names = task.metric_names
    columns, rows = results_table(metrics, task)
    text = task.card_text(repo_id, data)
    data_lines = [text.input_line]
    if data.max_train_samples:
        data_lines.append(f"{data.max_train_samples} training examples (seeded random subset)")
    if data.max_eval_samples:
        data_lines.append(f"{data.max_eval_samples} evaluation examples per split at most")
    if (metrics.get("validation") or {}).get("num_examples"):
        data_lines.append(f"validation examples: {metrics['validation']['num_examples']}")
    return ModelCard.from_template(
        card_data, template_str=TEMPLATE, repo_id=repo_id, model_name=model_name,
        base_description=f"[{base_model}](https://huggingface.co/{base_model})" if base_model
        else f"the local checkpoint `{local_name(model.name)}`",
        task_words=task.description,
        data_description=f"[{dataset}](https://huggingface.co/datasets/{dataset})" if dataset
        else f"the local data set `{local_name(data.source)}`",
        test_lines=[f"{names[k]}: {metric(test[k])}" for k in names if isinstance(test.get(k), int | float)],
        test_examples=test.get("num_examples", "?"), labels=labels,
        length_note=text.length_note, usage=text.usage,
        source=dataset or f"local data set `{local_name(data.source)}`",
        config_name=data.config_name, data_lines=data_lines,
        strategy=describe_strategy(recipe),
        augmentation=describe_setting(augmentation_setting(recipe), "none"),
        hyperparameters=hyperparameters(recipe, metrics.get("train") or {}), result_columns=columns, result_rows=rows,
        train_lines=training_summary(metrics.get("train") or {}), plots=sorted(p.name for p in run_dir.glob("*.png")),
        versions=framework_versions(),
    )
