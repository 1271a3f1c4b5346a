"""The NLTK internals nlptl relies on (nlptl.augment.nltk_adapter), checked against the installed NLTK: when a
release renames or changes one of them, these fail and name it, instead of augmentation quietly changing."""

import re

import pytest

nltk = pytest.importorskip("nltk", reason="the augment extra (NLTK) is not installed")

from nltk.corpus.reader.wordnet import WordNetCorpusReader  # noqa: E402
from nltk.tokenize import NLTKWordTokenizer  # noqa: E402
from nltk.tokenize.treebank import TreebankWordDetokenizer  # noqa: E402

from nlptl.augment import nltk_adapter  # noqa: E402
from nlptl.augment.wordnet import get_wordnet  # noqa: E402

TEXTS = ['He said "don\'t" -- (really) [x] {y} it\'s Mr. Smith\'s $3.88...', "``quoted'' can't won't gonna!",
         "a moving , funny film ; 10/10 .", "Isn't it?! 'Yes' -- she said (twice)."]


def test_the_reader_still_has_the_private_lookups_and_map_wn():
    assert callable(getattr(WordNetCorpusReader, "map_wn", None)), "NLTK's WordNetCorpusReader.map_wn is gone"
    wordnet = get_wordnet()
    assert isinstance(wordnet, WordNetCorpusReader) and wordnet.get_version() == "3.0"
    assert hasattr(wordnet, "_morphy"), "NLTK's WordNetCorpusReader._morphy is gone"
    assert hasattr(wordnet, "_lemma_pos_offset_map"), "NLTK's WordNetCorpusReader._lemma_pos_offset_map is gone"
    assert nltk_adapter.base_forms(wordnet, "films", "n") == ["film"]
    assert sorted(nltk_adapter.base_forms(wordnet, "better", "a")) == ["better", "good", "well"]
    offsets = nltk_adapter.synset_offsets(wordnet, "film", "n")
    assert offsets == [synset.offset() for synset in wordnet.synsets("film", pos="n")]  # same senses, same order


def test_the_treebank_rules_are_still_patterns_with_flags_and_give_nltks_output():
    for cls in (NLTKWordTokenizer, TreebankWordDetokenizer):
        rules = [name for name in dir(cls) if name.isupper()]
        assert rules, f"NLTK's {cls.__name__} has no upper-case rule lists any more"
        patterns = [item[0] for name in rules for item in getattr(cls, name)
                    if isinstance(item, tuple) and item]
        assert patterns and all(isinstance(getattr(p, "pattern", None), str) and isinstance(getattr(p, "flags", None),
                                                                                           int) for p in patterns), \
            f"NLTK's {cls.__name__} rules are no longer (pattern, replacement) pairs with .pattern and .flags"
    fast = nltk_adapter.stdlib_patterns(NLTKWordTokenizer())
    assert all(isinstance(item[0], re.Pattern) for item in fast.PUNCTUATION)
    tokenize, detokenize = nltk_adapter.treebank()
    for text in TEXTS:
        words = NLTKWordTokenizer().tokenize(text)
        assert tokenize(text) == words and detokenize(words) == TreebankWordDetokenizer().detokenize(words)
