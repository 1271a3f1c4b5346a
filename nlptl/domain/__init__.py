"""Adapting to a target domain of which only unlabelled text is at hand: `domain.method` picks the method.
`dann` is a training strategy wrapper (`nlptl.training.strategies.domain_adversarial`); `importance_weighting`
re-weights the source rows before an ordinary run (`nlptl.domain.importance`)."""

from __future__ import annotations

METHODS = ("dann", "importance_weighting")
