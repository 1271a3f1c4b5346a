"""Data augmentation for transfer learning with small labelled sets.

- ``Augmenter``: EDA (Wei & Zou 2019) for (text, label) classification examples.
- ``NerAugmenter``: the same operations restricted to O tokens, plus same-type mention
  replacement, for (tokens, IOB2 tags).
- ``wordnet``: offline WordNet 3.0 through NLTK (``pip install 'nlptl[augment]'``).

Contextual substitution with a masked LM lives in ``nlptl.augment.contextual`` and is imported
only when configured, so this package never imports torch or transformers by itself.
"""

from nlptl.augment.config import KNOWN_OPS, AugmentConfig
from nlptl.augment.eda import TEXT_OPS, AugmentedExample, Augmenter
from nlptl.augment.engine import AugmentStats
from nlptl.augment.ner import NER_OPS, AugmentedTokens, MentionBank, NerAugmenter, replace_mentions
from nlptl.augment.ops import (
    ANTONYM_REPLACEMENT,
    CONTEXTUAL_SUBSTITUTION,
    EDA_OPS,
    MENTION_REPLACEMENT,
    RANDOM_DELETION,
    RANDOM_INSERTION,
    RANDOM_SWAP,
    SYNONYM_REPLACEMENT,
    Token,
)
from nlptl.augment.stopwords import ENGLISH_STOP_WORDS
from nlptl.augment.wordnet import WordNetLexicon, antonyms, load_wordnet, synonyms

__all__ = [
    "ANTONYM_REPLACEMENT",
    "CONTEXTUAL_SUBSTITUTION",
    "EDA_OPS",
    "ENGLISH_STOP_WORDS",
    "KNOWN_OPS",
    "MENTION_REPLACEMENT",
    "NER_OPS",
    "RANDOM_DELETION",
    "RANDOM_INSERTION",
    "RANDOM_SWAP",
    "SYNONYM_REPLACEMENT",
    "TEXT_OPS",
    "AugmentConfig",
    "AugmentStats",
    "AugmentedExample",
    "AugmentedTokens",
    "Augmenter",
    "MentionBank",
    "NerAugmenter",
    "Token",
    "WordNetLexicon",
    "antonyms",
    "load_wordnet",
    "replace_mentions",
    "synonyms",
]
