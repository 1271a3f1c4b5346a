"""EDA on (text, label): labels kept, stop words and case respected, reproducible, antonyms opt-in."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nlptl.augment import (
    ANTONYM_REPLACEMENT,
    EDA_OPS,
    ENGLISH_STOP_WORDS,
    RANDOM_SWAP,
    SYNONYM_REPLACEMENT,
    Augmenter,
    AugmentStats,
    Token,
    check,
)
from nlptl.augment.text.ops import changes_for, random_deletion, random_insertion, random_swap, synonym_replacement
from nlptl.augment.text.wordnet import WordNetLexicon, default_lexicon
from nlptl.augment.text.words import is_replaceable, match_case
from nlptl.errors import NlptlError
from nlptl.recipe import AugmentSettings

SETTINGS = settings(max_examples=50, deadline=None)
CONTENT = ["movie", "good", "acting", "story", "happy", "car", "quickly", "beautiful", "run", "bright"]
OTHER = ["the", "not", "was", "and", "very", "10", "3.5", ",", "!", "(", "a"]
CASINGS = [str.lower, str.upper, str.title]

word = st.builds(lambda text, case: case(text), st.sampled_from(CONTENT + OTHER), st.sampled_from(CASINGS))
sentences = st.lists(word, min_size=1, max_size=14)
labels = st.sampled_from(["positive", "negative", 0, 1])
alphas = st.sampled_from([0.05, 0.1, 0.3, 0.5, 1.0])


class SingleWordLexicon:
    """WordNet with multi-word synonyms dropped, so positions line up one-to-one before and after."""

    def __init__(self, lexicon: WordNetLexicon) -> None:
        self.lexicon = lexicon
        self.looked_up: list[str] = []

    def synonyms(self, word: str, pos: str | None = None) -> list[str]:
        self.looked_up.append(word)
        return [synonym for synonym in self.lexicon.synonyms(word, pos) if " " not in synonym]

    def antonyms(self, word: str, pos: str | None = None) -> list[str]:
        self.looked_up.append(word)
        return [antonym for antonym in self.lexicon.antonyms(word, pos) if " " not in antonym]


@pytest.fixture(scope="module")
def lexicon() -> WordNetLexicon:
    return default_lexicon()


def eda(ops=EDA_OPS, **fields) -> AugmentSettings:
    """Augmentation settings, by default the four EDA operations."""
    return AugmentSettings(ops=list(ops), **fields)


def augment_all(augmenter: Augmenter, texts, labels) -> tuple[list, AugmentStats]:
    """Augment a whole dataset: the new examples (originals not included) and per-operation counts."""
    stats = AugmentStats()
    copies = [copy for text, label in zip(texts, labels, strict=True) for copy in augmenter.augment(text, label, stats)]
    return copies, stats


def whitespace_augmenter(settings: AugmentSettings, lexicon: WordNetLexicon) -> Augmenter:
    return Augmenter(settings, lexicon=lexicon, pos_tagger=None, tokenize=str.split, detokenize=" ".join)


@SETTINGS
@given(words=sentences, label=labels, seed=st.integers(0, 2**32), alpha=alphas)
def test_label_preserving_ops_keep_the_label(lexicon, words, label, seed, alpha) -> None:
    augmenter = Augmenter(eda(alpha=alpha, copies=8, seed=seed), lexicon=lexicon)
    copies = augmenter.augment(" ".join(words), label)
    assert all(copy.label == label and copy.op in EDA_OPS for copy in copies)
    assert all(copy.text.strip() for copy in copies)


@SETTINGS
@given(words=sentences, label=labels, seed=st.integers(0, 2**32))
def test_same_seed_same_copies_whatever_the_order(lexicon, words, label, seed) -> None:
    config = eda(copies=6, seed=seed, alpha=0.3)
    text = " ".join(words)
    first = Augmenter(config, lexicon=lexicon).augment(text, label)
    others_first = (["an unrelated good film first", text], [1, label])
    examples, _ = augment_all(Augmenter(config, lexicon=lexicon), *others_first)
    assert first == [copy for copy in examples if copy in first] == examples[len(examples) - len(first) :]


def test_different_seeds_give_different_copies(lexicon) -> None:
    text = "the happy children run quickly through the beautiful bright garden near the old car"
    runs = {
        tuple(Augmenter(eda(seed=seed, copies=4), lexicon=lexicon).augment(text, 1))
        for seed in range(5)
    }
    assert len(runs) > 1


@SETTINGS
@given(words=sentences, seed=st.integers(0, 2**32), alpha=alphas)
def test_synonym_replacement_leaves_stop_words_numbers_and_punctuation(lexicon, words, seed, alpha) -> None:
    single_words = SingleWordLexicon(lexicon)
    tokens = [Token(text) for text in words]
    n = changes_for(alpha, len(tokens))
    new_tokens = synonym_replacement(tokens, n, random.Random(seed), single_words, ENGLISH_STOP_WORDS)
    assert len(new_tokens) == len(tokens)
    changed = [i for i, (old, new) in enumerate(zip(tokens, new_tokens, strict=True)) if old != new]
    assert len(changed) <= n
    for i in changed:
        assert is_replaceable(tokens[i].text, ENGLISH_STOP_WORDS)
    assert all(is_replaceable(looked_up, ENGLISH_STOP_WORDS) for looked_up in single_words.looked_up)


@SETTINGS
@given(words=sentences, seed=st.integers(0, 2**32))
def test_synonym_replacement_keeps_case(lexicon, words, seed) -> None:
    tokens = [Token(text) for text in words]
    new_tokens = synonym_replacement(
        tokens, len(tokens), random.Random(seed), SingleWordLexicon(lexicon), ENGLISH_STOP_WORDS
    )
    for old, new in zip(tokens, new_tokens, strict=True):
        if old != new and len(old.text) > 1 and old.text.isupper():
            assert new.text == new.text.upper()
        elif old != new and old.text[0].isupper():
            assert new.text[0].isupper()


def test_match_case() -> None:
    cased = [match_case(template, "great") for template in ("Good", "GOOD", "good")]
    assert cased == ["Great", "GREAT", "great"]
    assert match_case("good", "Lord") == "Lord"
    assert match_case("A", "great") == "Great"


@SETTINGS
@given(words=sentences, seed=st.integers(0, 2**32), alpha=alphas)
def test_random_deletion_never_empties_and_deletes_n(words, seed, alpha) -> None:
    tokens = [Token(text) for text in words]
    n = changes_for(alpha, len(tokens))
    remaining = random_deletion(tokens, n, random.Random(seed))
    assert remaining
    assert len(remaining) == len(tokens) - min(n, len(tokens) - 1)


@SETTINGS
@given(words=sentences, seed=st.integers(0, 2**32), alpha=alphas)
def test_swap_and_insertion_keep_every_original_word(lexicon, words, seed, alpha) -> None:
    tokens = [Token(text) for text in words]
    n = changes_for(alpha, len(tokens))
    assert sorted(random_swap(tokens, n, random.Random(seed))) == sorted(tokens)
    inserted = random_insertion(tokens, n, random.Random(seed), lexicon, ENGLISH_STOP_WORDS)
    remaining = list(inserted)
    for token in tokens:  # the originals are still there, in order
        remaining = remaining[remaining.index(token) + 1 :]


def test_copies_that_change_nothing_are_dropped_and_counted(lexicon) -> None:
    augmenter = whitespace_augmenter(eda([SYNONYM_REPLACEMENT, RANDOM_SWAP], copies=4), lexicon)
    examples, stats = augment_all(augmenter, ["10 10", "the the"], [0, 1])
    assert examples == []
    assert sum(stats.unchanged.values()) == 8 and not stats.produced
    examples, stats = augment_all(augmenter, ["the good movie was bright"], [1])
    assert stats.produced[SYNONYM_REPLACEMENT] == 2 and len(examples) == sum(stats.produced.values())
    assert stats.as_dict()["produced"] == dict(stats.produced)


def test_ops_take_turns_across_copies(lexicon) -> None:
    augmenter = Augmenter(eda(copies=8, alpha=0.3), lexicon=lexicon)
    copies = augmenter.augment("the happy children quickly run to the beautiful bright car", "x")
    assert {copy.op for copy in copies} == set(EDA_OPS)


def test_antonym_replacement_is_refused_without_a_label_map(lexicon) -> None:
    with pytest.raises(NlptlError, match="antonym_label_map"):
        check(eda([ANTONYM_REPLACEMENT]))
    with pytest.raises(NlptlError, match="antonym_label_map"):
        check(eda([*EDA_OPS, ANTONYM_REPLACEMENT], antonym_label_map={}))
    with pytest.raises(NlptlError, match="antonym_label_map"):
        Augmenter(eda([ANTONYM_REPLACEMENT]), lexicon=lexicon)


def test_antonym_replacement_flips_text_and_label(lexicon) -> None:
    flip = {"positive": "negative", "negative": "positive"}
    one_antonym = Augmenter(eda([ANTONYM_REPLACEMENT], copies=1, seed=0, antonym_label_map=flip), lexicon=lexicon)
    [(text, label)] = [(copy.text, copy.label) for copy in one_antonym.augment("The acting was GOOD .", "positive")]
    assert label == "negative"
    assert text in {"The acting was BAD.", "The acting was EVIL.", "The acting was ILL."}
    assert one_antonym.augment("the table", "positive") == []
    config = eda([ANTONYM_REPLACEMENT], copies=2, antonym_label_map=flip)
    unmapped_labels = (["a good film", "a good film"], ["neutral", 0])
    examples, stats = augment_all(Augmenter(config, lexicon=lexicon), *unmapped_labels)
    assert examples == [] and stats.skipped[ANTONYM_REPLACEMENT] == 4


def test_empty_ops_and_mention_replacement_are_refused_for_text(lexicon) -> None:
    with pytest.raises(NlptlError, match="non-empty"):
        Augmenter(eda([]), lexicon=lexicon)
    with pytest.raises(NlptlError, match="text classification"):
        Augmenter(eda(["mention_replacement"]), lexicon=lexicon)


def test_pos_tags_choose_the_sense(lexicon) -> None:
    tagger_calls = []

    def tag_all_as_verbs(words):
        tagger_calls.append(list(words))
        return ["VB"] * len(words)

    looked_up = SingleWordLexicon(lexicon)
    augmenter = Augmenter(
        eda([SYNONYM_REPLACEMENT], copies=3),
        lexicon=looked_up,
        pos_tagger=tag_all_as_verbs,
    )
    copies = augmenter.augment("run", 0)
    verb_synonyms = set(lexicon.synonyms("run", "v"))
    assert copies and all(copy.text in verb_synonyms for copy in copies)
    assert tagger_calls == [["run"]]
