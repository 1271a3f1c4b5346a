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
    RANDOM_DELETION,
    RANDOM_SWAP,
    SYNONYM_REPLACEMENT,
    AugmentConfig,
    Augmenter,
    AugmentStats,
    Token,
)
from nlptl.augment.ops import changes_for, random_deletion, random_insertion, random_swap, synonym_replacement
from nlptl.augment.wordnet import WordNetLexicon, default_lexicon
from nlptl.augment.words import is_replaceable, match_case
from nlptl.errors import NlptlError

SETTINGS = settings(max_examples=50, deadline=None)
CONTENT = ["movie", "good", "acting", "story", "happy", "car", "quickly", "beautiful", "run", "bright"]
OTHER = ["the", "not", "was", "and", "very", "10", "3.5", ",", "!", "(", "a"]
def augment_all(augmenter, examples, labels):
    """Every example's copies (originals not included) and the counts over all of them."""
    stats = AugmentStats()
    return [copy for example, label in zip(examples, labels, strict=True)
            for copy in augmenter.augment(example, label, stats)], stats


def flip_label_with_antonym(text, label, flip, lexicon):
    """One antonym swap and the label it implies, or None."""
    config = AugmentConfig(ops=[ANTONYM_REPLACEMENT], copies_per_example=1, seed=0, antonym_label_map=flip)
    copies = Augmenter(config, lexicon=lexicon).augment(text, label)
    return (copies[0].text, copies[0].label) if copies else None


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


def whitespace_augmenter(config: AugmentConfig, lexicon: WordNetLexicon) -> Augmenter:
    return Augmenter(config, lexicon=lexicon, pos_tagger=None, tokenize=str.split, detokenize=" ".join)


@SETTINGS
@given(words=sentences, label=labels, seed=st.integers(0, 2**32), alpha=alphas)
def test_label_preserving_ops_keep_the_label(lexicon, words, label, seed, alpha) -> None:
    augmenter = Augmenter(AugmentConfig(alpha=alpha, copies_per_example=8, seed=seed), lexicon=lexicon)
    copies = augmenter.augment(" ".join(words), label)
    assert all(copy.label == label and copy.op in EDA_OPS for copy in copies)
    assert all(copy.text.strip() for copy in copies)


@SETTINGS
@given(words=sentences, label=labels, seed=st.integers(0, 2**32))
def test_same_seed_same_copies_whatever_the_order(lexicon, words, label, seed) -> None:
    config = AugmentConfig(copies_per_example=6, seed=seed, alpha=0.3)
    text = " ".join(words)
    first = Augmenter(config, lexicon=lexicon).augment(text, label)
    others_first = (["an unrelated good film first", text], [1, label])
    examples, _ = augment_all(Augmenter(config, lexicon=lexicon), *others_first)
    assert first == [copy for copy in examples if copy in first] == examples[len(examples) - len(first) :]


def test_different_seeds_give_different_copies(lexicon) -> None:
    text = "the happy children run quickly through the beautiful bright garden near the old car"
    runs = {
        tuple(Augmenter(AugmentConfig(seed=seed, copies_per_example=4), lexicon=lexicon).augment(text, 1))
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
    augmenter = whitespace_augmenter(
        AugmentConfig(ops=[SYNONYM_REPLACEMENT, RANDOM_SWAP], copies_per_example=4), lexicon
    )
    examples, stats = augment_all(augmenter, ["10 10", "the the"], [0, 1])
    assert examples == []
    assert sum(stats.unchanged.values()) == 8 and not stats.produced
    examples, stats = augment_all(augmenter, ["the good movie was bright"], [1])
    assert stats.produced[SYNONYM_REPLACEMENT] == 2 and len(examples) == sum(stats.produced.values())
    assert stats.as_dict()["produced"] == dict(stats.produced)


def test_ops_take_turns_across_copies(lexicon) -> None:
    augmenter = Augmenter(AugmentConfig(copies_per_example=8, alpha=0.3), lexicon=lexicon)
    copies = augmenter.augment("the happy children quickly run to the beautiful bright car", "x")
    assert {copy.op for copy in copies} == set(EDA_OPS)


def test_antonym_replacement_is_refused_without_a_label_map() -> None:
    with pytest.raises(NlptlError, match="antonym_label_map"):
        AugmentConfig(ops=[ANTONYM_REPLACEMENT])
    with pytest.raises(NlptlError, match="antonym_label_map"):
        AugmentConfig(ops=[*EDA_OPS, ANTONYM_REPLACEMENT], antonym_label_map={})
    with pytest.raises(NlptlError, match="antonym_label_map"):
        AugmentConfig(ops=[ANTONYM_REPLACEMENT], antonym_label_map=None)


def test_antonym_replacement_flips_text_and_label(lexicon) -> None:
    flip = {"positive": "negative", "negative": "positive"}
    text, label = flip_label_with_antonym("The acting was GOOD .", "positive", flip, lexicon=lexicon)
    assert label == "negative"
    assert text in {"The acting was BAD.", "The acting was EVIL.", "The acting was ILL."}
    assert flip_label_with_antonym("the table", "positive", flip, lexicon=lexicon) is None
    config = AugmentConfig(ops=[ANTONYM_REPLACEMENT], copies_per_example=2, antonym_label_map=flip)
    unmapped_labels = (["a good film", "a good film"], ["neutral", 0])
    examples, stats = augment_all(Augmenter(config, lexicon=lexicon), *unmapped_labels)
    assert examples == [] and stats.skipped[ANTONYM_REPLACEMENT] == 4


@pytest.mark.parametrize(
    ("settings_", "message"),
    [
        ({"ops": ["shuffle"]}, "Unknown augment ops"),
        ({"ops": []}, "non-empty"),
        ({"ops": "random_swap"}, "non-empty"),
        ({"alpha": 0}, "alpha"),
        ({"alpha": {"random_swap": 1.5}}, "alpha"),
        ({"alpha": {"shuffle": 0.1}}, "Unknown augment alpha"),
        ({"copies_per_example": 0}, "copies_per_example"),
        ({"ops": ["contextual_substitution"]}, "mlm_model_dir"),
    ],
)
def test_bad_config_is_refused(settings_, message) -> None:
    with pytest.raises(NlptlError, match=message):
        AugmentConfig(**settings_)


def test_alpha_per_op_and_mention_replacement_refused_for_text(lexicon) -> None:
    config = AugmentConfig(alpha={RANDOM_DELETION: 0.5})
    assert config.alpha_for(RANDOM_DELETION) == 0.5 and config.alpha_for(RANDOM_SWAP) == 0.1
    with pytest.raises(NlptlError, match="text classification"):
        Augmenter(AugmentConfig(ops=["mention_replacement"]), lexicon=lexicon)


def test_pos_tags_choose_the_sense(lexicon) -> None:
    tagger_calls = []

    def tag_all_as_verbs(words):
        tagger_calls.append(list(words))
        return ["VB"] * len(words)

    looked_up = SingleWordLexicon(lexicon)
    augmenter = Augmenter(
        AugmentConfig(ops=[SYNONYM_REPLACEMENT], copies_per_example=3),
        lexicon=looked_up,
        pos_tagger=tag_all_as_verbs,
    )
    copies = augmenter.augment("run", 0)
    verb_synonyms = set(lexicon.synonyms("run", "v"))
    assert copies and all(copy.text in verb_synonyms for copy in copies)
    assert tagger_calls == [["run"]]
