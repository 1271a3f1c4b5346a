"""Label-preserving data augmentation for transfer learning with small labelled sets: one home for all of it.

- ``settings``: the recipe's ``AugmentSettings`` checked once (``check``), short operation names resolved.
- ``text``: the pure text operations, no datasets or torch: EDA (Wei & Zou 2019) on (text, label) with
  ``Augmenter``, the same operations on O tokens plus same-type mention replacement on (tokens, IOB2 tags) with
  ``NerAugmenter``, offline WordNet 3.0 through NLTK (``pip install 'nlptl[augment]'``).
- ``stage``: augmentation as a stage of the data pipeline (train split only, offline or per epoch), with
  ``rows`` (data-set rows <-> augmenters), ``epochs`` (the on-the-fly train collator) and ``report``
  (counts and before/after samples). These import datasets/torch, so they are imported by name, not here.

Contextual substitution with a masked LM (``text.contextual``) imports torch and transformers only when it
is configured, so importing this package never does.
"""

from nlptl.augment.settings import KNOWN_OPS, SHORT_NAMES, check, resolve_ops
from nlptl.augment.text.eda import TEXT_OPS, AugmentedExample, Augmenter
from nlptl.augment.text.engine import AugmentStats
from nlptl.augment.text.ner import NER_OPS, AugmentedTokens, MentionBank, NerAugmenter, replace_mentions
from nlptl.augment.text.ops import (
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
from nlptl.augment.text.stopwords import ENGLISH_STOP_WORDS
from nlptl.augment.text.wordnet import WordNetLexicon, antonyms, load_wordnet, synonyms

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
    "SHORT_NAMES",
    "SYNONYM_REPLACEMENT",
    "TEXT_OPS",
    "AugmentStats",
    "AugmentedExample",
    "AugmentedTokens",
    "Augmenter",
    "MentionBank",
    "NerAugmenter",
    "Token",
    "WordNetLexicon",
    "antonyms",
    "check",
    "load_wordnet",
    "replace_mentions",
    "resolve_ops",
    "synonyms",
]
