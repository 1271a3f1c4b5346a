"""The multi-task batch order: one task per batch, shares by sampling mode, a function of (seed, epoch) only."""

from collections import Counter

import datasets
import pytest

from nlptl.errors import NlptlError
from nlptl.multitask.data import MultitaskCollator, MultitaskDataset, quotas, sampling_weights
from nlptl.recipe import MultitaskConfig, TrainConfig


def dataset(sizes: dict[str, int]) -> MultitaskDataset:
    parts = {name: datasets.Dataset.from_dict({"length": [(i % 7) + 1 for i in range(n)],
                                               "example_id": list(range(n)), "labels": [0] * n})
             for name, n in sizes.items()}
    return MultitaskDataset(parts, {name: i for i, name in enumerate(sizes)})


def epoch(ds: MultitaskDataset, sampling: str, seed: int = 1, number: int = 0, **options) -> list[list[int]]:
    sampler = ds.train_batches(TrainConfig(batch_size=4), seed, MultitaskConfig(sampling=sampling, **options))
    sampler.set_epoch(number)
    return list(sampler)


def task_of(ds: MultitaskDataset, batch: list[int]) -> int:
    (task,) = {ds.part_of(i) for i in batch}  # raises when a batch mixes tasks
    return task


def test_proportional_sees_every_row_once_per_epoch_one_task_per_batch():
    ds = dataset({"a": 40, "b": 12})
    batches = epoch(ds, "proportional")
    assert sorted(i for batch in batches for i in batch) == list(range(52))
    assert Counter(task_of(ds, batch) for batch in batches) == {0: 10, 1: 3}


def test_uniform_and_temperature_shares():
    ds = dataset({"a": 64, "b": 16})  # 16 and 4 batches
    assert Counter(task_of(ds, b) for b in epoch(ds, "uniform")) == {0: 10, 1: 10}  # b cycles through its rows
    tempered = Counter(task_of(ds, b) for b in epoch(ds, "temperature", temperature=2.0))
    assert tempered == {0: 13, 1: 7}  # 20 batches split 16**0.5 : 4**0.5 = 2 : 1
    assert sampling_weights(MultitaskConfig(sampling="temperature", temperature=1.0), [16, 4]) == [0.8, 0.2]


def test_the_order_is_a_function_of_seed_and_epoch():
    ds = dataset({"a": 40, "b": 24})
    assert epoch(ds, "uniform", seed=3, number=2) == epoch(ds, "uniform", seed=3, number=2)  # resume sees this
    assert epoch(ds, "uniform", seed=3, number=2) != epoch(ds, "uniform", seed=3, number=1)
    assert epoch(ds, "uniform", seed=3) != epoch(ds, "uniform", seed=4)


def test_quotas_add_up_and_bad_sampling_is_a_recipe_error():
    assert sum(quotas([1 / 3, 1 / 3, 1 / 3], 10)) == 10
    with pytest.raises(NlptlError, match="multitask.sampling='random': choose one of proportional, uniform"):
        sampling_weights(MultitaskConfig(sampling="random"), [1, 2])
    with pytest.raises(NlptlError, match="multitask.temperature=0"):
        sampling_weights(MultitaskConfig(sampling="temperature", temperature=0), [1, 2])


def test_rows_carry_their_task_and_a_run_wide_example_id():
    ds = dataset({"a": 5, "b": 3})
    assert ds[6] == {"length": 2, "example_id": 6, "labels": 0, "task_index": 1}
    assert ds["length"] == [1, 2, 3, 4, 5, 1, 2, 3]
    batches = ds.eval_batches(batch_size=2, processes=2)  # each task's batches: a multiple of the processes
    assert [len({ds.part_of(i) for i in b}) for b in batches] == [1] * len(batches)
    assert Counter(ds.part_of(b[0]) for b in batches) == {0: 4, 1: 2}
    collate = MultitaskCollator([lambda rows: {"n": len(rows)}, lambda rows: {"n": -len(rows)}])
    assert collate([ds[5], ds[6]])["task_index"].tolist() == [1, 1]
