"""Every use of NLTK internals, in one place: private reader attributes, an overridden reader method and
recompiled tokenizer regexes. NLTK does not promise these, so `tests/augment/test_nltk_adapter.py` checks each
one against the installed NLTK and fails loudly (naming the attribute) when an NLTK release changes them."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from nlptl.errors import NlptlError

_RE_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE


def wordnet30_reader_class() -> type:
    """NLTK's `WordNetCorpusReader`, minus the mapping of this WordNet onto the globally installed ``wordnet``
    corpus (`map_wn`). That mapping only serves the Open Multilingual Wordnet; it costs ~1.5 s and fails
    outright when the data came from anywhere but ``nltk_data``. For WordNet 3.0 the mapping is the identity."""
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class WordNet30Reader(WordNetCorpusReader):
        def map_wn(self, version: str = "wordnet") -> Any:
            if self.get_version() == "3.0":
                return None
            return super().map_wn(version)

    return WordNet30Reader


def base_forms(wordnet: Any, word: str, pos: str) -> list[str]:
    """Every base form of ``word`` under ``pos`` that WordNet lists (NLTK's private `_morphy`; the public
    `morphy` returns only the first)."""
    return list(wordnet._morphy(word, pos))


def synset_offsets(wordnet: Any, lemma: str, pos: str) -> list[int]:
    """Data-file offsets of the synsets of ``lemma`` under ``pos`` (NLTK's private `_lemma_pos_offset_map`), so
    synonyms are read without building synset objects."""
    return list(wordnet._lemma_pos_offset_map[lemma].get(pos, []))


def treebank() -> tuple[Callable[[str], list[str]], Callable[[Sequence[str]], str]]:
    """NLTK's Treebank word tokenizer and detokenizer, their rules compiled with `re`."""
    try:
        from nltk.tokenize import NLTKWordTokenizer
        from nltk.tokenize.treebank import TreebankWordDetokenizer
    except ImportError as error:
        from nlptl.augment.wordnet import INSTALL_HINT

        raise NlptlError(f"Text augmentation needs NLTK: {INSTALL_HINT}.") from error
    tokenizer, detokenizer = stdlib_patterns(NLTKWordTokenizer()), stdlib_patterns(TreebankWordDetokenizer())
    return tokenizer.tokenize, lambda words: detokenizer.detokenize(list(words))


def stdlib_patterns(treebank: Any) -> Any:
    """The Treebank rules compiled with `re`, as NLTK did before 3.10: NLTK now runs every regex through a
    timeout wrapper (a guard for caller-supplied patterns), which made these fixed rules 2-3x slower; the
    output is the same (checked on SST-2 and IMDb texts, and by the adapter's test)."""

    def compiled(value: object) -> object:
        if isinstance(value, list | tuple):
            return type(value)(compiled(item) for item in value)
        pattern, flags = getattr(value, "pattern", None), getattr(value, "flags", None)
        if isinstance(pattern, str) and isinstance(flags, int) and not isinstance(value, re.Pattern):
            return re.compile(pattern, flags & _RE_FLAGS)
        return value

    for name in dir(type(treebank)):
        if name.isupper():  # STARTING_QUOTES, PUNCTUATION, CONTRACTIONS2, ...
            setattr(treebank, name, compiled(getattr(treebank, name)))
    return treebank
