"""CoNLL reading: sentence boundaries, tag column, line numbers, IOB1 -> IOB2, label validation."""

from pathlib import Path

import pandas as pd
import pytest

from nlptl.data.conll import (
    ConllSentence,
    convert_iob1_to_iob2,
    iob1_to_iob2,
    label_names_from_sentences,
    parse_conll_lines,
    read_conll,
    read_conll_dataset,
    sentences_to_dataset,
    starts_entity_with_inside,
    validate_tags,
)
from nlptl.errors import NlptlError

CONLL_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
CONLL_PARQUET = Path("/work/shared/data/conll2003/validation.parquet")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sample.conll"
    path.write_text(text, encoding="utf-8")
    return path


def test_docstart_blank_runs_and_trailing_sentence_without_final_blank(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "-DOCSTART- -X- -X- O\n"  # 1
        "\n"  # 2
        "EU NNP B-NP B-ORG\n"  # 3
        "rejects VBZ B-VP O\n"  # 4
        "\n"  # 5
        "\n"  # 6
        "\n"  # 7
        "-DOCSTART- -X- -X- O\n"  # 8
        "\n"  # 9
        "Peter NNP B-NP B-PER\n"  # 10
        "Blackburn NNP I-NP I-PER",  # 11, no newline at all at the end
    )
    sentences = read_conll(path)
    assert [s.tokens for s in sentences] == [["EU", "rejects"], ["Peter", "Blackburn"]]
    assert [s.tags for s in sentences] == [["B-ORG", "O"], ["B-PER", "I-PER"]]
    assert [s.line_numbers for s in sentences] == [[3, 4], [10, 11]]
    assert sentences[1].location(1) == f"{path}:11"


def test_docstart_directly_before_tokens_ends_previous_sentence() -> None:
    sentences = parse_conll_lines(["a O", "-DOCSTART- O", "b O", "", ""])
    assert [s.tokens for s in sentences] == [["a"], ["b"]]


def test_tag_is_last_column_and_tabs_or_spaces_both_split() -> None:
    sentences = parse_conll_lines(["Germany\tNNP\tB-NP\tB-LOC", "'s  POS  B-NP  O", "x B-MISC"])
    assert sentences[0].tokens == ["Germany", "'s", "x"]
    assert sentences[0].tags == ["B-LOC", "O", "B-MISC"]


def test_whitespace_only_lines_separate_sentences() -> None:
    sentences = parse_conll_lines(["a O", "   \t", "b O"])
    assert len(sentences) == 2


def test_line_without_tag_names_file_and_line() -> None:
    with pytest.raises(NlptlError, match=r"data\.txt:2: .*no tag"):
        parse_conll_lines(["a O", "lonely"], path="data.txt")


def test_missing_file_is_user_error(tmp_path: Path) -> None:
    with pytest.raises(NlptlError, match="cannot read"):
        read_conll(tmp_path / "missing.conll")


@pytest.mark.parametrize(
    ("iob1", "iob2"),
    [
        (["I-PER", "I-PER", "O"], ["B-PER", "I-PER", "O"]),
        (["I-PER", "B-PER", "I-PER"], ["B-PER", "B-PER", "I-PER"]),  # B- only between same-type entities
        (["O", "I-LOC", "I-ORG", "I-ORG"], ["O", "B-LOC", "B-ORG", "I-ORG"]),  # type change opens entity
        (["B-MISC", "I-MISC", "O", "B-PER"], ["B-MISC", "I-MISC", "O", "B-PER"]),  # already IOB2
        ([], []),
    ],
)
def test_iob1_to_iob2(iob1: list[str], iob2: list[str]) -> None:
    assert iob1_to_iob2(iob1) == iob2
    assert starts_entity_with_inside(iob1) == (iob1 != iob2)
    assert not starts_entity_with_inside(iob2)


def test_convert_sentences_keeps_lines_and_path() -> None:
    [sentence] = parse_conll_lines(["U.N. I-ORG", "official O", "Ekeus I-PER"], path="f.conll")
    [converted] = convert_iob1_to_iob2([sentence])
    assert converted.tags == ["B-ORG", "O", "B-PER"]
    assert (converted.line_numbers, converted.path) == ([1, 2, 3], "f.conll")


def test_unknown_tag_error_names_file_line_and_tag(tmp_path: Path) -> None:
    path = write(tmp_path, "EU B-ORG\n\nPeter B-PER\nBlackburn I-PRE\n")
    sentences = read_conll(path)
    validate_tags(sentences[0], CONLL_LABELS)
    with pytest.raises(NlptlError) as error:
        validate_tags(sentences[1], CONLL_LABELS)
    message = str(error.value)
    assert f"{path}:4" in message
    assert "'I-PRE'" in message and "'PRE'" in message  # the tag and its unknown type
    assert "add 'B-PRE' and 'I-PRE'" in message  # what to fix


def test_tag_with_known_type_but_not_in_labels() -> None:
    sentence = ConllSentence(["x"], ["E-PER"], [7], "f.conll")
    with pytest.raises(NlptlError, match=r"f\.conll:7: tag 'E-PER' .*not in the label list"):
        validate_tags(sentence, CONLL_LABELS)


def test_label_names_from_sentences_is_stable() -> None:
    sentences = parse_conll_lines(["a B-PER", "b I-PER", "c O", "", "d B-LOC"])
    assert label_names_from_sentences(sentences) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def test_sentences_to_dataset_with_and_without_label_names() -> None:
    sentences = parse_conll_lines(["EU B-ORG", "rejects O", "", "Peter B-PER", "Blackburn I-PER"])
    as_strings = sentences_to_dataset(sentences)
    assert as_strings["ner_tags"] == [["B-ORG", "O"], ["B-PER", "I-PER"]]
    as_ids = sentences_to_dataset(sentences, CONLL_LABELS)
    assert as_ids["ner_tags"] == [[3, 0], [1, 2]]
    assert as_ids.features["ner_tags"].feature.names == CONLL_LABELS
    assert as_ids["tokens"] == [["EU", "rejects"], ["Peter", "Blackburn"]]
    with pytest.raises(NlptlError, match="B-ORG"):
        sentences_to_dataset(sentences, ["O", "B-PER", "I-PER"])


@pytest.mark.skipif(not CONLL_PARQUET.exists(), reason="needs the shared CoNLL-2003 data")
def test_round_trip_of_real_conll2003_sentences(tmp_path: Path) -> None:
    frame = pd.read_parquet(CONLL_PARQUET).head(200)
    lines = ["-DOCSTART- -X- -X- O", ""]
    for tokens, tag_ids in zip(frame["tokens"], frame["ner_tags"], strict=True):
        lines += [
            f"{token} POS CHUNK {CONLL_LABELS[tag_id]}" for token, tag_id in zip(tokens, tag_ids, strict=True)
        ]
        lines.append("")
    path = write(tmp_path, "\n".join(lines))
    dataset = sentences_to_dataset(read_conll(path), CONLL_LABELS)
    assert dataset["tokens"] == [list(tokens) for tokens in frame["tokens"]]
    assert dataset["ner_tags"] == [list(tag_ids) for tag_ids in frame["ner_tags"]]


def test_the_shipped_example_reads_as_iob2_with_docstart_skipped():
    folder = Path(__file__).resolve().parents[1] / "data" / "examples" / "ner"
    train = read_conll_dataset([folder / "train.conll"])
    assert len(train) == 4 and train[0]["tokens"][:2] == ["Maria", "Keller"]
    assert train[0]["ner_tags"][:2] == ["B-PER", "I-PER"] and "-DOCSTART-" not in sum(train["tokens"], [])
