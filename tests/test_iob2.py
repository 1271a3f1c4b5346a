"""IOB2 tags: IOB1 conversion, label lists, validation and seqeval's chunking into spans."""

import pytest

from nlptl import iob2
from nlptl.errors import NlptlError


@pytest.mark.parametrize(
    ("iob1", "converted"),
    [
        (["I-PER", "I-PER", "O"], ["B-PER", "I-PER", "O"]),
        (["I-PER", "B-PER", "I-PER"], ["B-PER", "B-PER", "I-PER"]),  # B- only between same-type entities
        (["O", "I-LOC", "I-ORG", "I-ORG"], ["O", "B-LOC", "B-ORG", "I-ORG"]),  # type change opens entity
        (["B-MISC", "I-MISC", "O", "B-PER"], ["B-MISC", "I-MISC", "O", "B-PER"]),  # already IOB2
        ([], []),
    ],
)
def test_iob1_to_iob2(iob1: list[str], converted: list[str]) -> None:
    assert iob2.iob1_to_iob2(iob1) == converted
    assert iob2.iob1_to_iob2(converted) == converted
    iob2.validate_iob2(converted)


def test_label_names_are_stable_and_completed() -> None:
    assert iob2.label_names(["PER", "LOC", "PER"]) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert iob2.complete_names(["O", "I-PER", "I-LOC"]) == ["O", "I-PER", "I-LOC", "B-PER", "B-LOC"]
    assert [iob2.inside_partner(tag) for tag in ["B-PER", "I-PER", "O", "B-", "B-NORP-X"]] == \
        ["I-PER", None, None, None, "I-NORP-X"]


def test_ill_formed_tags_are_refused() -> None:
    with pytest.raises(NlptlError, match="follows 'O'"):
        iob2.validate_iob2(["O", "I-PER"])
    with pytest.raises(NlptlError, match="not IOB2"):
        iob2.validate_iob2(["E-PER"])


def test_spans_are_seqevals_lenient_or_strict_chunks() -> None:
    tags = ["B-PER", "I-PER", "O", "I-LOC", "B-ORG", "I-MISC"]
    assert iob2.entity_spans(tags) == [(0, 2, "PER"), (3, 4, "LOC"), (4, 5, "ORG"), (5, 6, "MISC")]
    assert iob2.entity_spans(tags, strict=True) == [(0, 2, "PER"), (4, 5, "ORG")]
    assert iob2.mention_tags("LOC", 3) == ["B-LOC", "I-LOC", "I-LOC"]
