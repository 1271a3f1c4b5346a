"""The search space of `nlptl tune`: which recipe fields vary, over which values, and when.

One grammar, inline (`--space "train.lr=loguniform(1e-5,3e-4)"`, several separated by `;` or given as repeated
`--space`) or as a YAML mapping of field to the same text (`train.lr: loguniform(1e-5, 3e-4)`):

    FIELD=loguniform(LOW,HIGH)    a float, sampled on a log scale (learning rates)
    FIELD=uniform(LOW,HIGH)       a float
    FIELD=int(LOW,HIGH)           an integer, both ends included
    FIELD=choice(A,B,...)         one of the values (numbers, names, none)
    ... if OTHER=VALUE[|VALUE]    only when an earlier choice field took one of these values (else the recipe's)

Every bound and choice is checked against the recipe field's type when the space is read, so a typo fails
before the first trial, naming the field and the fix.
"""

from __future__ import annotations

import copy
import difflib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nlptl.errors import NlptlError
from nlptl.fields import fields_of, set_field
from nlptl.recipe import Recipe

DISTRIBUTIONS = {"loguniform": "loguniform(LOW,HIGH)", "uniform": "uniform(LOW,HIGH)", "int": "int(LOW,HIGH)",
                 "choice": "choice(A,B,...)"}
ENTRY = re.compile(r"^\s*(?P<field>[\w.]+)\s*=\s*(?P<dist>\w+)\s*\((?P<args>.*)\)\s*(?:if\s+(?P<when>.+?))?\s*$")
WHEN = re.compile(r"^\s*(?P<field>[\w.]+)\s*=\s*(?P<values>.+?)\s*$")

# When no space is given: the settings that move fine-tuning results most (learning rate first), per task kind.
DEFAULT_SPACES = {
    "sequence_classification": ["train.lr=loguniform(1e-5,3e-4)", "train.batch_size=choice(16,32)",
                                "train.warmup_ratio=uniform(0.0,0.2)", "train.weight_decay=choice(0.0,0.01,0.1)"],
    "token_classification": ["train.lr=loguniform(1e-5,3e-4)", "train.batch_size=choice(8,16,32)",
                             "train.warmup_ratio=uniform(0.0,0.2)", "train.weight_decay=choice(0.0,0.01,0.1)"],
    "masked_lm": ["train.lr=loguniform(1e-5,1e-3)", "train.warmup_ratio=uniform(0.0,0.2)"],
}


@dataclass(frozen=True)
class Param:
    """One searched recipe field."""

    field: str
    kind: str  # loguniform | uniform | int | choice
    args: tuple[Any, ...]  # (low, high) or the choices
    when: tuple[str, tuple[Any, ...]] | None = None  # (choice field, values that switch this one on)

    def text(self) -> str:
        condition = f" if {self.when[0]}={'|'.join(map(str, self.when[1]))}" if self.when else ""
        return f"{self.field}={self.kind}({','.join(map(str, self.args))}){condition}"

    def suggest(self, trial: Any) -> Any:
        """Ask an Optuna trial for this field's value (the field's dotted name is the parameter's name)."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.field, list(self.args))
        if self.kind == "int":
            return trial.suggest_int(self.field, *self.args)
        return trial.suggest_float(self.field, *self.args, log=self.kind == "loguniform")

    def active(self, chosen: dict[str, Any]) -> bool:
        return self.when is None or chosen.get(self.when[0]) in self.when[1]


def scalar(text: str) -> Any:
    """`16` -> 16, `3e-4` -> 0.0003, `none` -> None, `lora` / "lora" -> 'lora'."""
    text = text.strip().strip("'\"")
    if text.lower() in ("none", "null"):
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def parse_entry(text: str, recipe: Recipe, earlier: dict[str, Param], where: str) -> Param:
    """One `FIELD=DIST(...) [if OTHER=VALUE]`, checked against the recipe's field types."""
    match = ENTRY.match(text)
    forms = ", ".join(DISTRIBUTIONS.values())
    if not match:
        raise NlptlError(f"{where} {text.strip()!r}: write FIELD=DISTRIBUTION(...), e.g. "
                         f"train.lr=loguniform(1e-5,3e-4); distributions: {forms}")
    field, kind = match["field"], match["dist"]
    label = f"{where} {field}"
    known = fields_of(recipe)
    if field not in known:
        close = difflib.get_close_matches(field, list(known), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else "fields are section.name, as in a saved recipe.yaml"
        raise NlptlError(f"{label}: unknown recipe field {field!r}; {hint}")
    if kind not in DISTRIBUTIONS:
        raise NlptlError(f"{label}: unknown distribution {kind!r}; use {forms}")
    args = tuple(scalar(part) for part in match["args"].split(",") if part.strip())
    if kind == "choice":
        if not args:
            raise NlptlError(f"{label}: choice() needs at least one value, e.g. choice(16,32)")
    else:
        numeric = (int,) if kind == "int" else (int, float)
        if len(args) != 2 or not all(isinstance(a, numeric) and not isinstance(a, bool) for a in args):
            what, example = ("integers", "1,4") if kind == "int" else ("numbers", "1e-5,3e-4")
            raise NlptlError(f"{label}: write {DISTRIBUTIONS[kind]} with two {what}, e.g. {kind}({example})")
        low, high = args
        if not low < high or (kind == "loguniform" and low <= 0) or not all(map(math.isfinite, args)):
            raise NlptlError(f"{label}: {kind}({low},{high}) needs LOW < HIGH"
                             f"{' and LOW > 0' if kind == 'loguniform' else ''}")
        args = tuple(float(a) for a in args) if kind != "int" else args
    probe = copy.deepcopy(recipe)
    for value in args:
        try:
            set_field(probe, field, value)
        except NlptlError as err:
            raise NlptlError(f"{where} {text.strip()!r}: {err}") from None
    when = parse_when(match["when"], earlier, label) if match["when"] else None
    return Param(field, kind, args, when)


def parse_when(text: str, earlier: dict[str, Param], label: str) -> tuple[str, tuple[Any, ...]]:
    match = WHEN.match(text)
    if not match:
        raise NlptlError(f"{label}: write the condition as 'if FIELD=VALUE' (or VALUE|VALUE), "
                         "e.g. if strategy.name=lora")
    field, values = match["field"], tuple(scalar(v) for v in match["values"].split("|"))
    other = earlier.get(field)
    if other is None or other.kind != "choice":
        raise NlptlError(f"{label}: its condition names {field}, which is not a choice(...) earlier in the space; "
                         f"put e.g. {field}=choice(...) before it")
    unknown = [v for v in values if v not in other.args]
    if unknown:
        raise NlptlError(f"{label}: condition value(s) {', '.join(map(str, unknown))} are not among {field}'s "
                         f"choices ({', '.join(map(str, other.args))})")
    return field, values


def space_entries(spec: str) -> list[tuple[str, str]]:
    """(text, where) pairs from one --space value: a YAML file's mapping, or inline entries split on `;`."""
    path = Path(spec)
    if spec.endswith((".yaml", ".yml")) or (path.is_file() and "=" not in spec):
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as err:
            raise NlptlError(f"--space {spec}: cannot read the space file ({err})") from None
        if not isinstance(data, dict) or not data:
            raise NlptlError(f"--space {spec}: a space file maps fields to distributions, "
                             "e.g. 'train.lr: loguniform(1e-5, 3e-4)'")
        return [(f"{key}={value}", f"{spec}:") for key, value in data.items()]
    return [(part, "--space") for part in spec.split(";") if part.strip()]


def parse_space(specs: list[str], recipe: Recipe) -> list[Param]:
    """All --space values (files and inline), in order; the task's default space when none is given."""
    entries = [entry for spec in specs for entry in space_entries(spec)] if specs else [
        (text, "default space") for text in DEFAULT_SPACES.get(recipe.task, DEFAULT_SPACES["masked_lm"])]
    params: dict[str, Param] = {}
    for text, where in entries:
        param = parse_entry(text, recipe, params, where)
        if param.field in params:
            raise NlptlError(f"{where} {param.field}: given twice in the space; keep one")
        params[param.field] = param
    if not params:
        raise NlptlError("--space: no field to search; e.g. --space 'train.lr=loguniform(1e-5,3e-4)'")
    return list(params.values())


def suggest(trial: Any, space: list[Param]) -> dict[str, Any]:
    """The trial's values for the active fields, in space order (a condition reads an earlier choice)."""
    chosen: dict[str, Any] = {}
    for param in space:
        if param.active(chosen):
            chosen[param.field] = param.suggest(trial)
    return chosen


def apply(recipe: Recipe, values: dict[str, Any]) -> Recipe:
    """A copy of the recipe with the trial's values set (types were checked when the space was read)."""
    recipe = copy.deepcopy(recipe)
    for field, value in values.items():
        set_field(recipe, field, value)
    return recipe
