"""Read CoNLL-format NER files into sentences that remember where each token came from.

Format: one token per line, whitespace-separated columns, the token in the first column and its
tag in the last one (so both 2-column and 4-column CoNLL-2003 files work); a blank line ends a
sentence; ``-DOCSTART-`` lines are document separators, not tokens. Every token keeps its 1-based
line number so a bad tag can be reported as ``file:line`` instead of "sentence 1234, token 7".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import datasets

from nlptl.errors import NlptlError

DOCSTART = "-DOCSTART-"
OUTSIDE_TAG = "O"


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


def _split_tag(tag: str) -> tuple[str, str | None]:
    """``"B-PER"`` -> ``("B", "PER")``; ``"O"`` or a prefix-less tag -> ``(tag, None)``."""
    prefix, dash, entity_type = tag.partition("-")
    if not dash or not entity_type:
        return tag, None
    return prefix, entity_type


def starts_entity_with_inside(tags: Sequence[str]) -> bool:
    """True when some ``I-X`` opens an entity (first tag, or after a tag not ``B-X``/``I-X``): IOB1."""
    previous_type: str | None = None
    for tag in tags:
        prefix, entity_type = _split_tag(tag)
        if prefix == "I" and entity_type != previous_type:
            return True
        previous_type = entity_type if prefix in ("B", "I") else None
    return False


def iob1_to_iob2(tags: Sequence[str]) -> list[str]:
    """Rewrite each entity-opening ``I-X`` as ``B-X``; IOB2 input comes back unchanged."""
    converted: list[str] = []
    previous_type: str | None = None
    for tag in tags:
        prefix, entity_type = _split_tag(tag)
        if prefix == "I" and entity_type != previous_type:
            tag = f"B-{entity_type}"
        converted.append(tag)
        previous_type = entity_type if prefix in ("B", "I") else None
    return converted


def convert_iob1_to_iob2(sentences: Sequence[ConllSentence]) -> list[ConllSentence]:
    """Sentence-level :func:`iob1_to_iob2`; line numbers and paths are kept."""
    return [replace(sentence, tags=iob1_to_iob2(sentence.tags)) for sentence in sentences]


def validate_tags(sentence: ConllSentence, label_names: Sequence[str]) -> None:
    """Raise :class:`NlptlError` at the first tag not in ``label_names``, naming file, line and tag."""
    known_tags = set(label_names)
    known_types = {entity_type for _, entity_type in map(_split_tag, label_names) if entity_type}
    for token_index, tag in enumerate(sentence.tags):
        if tag in known_tags:
            continue
        where = sentence.location(token_index)
        prefix, entity_type = _split_tag(tag)
        if entity_type is not None and entity_type not in known_types:
            raise NlptlError(
                f"{where}: tag {tag!r} (token {sentence.tokens[token_index]!r}) has unknown entity type "
                f"{entity_type!r}; known types: {sorted(known_types)}. Fix the tag in the file, or add "
                f"'B-{entity_type}' and 'I-{entity_type}' to the label list."
            )
        raise NlptlError(
            f"{where}: tag {tag!r} (token {sentence.tokens[token_index]!r}) is not in the label list "
            f"{list(label_names)}. Fix the tag in the file, or add it to the label list "
            "(tags look like 'O', 'B-TYPE', 'I-TYPE')."
        )


def label_names_from_sentences(sentences: Sequence[ConllSentence]) -> list[str]:
    """A stable label list for the tags seen: ``O`` first, then ``B-X``, ``I-X`` per type in name order."""
    entity_types = sorted(
        {entity_type for sentence in sentences for _, entity_type in map(_split_tag, sentence.tags)} - {None}
    )
    return [OUTSIDE_TAG] + [f"{prefix}-{entity_type}" for entity_type in entity_types for prefix in "BI"]


def sentences_to_dataset(
    sentences: Sequence[ConllSentence], label_names: Sequence[str] | None = None
) -> datasets.Dataset:
    """Columns ``tokens`` and ``ner_tags``.

    With ``label_names`` the tags are validated and stored as int ids with a ``ClassLabel`` feature
    (so ``features["ner_tags"].feature.names`` holds the names, like the Hub's conll2003); without
    it they stay strings.
    """
    if label_names is None:
        tag_feature: datasets.Value | datasets.ClassLabel = datasets.Value("string")
        tag_column: list[list[str]] | list[list[int]] = [list(sentence.tags) for sentence in sentences]
    else:
        for sentence in sentences:
            validate_tags(sentence, label_names)
        tag_feature = datasets.ClassLabel(names=list(label_names))
        label_to_id = {name: label_id for label_id, name in enumerate(label_names)}
        tag_column = [[label_to_id[tag] for tag in sentence.tags] for sentence in sentences]
    features = datasets.Features(
        {"tokens": datasets.List(datasets.Value("string")), "ner_tags": datasets.List(tag_feature)}
    )
    return datasets.Dataset.from_dict(
        {"tokens": [list(sentence.tokens) for sentence in sentences], "ner_tags": tag_column},
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
