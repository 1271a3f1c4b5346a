"""Token classification end to end on the tiny BERT: tags in (ids, strings, CoNLL files, IOB1), entity scores out."""

import json
import random
from pathlib import Path

import datasets
import pandas as pd
import pytest
from conftest import FILLER, NEGATIVE, POSITIVE
from transformers import AutoConfig

import nlptl
from nlptl import NlptlError
from nlptl.data.files.load import load_raw_splits
from nlptl.data.pipeline import build_datasets
from nlptl.data.tags import encode_tags
from nlptl.models import load_tokenizer
from nlptl.recipe import load_recipe_file, load_recipe_yaml
from nlptl.tasks import get_task
from nlptl.tasks.token_alignment import IGNORE_INDEX

REPO = Path(__file__).resolve().parents[1]
NAMES = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
# In the tiny BERT's vocabulary: "positive" words are people, "negative" words places, filler is O. A mention's
# first word comes from the first half of its list, a second word from the other half, so the word alone
# decides the tag (the tiny model learns that in seconds; B-vs-I from context would take it much longer).
ENTITY_WORDS = {"PER": (POSITIVE[:4], POSITIVE[4:]), "LOC": (NEGATIVE[:4], NEGATIVE[4:])}


def synthetic_sentence(rng: random.Random, min_words: int = 3, max_words: int = 12) -> tuple[list[str], list[str]]:
    """Filler words and one or two capitalised entities of one or two words (some split into sub-tokens),
    never adjacent (two adjacent mentions of one type would be indistinguishable from one longer mention)."""
    words = rng.choices(FILLER, k=rng.randint(min_words, max_words))
    tags = ["O"] * len(words)
    for at in sorted(rng.sample(range(len(words)), rng.randint(1, 2)), reverse=True):
        entity_type = rng.choice(sorted(ENTITY_WORDS))
        mention = [rng.choice(words_for).capitalize() + rng.choice(["", "", "s"])
                   for words_for in ENTITY_WORDS[entity_type][:rng.randint(1, 2)]]
        words[at:at] = mention  # before filler word `at`, so a filler word follows every mention
        tags[at:at] = [f"B-{entity_type}"] + [f"I-{entity_type}"] * (len(mention) - 1)
    return words + ["."], tags + ["O"]


def synthetic_ner(n: int, seed: int, **lengths: int) -> list[tuple[list[str], list[str]]]:
    rng = random.Random(seed)
    return [synthetic_sentence(rng, **lengths) for _ in range(n)]


def write_parquet_ids(path: Path, sentences: list[tuple[list[str], list[str]]]) -> None:
    ids = [[NAMES.index(tag) for tag in tags] for _, tags in sentences]
    pd.DataFrame({"tokens": [words for words, _ in sentences], "ner_tags": ids}).to_parquet(path)


def write_ner_splits(path: Path, sizes: dict[str, int]) -> Path:
    """Synthetic NER parquet splits with int tag ids (names only in the recipe), like ../shared/data."""
    for seed, (split, n) in enumerate(sizes.items(), 1):
        write_parquet_ids(path / f"{split}.parquet", synthetic_ner(n, seed))
    return path


def write_conll(path: Path, sentences: list[tuple[list[str], list[str]]]) -> None:
    lines = ["-DOCSTART- O", ""]
    for words, tags in sentences:
        lines += [f"{word} NN O {tag}" for word, tag in zip(words, tags, strict=True)] + [""]
    path.write_text("\n".join(lines))


@pytest.fixture(scope="module")
def ner_parquet_dir(tmp_path_factory) -> Path:
    return write_ner_splits(tmp_path_factory.mktemp("ner-parquet"), {"train": 256, "validation": 48, "test": 60})


def ner_recipe(model_dir: Path, source: Path, output_dir: Path, label_names: list[str] | None = None,
               max_length: int = 32, **train) -> nlptl.Recipe:
    settings = {"epochs": 3, "batch_size": 16, "eval_batch_size": 32, "lr": 3e-3, "mixed_precision": "no",
                "log_with": [], "warmup_ratio": 0.0}
    settings.update(train)
    return nlptl.Recipe(
        name="tiny_ner", task="token_classification", output_dir=str(output_dir),
        model=nlptl.ModelConfig(name=str(model_dir)),
        data=nlptl.DataConfig(source=str(source), label_names=label_names, max_length=max_length),
        train=nlptl.TrainConfig(**settings),
    )


def string_splits(**splits: list[tuple[list[str], list[str]]]) -> datasets.DatasetDict:
    return datasets.DatasetDict({
        name: datasets.Dataset.from_dict({"tokens": [w for w, _ in rows], "ner_tags": [t for _, t in rows]})
        for name, rows in splits.items()
    })


# ---- end to end ---------------------------------------------------------------------------------------------
@pytest.mark.slow  # unit-run budget: trains a tiny model end to end (the slow job runs it)
def test_fine_tunes_and_reports_entity_scores(tiny_model_dir, ner_parquet_dir, tmp_path):
    out = tmp_path / "run"
    recipe = ner_recipe(tiny_model_dir, ner_parquet_dir, out, label_names=NAMES)
    metrics = nlptl.train(recipe)
    test = metrics["test"]
    gold = pd.read_parquet(ner_parquet_dir / "test.parquet")
    assert test["num_examples"] == 60 and test["num_words"] == sum(map(len, gold["tokens"]))
    assert {"precision", "recall", "f1", "accuracy", "per_type", "num_words_beyond_first_window"} <= set(test)
    assert set(test["per_type"]) == {"PER", "LOC"}
    assert test["f1"] > 0.8  # the word alone decides the tag
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test"]["per_type"]["PER"]["number"] > 0
    assert (out / "entity_f1.png").read_bytes()[:4] == b"\x89PNG"
    assert AutoConfig.from_pretrained(out).id2label == dict(enumerate(NAMES))
    assert load_recipe_yaml(out / "recipe.yaml") == recipe
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert "f1" in history[-1]["validation"] and "per_type" not in history[-1]["validation"]
    assert 0 <= test["f1_argmax"] <= 1  # constrained decoding (the default) also reports plain argmax's F1

    from nlptl.inference.ner import predict_entities

    text = "the movie Good Fun and Bad was a  plot.\nthe story"
    spans = predict_entities(out, [text, ""])
    assert spans[1] == []
    assert [(s.type, s.text, s.start_char) for s in spans[0]] == [("PER", "Good Fun", 10), ("LOC", "Bad", 23)]
    assert all(text[s.start_char:s.end_char] == s.text for s in spans[0])
    with pytest.raises(NlptlError, match="decoding='beam'"):
        predict_entities(out, [text], decoding="beam")
    recipe.data.ner_decoding, recipe.output_dir = "beam", str(tmp_path / "other")
    with pytest.raises(NlptlError, match=r"data\.ner_decoding='beam': choose one of constrained, argmax"):
        nlptl.train(recipe)


def test_long_sentences_get_every_word_scored(tiny_model_dir, tmp_path):
    """Sentences of up to 60 words with 16-token windows; from CoNLL files with string tags."""
    data = tmp_path / "conll"
    data.mkdir()
    write_conll(data / "train.conll", synthetic_ner(32, 1))
    write_conll(data / "validation.conll", synthetic_ner(8, 2))
    test_sentences = synthetic_ner(10, 3, min_words=20, max_words=60)
    write_conll(data / "test.conll", test_sentences)
    metrics = nlptl.train(ner_recipe(tiny_model_dir, data, tmp_path / "run", max_length=16, max_steps=2))
    test = metrics["test"]
    assert test["num_examples"] == 10
    assert test["num_words"] == sum(len(words) for words, _ in test_sentences)
    assert test["num_words_beyond_first_window"] > 0 and test["num_windows"] > 10


def test_best_checkpoint_is_chosen_by_entity_f1():
    assert get_task("token_classification").main_metric == "f1"
    assert get_task("sequence_classification").main_metric == "accuracy"


def test_conll2003_recipe_file_loads():
    recipe = load_recipe_file(str(REPO / "recipes" / "conll2003_ner.py"))
    assert recipe.task == "token_classification" and recipe.train.metric_for_best == "f1"
    assert recipe.data.label_names[:3] == ["O", "B-PER", "I-PER"] and recipe.data.max_length == 128


# ---- data sources -------------------------------------------------------------------------------------------
def test_conll_directory_and_single_file_load(tmp_path):
    write_conll(tmp_path / "train.conll", synthetic_ner(5, 1))
    write_conll(tmp_path / "test.conll", synthetic_ner(3, 2))
    (tmp_path / "notes.md").write_text("not data")
    splits = load_raw_splits(str(tmp_path), None, {}, None)
    assert set(splits) == {"train", "test"} and len(splits["test"]) == 3
    first = splits["train"][0]
    assert first["conll_file"].endswith("train.conll") and first["conll_lines"][0] == 3
    assert len(first["tokens"]) == len(first["ner_tags"]) and isinstance(first["ner_tags"][0], str)
    assert list(load_raw_splits(str(tmp_path / "test.conll"), None, {}, None)) == ["train"]


def test_bad_conll_line_names_file_and_line(tmp_path):
    (tmp_path / "train.iob").write_text("EU B-ORG\nrejects\n")
    with pytest.raises(NlptlError, match=r"train\.iob:2: .*no tag column"):
        load_raw_splits(str(tmp_path), None, {}, None)


def test_string_tags_from_jsonl_get_iob2_names(tiny_model_dir, tmp_path):
    rows = synthetic_ner(20, 1)
    pd.DataFrame({"tokens": [w for w, _ in rows], "ner_tags": [t for _, t in rows]}).to_json(
        tmp_path / "train.jsonl", orient="records", lines=True)
    recipe = ner_recipe(tiny_model_dir, tmp_path, tmp_path / "out")
    recipe.data.validation_size = 4
    task = get_task("token_classification")
    splits = build_datasets(recipe, task, load_tokenizer(recipe.model, {}))
    assert task.label_names == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert set(splits) == {"train", "validation"} and splits["validation"].num_rows >= 4


def test_only_first_subtoken_is_labelled_unless_asked(tiny_model_dir, tmp_path):
    sentences = [(["Goods", "was", "fine"], ["B-PER", "O", "B-PER"])]  # "goods" = good ##s
    pd.DataFrame({"tokens": [w for w, _ in sentences], "ner_tags": [t for _, t in sentences]}).to_json(
        tmp_path / "train.jsonl", orient="records", lines=True)
    recipe = ner_recipe(tiny_model_dir, tmp_path, tmp_path / "out")
    recipe.data.validation_size = 0
    tokenizer = load_tokenizer(recipe.model, {})
    first_only = build_datasets(recipe, get_task("token_classification"), tokenizer)["train"][0]["labels"]
    recipe.data.label_all_subtokens = True
    task = get_task("token_classification")
    every = build_datasets(recipe, task, tokenizer)["train"][0]["labels"]
    b_per, i_per = task.label_names.index("B-PER"), task.label_names.index("I-PER")
    assert first_only == [IGNORE_INDEX, b_per, IGNORE_INDEX, 0, b_per, IGNORE_INDEX]
    assert every == [IGNORE_INDEX, b_per, i_per, 0, b_per, IGNORE_INDEX]


# ---- tags ---------------------------------------------------------------------------------------------------
def test_iob1_tags_are_converted_to_iob2():
    splits = string_splits(train=[(["Peter", "Blackburn", "in", "Bonn"], ["I-PER", "I-PER", "O", "I-LOC"]),
                                  (["A", "B"], ["I-PER", "B-PER"])])
    encoded, names = encode_tags(splits, "tokens", "ner_tags", None)
    tags = [[names[i] for i in row] for row in encoded["train"]["labels"]]
    assert tags == [["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "B-PER"]]
    assert encoded["train"].features["labels"].feature.names == names


def test_iob1_label_list_without_b_tags_is_completed():
    iob1_names = ["O", "I-PER", "I-LOC"]
    features = datasets.Features({"tokens": datasets.List(datasets.Value("string")),
                                  "ner_tags": datasets.List(datasets.ClassLabel(names=iob1_names))})
    train = datasets.Dataset.from_dict({"tokens": [["Ann", "Bo", "Oslo"]], "ner_tags": [[1, 1, 2]]}, features=features)
    encoded, names = encode_tags(datasets.DatasetDict(train=train), "tokens", "ner_tags", None)
    assert names[:3] == iob1_names and {"B-PER", "B-LOC"} <= set(names)
    assert [names[i] for i in encoded["train"]["labels"][0]] == ["B-PER", "I-PER", "B-LOC"]


def test_unknown_tag_names_split_row_and_word():
    splits = string_splits(train=[(["Ann", "sings"], ["B-PER", "O"])],
                           test=[(["x"], ["O"]), (["Ann", "in", "Rome"], ["B-PER", "O", "B-XYZ"])])
    with pytest.raises(NlptlError, match=r"split 'test', row 1, word 2: tag 'B-XYZ' \(word 'Rome'\)"):
        encode_tags(splits, "tokens", "ner_tags", None)


def test_unknown_tag_in_conll_file_names_file_and_line(tmp_path):
    write_conll(tmp_path / "train.conll", [(["Ann", "sings"], ["B-PER", "O"])])
    write_conll(tmp_path / "test.conll", [(["Ann", "in", "Rome"], ["B-PER", "O", "B-LOC"])])
    with pytest.raises(NlptlError, match=r"test\.conll:5: tag 'B-LOC'"):
        encode_tags(load_raw_splits(str(tmp_path), None, {}, None), "tokens", "ner_tags", None)


def test_tag_ids_need_names_and_must_be_in_range():
    ids = datasets.DatasetDict(train=datasets.Dataset.from_dict({"tokens": [["a", "b"]], "ner_tags": [[0, 3]]}))
    with pytest.raises(NlptlError, match="no tag names.*data.label_names"):
        encode_tags(ids, "tokens", "ner_tags", None)
    with pytest.raises(NlptlError, match=r"split 'train', row 0, word 1: tag 3"):
        encode_tags(ids, "tokens", "ner_tags", ["O", "B-PER", "I-PER"])


def test_words_and_tags_must_pair_up_and_columns_exist():
    splits = string_splits(train=[(["a", "b"], ["O"])])
    with pytest.raises(NlptlError, match="row 0: 2 words but 1 tags"):
        encode_tags(splits, "tokens", "ner_tags", None)
    with pytest.raises(NlptlError, match="tags column 'tags' not in the data.*data.tags_column"):
        encode_tags(splits, "tokens", "tags", None)
