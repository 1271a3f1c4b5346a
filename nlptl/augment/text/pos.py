"""Optional part-of-speech tagging, so synonyms come from the right sense ("run" the verb, not the noun).

NLTK's averaged-perceptron tagger needs data that is usually not installed offline; when it is
missing, augmentation falls back to POS-agnostic WordNet lookups instead of downloading anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nlptl.errors import NlptlError

#: Takes the words of one sentence and returns one Penn Treebank tag per word.
PosTagger = Callable[[Sequence[str]], list[str]]

TAGGER_INSTALL_HINT = "python -m nltk.downloader averaged_perceptron_tagger_eng"

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


def resolve_pos_tagger(pos_aware: bool | None) -> PosTagger | None:
    """Turn the config switch into a tagger: None = use one if installed, True = require one, False = none."""
    if pos_aware is False:
        return None
    tagger = find_pos_tagger()
    if tagger is None and pos_aware:
        raise NlptlError(
            "pos_aware=True needs NLTK's perceptron tagger data, which is not installed: "
            f"run `{TAGGER_INSTALL_HINT}`, or set pos_aware to None (auto) or False."
        )
    return tagger


def wordnet_pos(penn_tag: str | None) -> str | None:
    """Penn Treebank tag -> WordNet POS letter ('NNS' -> 'n', 'JJR' -> 'a'); None when WordNet has none."""
    if not penn_tag:
        return None
    return _PENN_PREFIX_TO_WORDNET.get(penn_tag[0].upper())
