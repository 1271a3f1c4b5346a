"""The target domain's unlabelled texts, for the domain-adaptation methods (DANN, importance weighting)."""

from __future__ import annotations

from nlptl.data.files.load import load_raw_splits
from nlptl.errors import NlptlError
from nlptl.recipe import Recipe


def target_texts(recipe: Recipe) -> list[str]:
    """domain.target_split of domain.target_source (default data.source), a seeded sample of domain.max_target."""
    cfg, data = recipe.domain, recipe.data
    if not cfg.target_split:
        raise NlptlError(f"domain.method {cfg.method} needs domain.target_split: unlabelled target-domain texts (a "
                         "split of domain.target_source, default data.source)")
    source, column = cfg.target_source or data.source, cfg.target_text_column or data.text_column
    raw = load_raw_splits(source, None, recipe.mirrors, data.cache_dir, text_columns=[column])
    if cfg.target_split not in raw:
        raise NlptlError(f"domain.target_split {cfg.target_split!r}: {source} has no such split (it has: "
                         f"{', '.join(raw)})")
    target = raw[cfg.target_split]
    if column not in target.column_names:
        raise NlptlError(f"domain.target_split {cfg.target_split!r} of {source} has no text column {column!r} "
                         f"(columns: {', '.join(target.column_names)}); set domain.target_text_column")
    if len(target) == 0:
        raise NlptlError(f"domain.target_split {cfg.target_split!r} of {source} has no texts; point it at target text")
    if cfg.max_target is not None and cfg.max_target < len(target):
        target = target.shuffle(seed=recipe.seed).select(range(cfg.max_target))
    return [text or "" for text in target[column]]
