"""Typed dotted fields of nested dataclasses (`train.lr`): type, default, help, and values checked on the way in.

Shared by the YAML reader (`nlptl.recipe`), the command line (`nlptl.overrides`) and grids that set fields
(`nlptl.compare`). A field's help is the `# comment` after it in the dataclass source (or, when it has none there,
the comment lines just above it), so the comments in recipe.py are the one description of every field.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import io
import math
import textwrap
import tokenize
import types
import typing
from dataclasses import dataclass
from typing import Any

from nlptl.errors import NlptlError

LearningRate = float | str  # a number, or "auto": an LR range test on the run's data picks it (nlptl.training.lr_find)
ClassWeights = str | dict[str, float]  # "none", "balanced", or {label: weight} (nlptl.data.weights)
CLASS_WEIGHT_MODES = ("none", "balanced")


@dataclass(frozen=True)
class FieldInfo:
    """One leaf field: where it lives (`holder`), its resolved type, current value and help line."""

    name: str  # dotted: train.lr
    holder: Any  # the dataclass instance that holds it
    attr: str  # its attribute name on holder
    type: Any
    help: str

    @property
    def value(self) -> Any:
        return getattr(self.holder, self.attr)


def fields_of(obj: Any, prefix: str = "") -> dict[str, FieldInfo]:
    """All leaf fields of a (nested) dataclass instance by dotted name, in declaration order."""
    found: dict[str, FieldInfo] = {}
    hints = typing.get_type_hints(type(obj))
    comments = field_comments(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = prefix + f.name
        if dataclasses.is_dataclass(value):
            found.update(fields_of(value, name + "."))
            continue
        found[name] = FieldInfo(name, obj, f.name, hints[f.name], comments.get(f.name, ""))
        if isinstance(value, list) and value and all(dataclasses.is_dataclass(item) for item in value):
            for position, item in enumerate(value):  # a list of sections (multi-task's tasks): each by its name
                found.update(fields_of(item, f"{name}.{getattr(item, 'name', position)}."))
    return found


def field_comments(cls: type) -> dict[str, str]:
    """{field: comment} from the class source: the comment after the field, else the comment lines above it."""
    if cls not in _comments:
        _comments[cls] = read_comments(cls)
    return _comments[cls]


_comments: dict[type, dict[str, str]] = {}


def read_comments(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # no source (frozen app): fields without help, not a failure
        return {}
    trailing: dict[int, str] = {}  # line -> comment after code on that line
    alone: dict[int, str] = {}  # line -> comment on a line of its own
    code_lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            text = token.string.lstrip("#").strip()
            (trailing if token.start[0] in code_lines else alone)[token.start[0]] = text
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            code_lines.add(token.start[0])
    comments: dict[str, str] = {}
    (tree,) = ast.parse(source).body
    for node in getattr(tree, "body", []):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        after = [trailing[line] for line in range(node.lineno, (node.end_lineno or node.lineno) + 1)
                 if line in trailing]
        above: list[str] = []
        line = node.lineno - 1
        while line in alone:
            above.insert(0, alone[line])
            line -= 1
        comments[node.target.id] = after[0] if after else " ".join(above)
    return comments


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0], True
    return tp, False


def type_name(tp: Any) -> str:
    """How a field's type reads in help and errors: `int | None`, `list[str]`, `float | auto`."""
    if tp == LearningRate:
        return "float | auto"
    if tp == ClassWeights:
        return "none | balanced | {label: weight}"
    base, optional = _strip_optional(tp)
    origin, args = typing.get_origin(base), typing.get_args(base)
    if origin is not None:
        name = f"{origin.__name__}[{', '.join(type_name(a) for a in args)}]"
    else:
        name = getattr(base, "__name__", str(base))
    return name + (" | None" if optional else "")


def parse_learning_rate(value: Any, name: str) -> float | str:
    """A positive-or-zero number or `auto`; anything else is a clear error naming the field."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    try:
        lr = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        lr = math.nan
    if not lr >= 0 or math.isinf(lr):
        raise NlptlError(f"--{name}: cannot read {value!r} as a learning rate: give a number (e.g. 1e-4) or auto")
    return lr


def parse_class_weights(value: Any, name: str) -> str | dict[str, float]:
    """`none`, `balanced`, or a mapping label -> positive weight (`pos=3,neg=1` on the command line)."""
    if isinstance(value, str) and value.strip().lower() in CLASS_WEIGHT_MODES:
        return value.strip().lower()
    if isinstance(value, str) and "=" in value:
        value = dict(pair.partition("=")[::2] for pair in value.split(",") if pair.strip())
    if isinstance(value, dict) and value:
        weights: dict[str, float] = {}
        for label, weight in value.items():
            try:
                number = float(weight) if not isinstance(weight, bool) else math.nan
            except (TypeError, ValueError):
                number = math.nan
            if not number >= 0 or math.isinf(number):
                raise NlptlError(f"--{name}: weight {weight!r} of label {str(label).strip()!r} is not a number >= 0")
            weights[str(label).strip()] = number
        return weights
    raise NlptlError(f"--{name}: cannot read {value!r}: give none, balanced, or label=weight pairs (pos=3,neg=1)")


def parse_value(text: str, tp: Any, name: str) -> Any:
    """Convert one command-line string to the field's declared type, or say which field is wrong.

    Lists and tuples are comma-separated (`neg,pos`), mappings `key=value,key=value`, and `none` empties an
    optional field."""
    if tp == LearningRate:
        return parse_learning_rate(text, name)
    if tp == ClassWeights:
        return parse_class_weights(text, name)
    base, optional = _strip_optional(tp)
    if optional and text.lower() in ("none", "null", ""):
        return None
    origin = typing.get_origin(base)
    try:
        if base is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if base in (int, float, str):
            return base(text)
        if origin is list:
            (item,) = typing.get_args(base)
            return [parse_value(part.strip(), item, name) for part in text.split(",") if part.strip()]
        if origin is tuple:
            items = typing.get_args(base)
            parts = [p.strip() for p in text.split(",")]
            if len(parts) != len(items):
                raise ValueError(text)
            return tuple(parse_value(p, t, name) for p, t in zip(parts, items, strict=True))
        if origin is dict:
            result = {}
            for pair in (p for p in text.split(",") if p.strip()):
                key, sep, value = pair.partition("=")
                if not sep:
                    raise ValueError(pair)
                result[key.strip()] = value.strip()
            return result
    except ValueError as err:
        raise NlptlError(f"--{name}: cannot read {text!r} as {type_name(base)}") from err
    raise NlptlError(f"--{name}: fields of type {type_name(base)} cannot be set from the command line")


def check_value(value: Any, tp: Any, name: str) -> Any:
    """Validate a value from YAML or Python against the field type (YAML already gives ints, lists, dicts)."""
    if tp == LearningRate:
        return parse_learning_rate(value, name)
    if tp == ClassWeights:
        return parse_class_weights(value, name)
    base, optional = _strip_optional(tp)
    if value is None:
        if optional:
            return None
        raise NlptlError(f"recipe field {name!r} cannot be empty")
    if isinstance(value, str) and base is not str:
        return parse_value(value, tp, name)
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typing.get_origin(base) is tuple and isinstance(value, list):
        return tuple(value)
    expected = typing.get_origin(base) or base
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise NlptlError(f"recipe field {name!r}: expected {type_name(base)}, got {value!r}")
    return value


def unknown_field_error(name: str, known: typing.Iterable[str]) -> NlptlError:
    """`unknown recipe field 'train.lrr'`, with the closest field names (or where to find them all) as the fix."""
    known = list(known)
    close = [p for p in known if p.split(".")[-1] == name.split(".")[-1]] or difflib.get_close_matches(name, known)
    hint = f"did you mean {', '.join(close)}?" if close else "`nlptl train --help` lists every field"
    return NlptlError(f"unknown recipe field {name!r}: {hint}")


def set_field(obj: Any, name: str, value: Any) -> None:
    """Set one dotted field, checking the name and the type (strings are parsed as on the command line)."""
    fields = fields_of(obj)
    if name not in fields:
        raise unknown_field_error(name, fields)
    info = fields[name]
    if isinstance(value, str) and info.type is not str:
        value = parse_value(value, info.type, name)
    else:
        value = check_value(value, info.type, name)
    setattr(info.holder, info.attr, value)
