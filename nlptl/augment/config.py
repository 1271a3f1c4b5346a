"""The augmentation settings, checked when built so a bad recipe fails before any data is touched."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from nlptl.augment.text.ops import (
    ANTONYM_REPLACEMENT,
    CONTEXTUAL_SUBSTITUTION,
    EDA_OPS,
    MENTION_REPLACEMENT,
)
from nlptl.augment.text.stopwords import ENGLISH_STOP_WORDS
from nlptl.errors import NlptlError

KNOWN_OPS = (*EDA_OPS, ANTONYM_REPLACEMENT, CONTEXTUAL_SUBSTITUTION, MENTION_REPLACEMENT)
#: The EDA paper's recommended strength: one word in ten changed.
DEFAULT_ALPHA = 0.1


@dataclass(frozen=True)
class AugmentConfig:
    """Which operations to run, how hard, how many copies, and the seed that makes it all reproducible.

    ``alpha`` is the fraction of words an operation changes (EDA's ``n = max(1, int(alpha * len))``),
    either one number for all operations or ``{op: alpha}`` (missing ops get 0.1).
    Each copy of an example comes from one operation; operations take turns across copies.
    ``antonym_replacement`` flips the label, so it is refused unless ``antonym_label_map`` says how
    ({"positive": "negative", "negative": "positive"}); labels missing from the map are not flipped.
    ``pos_aware``: None uses NLTK's POS tagger when its data is installed, True requires it, False never.
    ``contextual_substitution`` needs ``mlm_model_dir``: a local checkpoint WITH a masked-LM head.
    """

    ops: Sequence[str] = EDA_OPS
    alpha: float | Mapping[str, float] = DEFAULT_ALPHA
    copies_per_example: int = 4
    seed: int = 0
    antonym_label_map: Mapping[Hashable, Hashable] | None = None
    stop_words: frozenset[str] = field(default=ENGLISH_STOP_WORDS)
    pos_aware: bool | None = None
    mlm_model_dir: str | None = None
    mlm_top_k: int = 20

    def __post_init__(self) -> None:
        if isinstance(self.ops, str) or not self.ops:
            raise NlptlError(f"augment ops must be a non-empty list of operations from {list(KNOWN_OPS)}.")
        object.__setattr__(self, "ops", tuple(self.ops))
        object.__setattr__(self, "stop_words", frozenset(word.lower() for word in self.stop_words))
        _check_known("augment ops", self.ops)
        if isinstance(self.alpha, Mapping):
            _check_known("augment alpha keys", self.alpha)
        for op in self.ops:
            alpha = self.alpha_for(op)
            if not 0 < alpha <= 1:
                raise NlptlError(f"augment alpha for {op} must be in (0, 1], got {alpha}.")
        if not isinstance(self.copies_per_example, int) or self.copies_per_example < 1:
            raise NlptlError(
                f"augment copies_per_example must be a positive integer, got {self.copies_per_example!r}."
            )
        if ANTONYM_REPLACEMENT in self.ops and not self.antonym_label_map:
            raise NlptlError(
                "antonym_replacement changes the meaning, so it flips the label and needs antonym_label_map, "
                'e.g. {"positive": "negative", "negative": "positive"}; without one, leave it out of ops.'
            )
        if CONTEXTUAL_SUBSTITUTION in self.ops and not self.mlm_model_dir:
            raise NlptlError(
                "contextual_substitution needs mlm_model_dir: a local model directory with a masked-LM head."
            )
        if self.mlm_top_k < 1:
            raise NlptlError(f"augment mlm_top_k must be at least 1, got {self.mlm_top_k}.")

    def alpha_for(self, op: str) -> float:
        """The strength of ``op``."""
        if isinstance(self.alpha, Mapping):
            return float(self.alpha.get(op, DEFAULT_ALPHA))
        return float(self.alpha)

    def require_ops_within(self, allowed_ops: Sequence[str], task: str) -> None:
        """Refuse operations that make no sense for ``task`` (e.g. label flipping for NER tags)."""
        unsupported = [op for op in self.ops if op not in allowed_ops]
        if unsupported:
            raise NlptlError(
                f"{', '.join(unsupported)} cannot be used for {task}; choose from {list(allowed_ops)}."
            )


def _check_known(what: str, names: Sequence[str] | Mapping[str, float]) -> None:
    unknown = [name for name in names if name not in KNOWN_OPS]
    if unknown:
        raise NlptlError(f"Unknown {what} {unknown}; known operations are {list(KNOWN_OPS)}.")
