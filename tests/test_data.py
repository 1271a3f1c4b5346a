import datasets
import pandas as pd
import pytest
from transformers import AutoTokenizer

from nlptl import DataConfig, NlptlError
from nlptl.data.batching import LengthGroupedBatches, SortedBatches
from nlptl.data.collate import PadCollator
from nlptl.data.files.load import load_raw_splits
from nlptl.data.labels import encode_labels
from nlptl.data.pipeline import drop_unlabelled
from nlptl.data.splits import carve_validation, limit_samples, select_splits
from nlptl.data.truncation import encode_single, keep_tokens


def frame(n: int = 20) -> pd.DataFrame:
    return pd.DataFrame({"text": [f"t{i}" for i in range(n)], "label": ["pos" if i % 2 else "neg" for i in range(n)]})


@pytest.mark.parametrize("suffix, write", [
    (".csv", lambda df, p: df.to_csv(p, index=False)),
    (".tsv", lambda df, p: df.to_csv(p, index=False, sep="\t")),
    (".jsonl", lambda df, p: df.to_json(p, orient="records", lines=True)),
    (".parquet", lambda df, p: df.to_parquet(p)),
])
def test_local_directory_one_file_per_split(tmp_path, suffix, write):
    write(frame(), tmp_path / f"train{suffix}")
    write(frame(6), tmp_path / f"test{suffix}")
    splits = load_raw_splits(str(tmp_path), None, {}, str(tmp_path / "cache"))
    assert set(splits) == {"train", "test"} and len(splits["test"]) == 6


def test_single_file_is_train(tmp_path):
    frame().to_csv(tmp_path / "all.csv", index=False)
    assert list(load_raw_splits(str(tmp_path / "all.csv"), None, {}, None)) == ["train"]


def test_unreadable_sources_are_clear_errors(tmp_path):
    (tmp_path / "notes.xlsx").write_text("x")
    with pytest.raises(NlptlError, match="unsupported file type"):
        load_raw_splits(str(tmp_path / "notes.xlsx"), None, {}, None)
    with pytest.raises(NlptlError, match="no data files"):
        load_raw_splits(str(tmp_path), None, {}, None)


def test_missing_train_split_names_available_ones():
    raw = datasets.DatasetDict(test=datasets.Dataset.from_pandas(frame()))
    with pytest.raises(NlptlError, match="no split 'train' .*has: test"):
        select_splits(raw, DataConfig())


def test_string_labels_encoded_and_unknown_rejected():
    splits = datasets.DatasetDict(train=datasets.Dataset.from_pandas(frame()),
                                  test=datasets.Dataset.from_dict({"text": ["a", "b"], "label": ["pos", "meh"]}))
    with pytest.raises(NlptlError, match=r"split 'test', row 2: label 'meh' is not one of \['neg', 'pos'\]"):
        encode_labels(splits, "label", None)
    encoded, names = encode_labels(datasets.DatasetDict(train=splits["train"]), "label", None)
    assert names == ["neg", "pos"] and encoded["train"]["labels"][:2] == [0, 1]


def test_int_labels_use_recipe_names_and_classlabel_names_must_match():
    train = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})
    encoded, names = encode_labels(datasets.DatasetDict(train=train), "label", ["neg", "pos"])
    assert names == ["neg", "pos"] and encoded["train"].features["labels"].names == names
    with_names = train.cast_column("label", datasets.ClassLabel(names=["bad", "good"]))
    with pytest.raises(NlptlError, match="differ from the data's ClassLabel names"):
        encode_labels(datasets.DatasetDict(train=with_names), "label", ["neg", "pos"])
    with pytest.raises(NlptlError, match="label 5"):
        encode_labels(datasets.DatasetDict(train=train, test=datasets.Dataset.from_dict(
            {"text": ["c"], "label": [5]})), "label", ["neg", "pos"])


def test_missing_label_column():
    train = datasets.Dataset.from_dict({"text": ["a"], "y": [0]})
    with pytest.raises(NlptlError, match="label column 'label' not in the train split .*set data.label_column"):
        encode_labels(datasets.DatasetDict(train=train), "label", None)


def test_unlabelled_eval_split_is_dropped():
    splits = datasets.DatasetDict(train=datasets.Dataset.from_dict({"text": ["a"], "label": [1]}),
                                  test=datasets.Dataset.from_dict({"text": ["b", "c"], "label": [-1, -1]}))
    assert list(drop_unlabelled(splits, "label")) == ["train"]


def test_validation_carved_seeded_and_stratified():
    texts = [str(i) for i in range(100)]
    train = datasets.Dataset.from_dict({"text": texts, "labels": [i % 4 == 0 for i in range(100)]})
    train = train.cast_column("labels", datasets.ClassLabel(names=["a", "b"]))
    cfg = DataConfig(validation_size=0.2)
    first = carve_validation(datasets.DatasetDict(train=train), cfg, 1, "labels")
    again = carve_validation(datasets.DatasetDict(train=train), cfg, 1, "labels")
    assert len(first["validation"]) == 20 and first["validation"]["text"] == again["validation"]["text"]
    assert sum(first["validation"]["labels"]) == 5  # stratified: a quarter are class b
    assert not set(first["validation"]["text"]) & set(first["train"]["text"])


def test_limits_take_a_seeded_random_subset():
    texts = [str(i) for i in range(100)]
    train = datasets.Dataset.from_dict({"text": texts, "labels": [int(i >= 50) for i in range(100)]})
    limited = limit_samples(datasets.DatasetDict(train=train), DataConfig(max_train_samples=20), 0)["train"]
    assert len(limited) == 20 and 0 < sum(limited["labels"]) < 20  # not just the first rows of a sorted file


def test_truncation_strategies(minilm_dir):
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir)
    text = " ".join(f"w{i}" for i in range(300))
    pieces = tokenizer(text, add_special_tokens=False)["input_ids"]
    for strategy in ("head", "tail", "head_tail"):
        encoded = encode_single(tokenizer, [text, "short one"], 32, strategy, head_tokens=10)
        ids = encoded["input_ids"][0]
        assert len(ids) == 32 and ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
        assert encoded["input_ids"][1] == tokenizer("short one")["input_ids"]
        if strategy == "tail":
            assert ids[1:-1] == pieces[-30:]
        if strategy == "head_tail":
            assert ids[1:11] == pieces[:10] and ids[11:-1] == pieces[-20:]
    assert keep_tokens(list(range(5)), 10, "head_tail", 3) == list(range(5))


def test_length_grouped_batches_cover_everything_and_repeat_per_epoch():
    lengths = [i % 37 for i in range(1000)]
    sampler = LengthGroupedBatches(lengths, 32, seed=3)
    epoch0 = list(sampler)
    assert sorted(i for b in epoch0 for i in b) == list(range(1000)) and len(epoch0) == len(sampler)
    assert list(sampler) == epoch0
    sampler.set_epoch(1)
    assert list(sampler) != epoch0
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epoch0) / len(epoch0)
    assert spread < 5  # batches hold similar lengths


def test_sorted_batches_longest_first():
    batches = list(SortedBatches([3, 9, 1, 7, 5], 2))
    assert batches == [[1, 3], [4, 0], [2]]


def test_collator_pads_dynamically(minilm_dir):
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir)
    rows = [dict(tokenizer("a b c d"), labels=1, example_id=4), dict(tokenizer("a"), labels=0, example_id=2)]
    batch = PadCollator(tokenizer)(rows)
    assert batch["input_ids"].shape == (2, 6) and batch["attention_mask"][1].tolist() == [1, 1, 1, 0, 0, 0]
    assert batch["labels"].tolist() == [1, 0] and batch["example_id"].tolist() == [4, 2]
