"""The augmentation settings: the recipe's `augment` section (`AugmentSettings`, kept in recipe.py so a recipe loads
without this package) is the only settings shape; `check` validates it, naming the recipe field and the fix, so a
bad recipe fails before any data is touched. Short operation names (`--augment synonym,swap`) resolve here."""

from __future__ import annotations

from collections.abc import Sequence

from nlptl.augment.text.ops import (
    ANTONYM_REPLACEMENT,
    CONTEXTUAL_SUBSTITUTION,
    EDA_OPS,
    MENTION_REPLACEMENT,
    RANDOM_DELETION,
    RANDOM_INSERTION,
    RANDOM_SWAP,
    SYNONYM_REPLACEMENT,
)
from nlptl.errors import NlptlError
from nlptl.recipe import AugmentSettings

KNOWN_OPS = (*EDA_OPS, ANTONYM_REPLACEMENT, CONTEXTUAL_SUBSTITUTION, MENTION_REPLACEMENT)
SHORT_NAMES: dict[str, str] = {
    "synonym": SYNONYM_REPLACEMENT,
    "swap": RANDOM_SWAP,
    "delete": RANDOM_DELETION,
    "insert": RANDOM_INSERTION,
    "antonym": ANTONYM_REPLACEMENT,
    "contextual": CONTEXTUAL_SUBSTITUTION,
    "mention": MENTION_REPLACEMENT,
}
OFF = ("none", "off")  # `--augment none` switches augmentation off (handy in grids)
MODES = ("offline", "on_the_fly")


def resolve_ops(names: Sequence[str], field: str = "augment.ops") -> tuple[str, ...]:
    """Full operation names, in the given order without repeats; short names and full names both accepted."""
    if isinstance(names, str):
        raise NlptlError(f"recipe field {field}: a list of operations, not the string {names!r}")
    resolved: list[str] = []
    for name in names:
        key = name.strip().lower().replace("-", "_")
        if key in OFF:
            continue
        op = SHORT_NAMES.get(key, key)
        if op not in KNOWN_OPS:
            raise NlptlError(
                f"recipe field {field}: unknown operation {name!r}; choose from "
                f"{', '.join(SHORT_NAMES)} (or their full names {', '.join(KNOWN_OPS)})"
            )
        if op not in resolved:
            resolved.append(op)
    return tuple(resolved)


def check(settings: AugmentSettings) -> tuple[str, ...]:
    """The operations `settings` asks for (full names; none: augmentation is off), after checking every field."""
    ops = resolve_ops(settings.ops)
    if not ops:
        return ops
    if settings.mode not in MODES:
        raise NlptlError(f"recipe field augment.mode={settings.mode!r}: choose {' or '.join(MODES)}")
    if not isinstance(settings.copies, int) or settings.copies < 1:
        raise NlptlError(f"recipe field augment.copies={settings.copies!r}: use 1 or more augmented copies per "
                         "example")
    if not isinstance(settings.alpha, int | float) or not 0 < settings.alpha <= 1:
        raise NlptlError(f"recipe field augment.alpha={settings.alpha!r}: the share of words an operation changes, "
                         "in (0, 1]")
    if settings.record_samples < 0:
        raise NlptlError(f"recipe field augment.record_samples={settings.record_samples}: use 0 or more")
    if ANTONYM_REPLACEMENT in ops and not settings.antonym_label_map:
        raise NlptlError(
            "recipe field augment.ops: antonym replacement inverts the meaning, so it flips the label and needs "
            "augment.antonym_label_map (e.g. --augment.antonym_label_map positive=negative,negative=positive); "
            "without one, leave antonym out of augment.ops"
        )
    if CONTEXTUAL_SUBSTITUTION in ops and not settings.mlm_model_dir:
        raise NlptlError("recipe field augment.mlm_model_dir: contextual substitution needs a local model directory "
                         "with a masked-LM head")
    return ops


def ops_for(settings: AugmentSettings, allowed_ops: Sequence[str], task: str) -> tuple[str, ...]:
    """The checked operations of `settings`, refusing none at all and those that make no sense for `task` (e.g.
    label flipping for NER tags)."""
    ops = check(settings)
    if not ops:
        raise NlptlError("recipe field augment.ops is empty: an augmenter needs a non-empty list of operations")
    unsupported = [op for op in ops if op not in allowed_ops]
    if unsupported:
        raise NlptlError(f"{', '.join(unsupported)} cannot be used for {task}; choose from {list(allowed_ops)}.")
    return ops
