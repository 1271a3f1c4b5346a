"""The NLTK internals augmentation relies on (nlptl.augment.text.nltk_adapter): if an NLTK release changes them,
these fail and say what moved."""

from __future__ import annotations

import re

import pytest
from nltk.corpus.reader.wordnet import WordNetCorpusReader
from nltk.tokenize import NLTKWordTokenizer
from nltk.tokenize.treebank import TreebankWordDetokenizer

from nlptl.augment.text import nltk_adapter
from nlptl.augment.text.wordnet import default_lexicon


def test_fast_treebank_rules_match_nltk():
    tokenize, detokenize = nltk_adapter.treebank()
    texts = ['He said "don\'t" -- (really) [x] {y} it\'s Mr. Smith\'s $3.88...', "``quoted'' can't won't gonna!",
             "a moving , funny film ; 10/10 .", "Isn't it?! 'Yes' -- she said (twice)."]
    for text in texts:
        words = NLTKWordTokenizer().tokenize(text)
        assert tokenize(text) == words and detokenize(words) == TreebankWordDetokenizer().detokenize(words)


def patterns_in(value: object) -> list:
    """The regex objects inside a Treebank rule attribute (a pattern, (pattern, replacement), or lists of them)."""
    if isinstance(value, list | tuple):
        return [pattern for item in value for pattern in patterns_in(item)]
    return [value] if hasattr(value, "pattern") else []


@pytest.mark.parametrize("rules", [NLTKWordTokenizer, TreebankWordDetokenizer])
def test_treebank_rules_are_still_regex_attributes(rules):
    names = nltk_adapter.treebank_rule_names(rules())
    assert {"STARTING_QUOTES", "PUNCTUATION", "PARENS_BRACKETS", "ENDING_QUOTES"} <= set(names), (
        f"NLTK renamed the Treebank rules: {names}")
    patterns = [pattern for name in names for pattern in patterns_in(getattr(rules, name))]
    assert len(patterns) > 20 and all(isinstance(p.pattern, str) and isinstance(p.flags, int) for p in patterns)
    fast = nltk_adapter._stdlib_patterns(rules())
    compiled = [pattern for name in names for pattern in patterns_in(getattr(fast, name))]
    assert len(compiled) == len(patterns) and all(isinstance(p, re.Pattern) for p in compiled)
    assert [p.pattern for p in compiled] == [p.pattern for p in patterns]


def test_wordnet_private_lookups_still_exist():
    wordnet = default_lexicon().wordnet
    assert isinstance(getattr(wordnet, "_lemma_pos_offset_map", None), dict), "NLTK dropped _lemma_pos_offset_map"
    assert callable(getattr(wordnet, "_morphy", None)), "NLTK dropped WordNetCorpusReader._morphy"
    assert nltk_adapter.morphy_forms(wordnet, "geese", "n") == ["goose"]
    offsets = nltk_adapter.lemma_offsets(wordnet, "dog", "n")
    assert offsets == [synset.offset() for synset in wordnet.synsets("dog", "n")]
    assert nltk_adapter.lemma_offsets(wordnet, "dog", "r") == []


def test_wordnet30_reader_still_overrides_map_wn():
    assert callable(getattr(WordNetCorpusReader, "map_wn", None)), "NLTK dropped WordNetCorpusReader.map_wn"
    reader_class = nltk_adapter.wordnet30_reader_class()
    assert issubclass(reader_class, WordNetCorpusReader) and reader_class.map_wn is not WordNetCorpusReader.map_wn
    assert type(default_lexicon().wordnet) is reader_class or default_lexicon().wordnet.get_version() == "3.0"


def test_the_reader_still_has_the_private_lookups_and_map_wn():
    """(from issue18's tests/augment/test_nltk_adapter.py) the lookups give the forms and senses NLTK's public API
    does."""
    wordnet = default_lexicon().wordnet
    assert isinstance(wordnet, WordNetCorpusReader) and wordnet.get_version() == "3.0"
    assert nltk_adapter.morphy_forms(wordnet, "films", "n") == ["film"]
    assert sorted(nltk_adapter.morphy_forms(wordnet, "better", "a")) == ["better", "good", "well"]
    offsets = nltk_adapter.lemma_offsets(wordnet, "film", "n")
    assert offsets == [synset.offset() for synset in wordnet.synsets("film", pos="n")]  # same senses, same order


def test_the_treebank_rules_are_still_patterns_with_flags():
    """(from issue18's tests/augment/test_nltk_adapter.py) the rules are (pattern, replacement) pairs."""
    for cls in (NLTKWordTokenizer, TreebankWordDetokenizer):
        rules = nltk_adapter.treebank_rule_names(cls())
        assert rules, f"NLTK's {cls.__name__} has no upper-case rule lists any more"
        patterns = [item[0] for name in rules for item in getattr(cls, name) if isinstance(item, tuple) and item]
        assert patterns and all(
            isinstance(getattr(p, "pattern", None), str) and isinstance(getattr(p, "flags", None), int)
            for p in patterns
        ), f"NLTK's {cls.__name__} rules are no longer (pattern, replacement) pairs with .pattern and .flags"
    fast = nltk_adapter._stdlib_patterns(NLTKWordTokenizer())
    assert all(isinstance(item[0], re.Pattern) for item in fast.PUNCTUATION)
