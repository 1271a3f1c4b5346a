"""Read CoNLL-format NER files into sentences that remember where each token came from.

Format: one token per line, whitespace-separated columns, the token in the first column and its
tag in the last one (so both 2-column and 4-column CoNLL-2003 files work); a blank line ends a
sentence; ``-DOCSTART-`` lines are document separators, not tokens. Every token keeps its 1-based
line number so a bad tag can be reported as ``file:line`` instead of "sentence 1234, token 7".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets

from nlptl.errors import NlptlError

DOCSTART = "-DOCSTART-"


@dataclass(frozen=True)
class ConllSentence:
    """One sentence: parallel lists of tokens, tags and the source line of each token."""

    tokens: list[str]
    tags: list[str]
    line_numbers: list[int]
    path: str

    def location(self, token_index: int) -> str:
        """``file:line`` of one token, for error messages."""
        return f"{self.path}:{self.line_numbers[token_index]}"


def read_conll(path: str | Path, encoding: str = "utf-8") -> list[ConllSentence]:
    """Parse a CoNLL file; runs of blank lines and ``-DOCSTART-`` never produce empty sentences."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding=encoding)
    except OSError as error:
        raise NlptlError(f"cannot read CoNLL file {source}: {error}. Check the path.") from error
    except UnicodeDecodeError as error:
        raise NlptlError(
            f"{source} is not valid {encoding}: {error}. Re-save it as {encoding} or pass encoding=..."
        ) from error
    return parse_conll_lines(text.splitlines(), source)


def parse_conll_lines(lines: Iterable[str], path: str = "<string>") -> list[ConllSentence]:
    """Parse already-read lines; ``path`` only labels error messages and the sentences."""
    sentences: list[ConllSentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    line_numbers: list[int] = []

    def end_sentence() -> None:
        if tokens:
            sentences.append(ConllSentence(list(tokens), list(tags), list(line_numbers), path))
            tokens.clear()
            tags.clear()
            line_numbers.clear()

    for line_number, line in enumerate(lines, start=1):
        columns = line.split()
        if not columns:
            end_sentence()
            continue
        if columns[0] == DOCSTART:
            end_sentence()
            continue
        if len(columns) < 2:
            raise NlptlError(
                f"{path}:{line_number}: line {line!r} has a token but no tag column. "
                "Each token line needs at least 'TOKEN TAG' separated by whitespace."
            )
        tokens.append(columns[0])
        tags.append(columns[-1])
        line_numbers.append(line_number)
    end_sentence()
    return sentences


def sentences_to_dataset(sentences: Sequence[ConllSentence]) -> datasets.Dataset:
    """Columns ``tokens`` and ``ner_tags`` (strings: tag names and ids are the task's business)."""
    features = datasets.Features(
        {"tokens": datasets.List(datasets.Value("string")), "ner_tags": datasets.List(datasets.Value("string"))}
    )
    return datasets.Dataset.from_dict(
        {"tokens": [list(sentence.tokens) for sentence in sentences],
         "ner_tags": [list(sentence.tags) for sentence in sentences]},
        features=features,
    )


FILE_COLUMN = "conll_file"
LINES_COLUMN = "conll_lines"
"""Columns :func:`read_conll_dataset` adds so later stages can name ``file:line`` for a bad tag."""


def conll_location(row: dict, word_index: int) -> str | None:
    """``file:line`` of one word of a row read by :func:`read_conll_dataset`; ``None`` for other rows."""
    if FILE_COLUMN not in row or LINES_COLUMN not in row:
        return None
    return f"{row[FILE_COLUMN]}:{row[LINES_COLUMN][word_index]}"


def read_conll_dataset(paths: Sequence[str | Path]) -> datasets.Dataset:
    """One split from one or more CoNLL files: ``tokens``, string ``ner_tags`` and where each token came from.

    Tags stay strings here: their names and ids are the task's business (it knows the recipe's label list).
    """
    sentences = [sentence for path in paths for sentence in read_conll(path)]
    dataset = sentences_to_dataset(sentences)
    dataset = dataset.add_column(FILE_COLUMN, [sentence.path for sentence in sentences])
    return dataset.add_column(
        LINES_COLUMN, [list(sentence.line_numbers) for sentence in sentences],
        feature=datasets.List(datasets.Value("int32")),
    )
