"""Optional part-of-speech tagging, so synonyms come from the right sense ("run" the verb, not the noun).

NLTK's averaged-perceptron tagger needs data that is usually not installed offline; when it is
missing, augmentation falls back to POS-agnostic WordNet lookups instead of downloading anything
(`python -m nltk.downloader averaged_perceptron_tagger_eng` installs it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

#: Takes the words of one sentence and returns one Penn Treebank tag per word.
PosTagger = Callable[[Sequence[str]], list[str]]

_PENN_PREFIX_TO_WORDNET = {"J": "a", "V": "v", "N": "n", "R": "r"}


def find_pos_tagger() -> PosTagger | None:
    """NLTK's English perceptron tagger if its data is installed, else None (never downloads)."""
    try:
        from nltk.tag import PerceptronTagger
    except ImportError:
        return None
    try:
        tagger = PerceptronTagger()
    except (LookupError, OSError, ValueError):
        return None

    def tag(words: Sequence[str]) -> list[str]:
        return [penn_tag for _, penn_tag in tagger.tag(list(words))]

    return tag


def wordnet_pos(penn_tag: str | None) -> str | None:
    """Penn Treebank tag -> WordNet POS letter ('NNS' -> 'n', 'JJR' -> 'a'); None when WordNet has none."""
    if not penn_tag:
        return None
    return _PENN_PREFIX_TO_WORDNET.get(penn_tag[0].upper())
