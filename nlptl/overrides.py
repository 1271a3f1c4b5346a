"""The command line of a recipe: `--train.lr 3e-5`, the short flags of the Hugging Face examples, and the help.

Every recipe field is an option (`--section.field VALUE`; top-level fields `--output-dir`, `--seed`); `-` and `_`
are interchangeable in every flag (`--output_dir`, `--train.batch-size`). `nlptl train --help` and the field
reference in docs/cli.md are built here from the same fields (`nlptl.fields`), so they cannot drift apart.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from nlptl.errors import NlptlError
from nlptl.fields import FieldInfo, LearningRate, fields_of, set_field, type_name
from nlptl.recipe import Recipe

# Short flags users know from the Hugging Face examples, mapped to dotted recipe fields.
SHORT_FLAGS: dict[str, str] = {
    "--model": "model.name",
    "--data": "data.source",
    "--text-column": "data.text_column",  # data.tokens_column for token_classification (see ROLE_FIELDS)
    "--label-column": "data.label_column",  # data.tags_column for token_classification
    "--task": "task",
    "--output-dir": "output_dir",
    "--epochs": "train.epochs",
    "--max-train-samples": "data.max_train_samples",
    "--max-eval-samples": "data.max_eval_samples",
    "--seed": "seed",
    "--resume": "resume",  # a flag: the newest checkpoint in the output dir
    "--resume-from": "resume",  # a checkpoint path
    "--strategy": "strategy.name",
    "--augment": "augment.ops",
}
RESUME_LATEST = "latest"
# --text-column / --label-column name the input and target columns whatever the task: for token tasks those are
# the words and tags columns.
ROLE_FIELDS = {"data.text_column": "data.tokens_column", "data.label_column": "data.tags_column"}
# Names users may give --task, besides the recipe's own task names.
TASK_ALIASES = {"text_classification": "sequence_classification", "classification": "sequence_classification",
                "ner": "token_classification"}


def spelling(flag: str) -> str:
    """The key under which `--output_dir` and `--output-dir` are the same flag."""
    return flag.replace("_", "-")


class FlagParser(argparse.ArgumentParser):
    """argparse that accepts `-` or `_` between the words of every long option and reports errors as `NlptlError`
    (one line; the CLI prints it and exits with code 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        return super().parse_known_args(self.canonical(sys.argv[1:] if args is None else list(args)), namespace)

    def canonical(self, args: list[str]) -> list[str]:
        """Each long option as this parser spells it; values and everything after `--` untouched."""
        known = {spelling(option): option for option in self._option_string_actions if option.startswith("--")}
        result: list[str] = []
        for i, arg in enumerate(args):
            if arg == "--":
                return result + args[i:]
            if arg.startswith("--"):
                flag, eq, value = arg.partition("=")
                arg = known.get(spelling(flag), flag) + eq + value
            result.append(arg)
        return result

    def error(self, message: str) -> NoReturn:
        raise NlptlError(f"{message} (see {self.prog} --help)")


def flag_of(name: str) -> str:
    """The option of a field: `--train.lr` for section fields, `--output-dir` for top-level ones."""
    return f"--{name}" if "." in name else f"--{spelling(name)}"


def format_value(value: Any) -> str:
    """A value as it is written on the command line (`neg,pos`, `none`, `true`)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(format_value(v) for v in value) or '""'
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items()) or '""'
    return str(value) if value != "" else '""'


def metavar(info: FieldInfo) -> str:
    if info.type == LearningRate:
        return "LR|auto"
    kind = type_name(info.type).removesuffix(" | None")
    return {"int": "N", "float": "X", "str": "TEXT", "bool": "BOOL", "list[str]": "A,B", "tuple[float, float]": "X,Y",
            "dict[str, str]": "K=V,.."}.get(kind, kind.upper())


def describe(info: FieldInfo, shown_default: bool = True) -> str:
    """One help line: what it does, its type and (the recipe's) default."""
    text = f"{info.help} " if info.help else ""
    default = f"; default {format_value(info.value)}" if shown_default else ""
    return f"{text}({type_name(info.type)}{default})".replace("%", "%%")


def build_parser(recipe: Recipe, prog: str, usage: str | None = None) -> FlagParser:
    """An option per recipe field (grouped by section, defaults from `recipe`), plus the short flags."""
    fields = fields_of(recipe)
    parser = FlagParser(prog=prog, usage=usage or f"{prog} [--FIELD VALUE ...]", epilog=EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    short = parser.add_argument_group("common flags (short names for the fields below)")
    for flag, name in SHORT_FLAGS.items():
        kwargs: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": short_flag_help(flag, recipe)}
        if flag == "--resume":
            kwargs.update(action="store_const", const=RESUME_LATEST)
        else:
            kwargs["metavar"] = short_flag_metavar(flag, recipe)
        short.add_argument(flag, **kwargs)
    taken = {spelling(flag) for flag in SHORT_FLAGS}
    groups: dict[str, argparse._ArgumentGroup] = {}
    for name, info in fields.items():
        flag = flag_of(name)
        if spelling(flag) in taken:
            continue  # a top-level field listed among the common flags (--output-dir, --seed, --task, --resume)
        section = name.split(".")[0] if "." in name else ""
        if section not in groups:
            holder_doc = (type(info.holder).__doc__ or "").strip() if section else "the run as a whole"
            groups[section] = parser.add_argument_group(section or "run", holder_doc)
        kwargs = {"dest": name, "default": argparse.SUPPRESS, "metavar": metavar(info), "help": describe(info)}
        if info.type is bool:
            kwargs.update(nargs="?", const="true")
        groups[section].add_argument(flag, **kwargs)
    return parser


def short_flag_metavar(flag: str, recipe: Recipe) -> str:
    return "CHECKPOINT" if flag == "--resume-from" else metavar(fields_of(recipe)[SHORT_FLAGS[flag]])


def short_flag_target(flag: str) -> str:
    """What a short flag sets: `data.text_column (data.tokens_column for token_classification)`."""
    name = SHORT_FLAGS[flag]
    if flag == "--resume":
        return "resume: latest, i.e. continue the interrupted run from the newest checkpoint in the output dir"
    if flag == "--resume-from":
        return "resume: continue from this checkpoint dir, e.g. OUTPUT/checkpoints/step-0000100"
    if name in ROLE_FIELDS:
        return f"{name} ({ROLE_FIELDS[name]} for token_classification)"
    if flag == "--task":
        return f"{name} (also {', '.join(TASK_ALIASES)})"
    return name


def short_flag_help(flag: str, recipe: Recipe) -> str:
    """What the flag sets, then the field's help, type and (the recipe's) default."""
    name = SHORT_FLAGS[flag]
    if flag in ("--resume", "--resume-from"):
        return short_flag_target(flag)
    fields = fields_of(recipe)
    role = ROLE_FIELDS.get(name) if recipe.task == "token_classification" else None
    return f"{short_flag_target(flag)}: {describe(fields[role or name])}"


EPILOG = """\
values: lists and pairs comma-separated (--data.label_names neg,pos), mappings K=V,K=V, none empties an optional
field, a bool flag alone means true (--overwrite-output-dir). `-` and `_` are interchangeable in every flag."""


def parse_overrides(recipe: Recipe, argv: list[str], prog: str = "nlptl train",
                    usage: str | None = None) -> dict[str, Any]:
    """{dotted field: value} given on the command line (raw strings; `--resume` gives `latest`)."""
    parser = build_parser(recipe, prog, usage)
    parsed, unknown = parser.parse_known_args(argv)
    if unknown:
        raise unknown_arguments(unknown, argv, parser)
    values = vars(parsed)
    if "task" in values:
        values["task"] = TASK_ALIASES.get(values["task"], values["task"])
    return values


def unknown_arguments(unknown: list[str], argv: list[str], parser: FlagParser) -> NlptlError:
    """One line naming the first unknown argument and the likely fix."""
    first = unknown[0]
    if not first.startswith("-"):
        before = parser.canonical(argv[:argv.index(first)])[-1:] if first in argv else []
        if before == ["--resume"]:
            return NlptlError(f"--resume takes no value (it continues the newest checkpoint): "
                              f"to start from a given checkpoint pass --resume-from {first}")
        return NlptlError(f"unexpected argument {first!r}: a recipe file goes first (nlptl train RECIPE "
                          "[--field VALUE ...]); options are --section.field VALUE")
    flag = spelling(first.partition("=")[0])
    options = [option for option in parser._option_string_actions if option.startswith("--")]
    close = difflib.get_close_matches(flag, [spelling(o) for o in options], n=1)
    hint = (f"did you mean {close[0]}?" if close else
            "recipe fields are set as --section.field VALUE (e.g. --train.lr 3e-5)")
    return NlptlError(f"unknown option {first}: {hint} ({parser.prog} --help lists every option)")


def apply_values(recipe: Recipe, values: dict[str, Any]) -> Recipe:
    """A copy of the recipe with the given fields set (types checked); the column flags follow the task."""
    recipe = copy.deepcopy(recipe)
    if "task" in values:
        set_field(recipe, "task", values["task"])
    for name, value in values.items():
        if name in ROLE_FIELDS and recipe.task == "token_classification":
            name = ROLE_FIELDS[name]
        set_field(recipe, name, value)
    return recipe


def apply_overrides(recipe: Recipe, argv: list[str], prog: str = "nlptl train", usage: str | None = None) -> Recipe:
    """Apply `--dotted.name value` and the short flags to a copy of the recipe (`--help` prints and exits)."""
    return apply_values(recipe, parse_overrides(recipe, argv, prog, usage))


def field_reference(recipe: Recipe | None = None) -> str:
    """docs/cli.md's field reference: one Markdown table per section, from the fields and their comments."""
    recipe = recipe or Recipe()
    fields = fields_of(recipe)
    lines = ["| flag | sets |", "|---|---|"]
    for flag in SHORT_FLAGS:
        value = "" if flag == "--resume" else " " + short_flag_metavar(flag, recipe)
        lines.append(f"| `{flag}{value}` | {short_flag_target(flag)} |")
    sections: dict[str, list[FieldInfo]] = {}
    for name, info in fields.items():
        sections.setdefault(name.split(".")[0] if "." in name else "", []).append(info)
    for section, infos in sections.items():
        doc = (type(infos[0].holder).__doc__ or "").strip() if section else "The run as a whole."
        lines += ["", f"### {section or 'run'}", "", doc, "", "| flag | type | default | description |",
                  "|---|---|---|---|"]
        for info in infos:
            text = info.help.replace("|", "\\|")
            kind = type_name(info.type).replace("|", "\\|")
            flag = "`--resume`, `--resume-from CHECKPOINT`" if info.name == "resume" else f"`{flag_of(info.name)}`"
            lines.append(f"| {flag} | {kind} | `{format_value(info.value)}` | {text} |")
    return "\n".join(lines) + "\n"


def write_field_reference(path: str) -> None:
    """Replace the generated part of docs/cli.md (between its two markers) with the current field reference."""
    from pathlib import Path

    file = Path(path)
    text = file.read_text()
    head, _, rest = text.partition(REFERENCE_BEGIN)
    _, _, tail = rest.partition(REFERENCE_END)
    file.write_text(head + REFERENCE_BEGIN + field_reference() + REFERENCE_END + tail)


REFERENCE_BEGIN, REFERENCE_END = "<!-- field reference: generated -->\n", "<!-- end of field reference -->"

if __name__ == "__main__":  # python3 -m nlptl.overrides docs/cli.md
    write_field_reference(sys.argv[1])
