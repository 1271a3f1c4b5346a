"""The target domain's unlabelled texts, for the domain-adaptation methods (DANN, importance weighting)."""

from __future__ import annotations

from nlptl.data.text_split import TextSplit, load_text_split, texts_of
from nlptl.errors import NlptlError
from nlptl.recipe import Recipe


def target_texts(recipe: Recipe) -> list[str]:
    """domain.target_split of domain.target_source (default data.source) or a file, a seeded sample of
    domain.max_target."""
    cfg, data = recipe.domain, recipe.data
    if not cfg.target_split:
        raise NlptlError(f"domain.method {cfg.method} needs domain.target_split: unlabelled target-domain texts (a "
                         "split of domain.target_source, default data.source, or a file)")
    column = cfg.target_text_column or data.text_column
    spec = TextSplit(field="domain.target_split", split=cfg.target_split, source=cfg.target_source or data.source,
                     column=column, limit=cfg.max_target, seed=recipe.seed, column_field="domain.target_text_column")
    return texts_of(load_text_split(spec, recipe.mirrors, data.cache_dir), column)
