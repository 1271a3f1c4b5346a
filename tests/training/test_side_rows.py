"""The side stream's rows are a function of (step, micro-batch): a resumed run draws what the whole run drew."""

from __future__ import annotations

from nlptl.training.side_rows import SideRows


def draws(rows: SideRows, steps: range, size: int = 3) -> list[list[int]]:
    taken = []
    for step in steps:
        rows.start_step(step)
        taken += [rows.take(size), rows.take(size)]  # two micro-batches per step
    return taken


def test_a_resumed_stream_draws_the_rows_of_the_uninterrupted_one():
    whole = draws(SideRows(10, seed=7, grad_accum=2), range(5))
    resumed = draws(SideRows(10, seed=7, grad_accum=2), range(3, 5))
    assert resumed == whole[6:]


def test_rows_follow_one_seeded_permutation_and_wrap_around():
    taken = draws(SideRows(10, seed=7, grad_accum=2), range(5), size=5)
    flat = [i for batch in taken for i in batch]
    assert sorted(flat[:10]) == list(range(10)) and flat[:10] == flat[10:20]
    assert draws(SideRows(10, seed=8, grad_accum=2), range(1), size=5)[0] != taken[0]
