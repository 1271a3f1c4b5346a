"""Short operation names for recipes and the command line (`--augment synonym,swap,delete,insert`)."""

from __future__ import annotations

from collections.abc import Sequence

from nlptl.augment.config import KNOWN_OPS
from nlptl.augment.text.ops import (
    ANTONYM_REPLACEMENT,
    CONTEXTUAL_SUBSTITUTION,
    MENTION_REPLACEMENT,
    RANDOM_DELETION,
    RANDOM_INSERTION,
    RANDOM_SWAP,
    SYNONYM_REPLACEMENT,
)
from nlptl.errors import NlptlError

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


def resolve_ops(names: Sequence[str], field: str = "augment.ops") -> tuple[str, ...]:
    """Full operation names, in the given order without repeats; short names and full names both accepted."""
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
