"""Seeding by content: generators that depend on a seed and an example, never on order, batching or processes.

Used by augmentation (a copy is a function of seed and example) and masked-LM training (a row's mask is a
function of seed, epoch and example id, so a resumed run masks the same tokens)."""

from __future__ import annotations

import random


def example_rng(seed: int | str, *example: object) -> random.Random:
    """A generator seeded by the config seed AND the example, so copies do not depend on dataset order,
    batching or worker count (``random.Random`` hashes a str seed with SHA-512: stable across runs)."""
    return random.Random("\x1f".join([str(seed), *(repr(part) for part in example)]))
