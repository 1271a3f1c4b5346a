"""CoNLL reading: sentence boundaries, tag column, line numbers (IOB1 -> IOB2: tests/test_iob2.py)."""

from pathlib import Path

import pandas as pd
import pytest

from nlptl.data.conll import parse_conll_lines, read_conll, read_conll_dataset, sentences_to_dataset
from nlptl.errors import NlptlError

CONLL_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
CONLL_PARQUET = "conll2003/validation.parquet"  # in ../shared/data


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


def test_sentences_to_dataset_keeps_tags_as_strings() -> None:
    sentences = parse_conll_lines(["EU B-ORG", "rejects O", "", "Peter B-PER", "Blackburn I-PER"])
    dataset = sentences_to_dataset(sentences)
    assert dataset["ner_tags"] == [["B-ORG", "O"], ["B-PER", "I-PER"]]
    assert dataset["tokens"] == [["EU", "rejects"], ["Peter", "Blackburn"]]


def test_round_trip_of_real_conll2003_sentences(tmp_path: Path, shared_data: Path) -> None:
    frame = pd.read_parquet(shared_data / CONLL_PARQUET).head(200)
    lines = ["-DOCSTART- -X- -X- O", ""]
    for tokens, tag_ids in zip(frame["tokens"], frame["ner_tags"], strict=True):
        lines += [
            f"{token} POS CHUNK {CONLL_LABELS[tag_id]}" for token, tag_id in zip(tokens, tag_ids, strict=True)
        ]
        lines.append("")
    path = write(tmp_path, "\n".join(lines))
    dataset = read_conll_dataset([path])
    assert dataset["tokens"] == [list(tokens) for tokens in frame["tokens"]]
    assert dataset["ner_tags"] == [[CONLL_LABELS[i] for i in tag_ids] for tag_ids in frame["ner_tags"]]


def test_the_shipped_example_reads_as_iob2_with_docstart_skipped():
    folder = Path(__file__).resolve().parents[2] / "data" / "examples" / "ner"
    train = read_conll_dataset([folder / "train.conll"])
    assert len(train) == 4 and train[0]["tokens"][:2] == ["Maria", "Keller"]
    assert train[0]["ner_tags"][:2] == ["B-PER", "I-PER"] and "-DOCSTART-" not in sum(train["tokens"], [])
