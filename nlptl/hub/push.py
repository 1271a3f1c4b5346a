"""Push a trained run to the Hugging Face Hub: model, tokenizer, recipe.yaml, metrics.json, history and plots,
plus a model card (README.md), in one commit made by `huggingface_hub` (create_repo + upload_folder).

The files are staged first (hard links into a hidden folder of the run), so what is uploaded is exactly what
`to_dir` writes. The token comes from the usual places (`HF_TOKEN`, `hf auth login`), goes only into the
request headers, and the staged files are checked not to contain it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from huggingface_hub import HfApi, constants, get_token
from huggingface_hub.errors import HfHubHTTPError, HFValidationError, OfflineModeIsEnabled
from huggingface_hub.utils import filter_repo_objects, validate_repo_id

from nlptl.errors import NlptlError
from nlptl.hub.card import build_card
from nlptl.inference.trained import saved_recipe
from nlptl.recipe import Recipe

try:  # the HTTP client of huggingface_hub 2.x; 1.x used httpx
    from httpx2 import TransportError
except ImportError:  # pragma: no cover
    from httpx import TransportError  # type: ignore[no-redef]

UPLOAD_PATTERNS = ["*.safetensors", "*.json", "*.txt", "*.model", "*.jinja", "recipe.yaml", "history.jsonl", "*.png"]
NOT_UPLOADED = ["README.md", "*.tmp", "precision.json"]  # precision.json: resume bookkeeping (metrics.json has it)
FILE_PREFIX = "file://"
SCAN_LIMIT = 50 * 2**20  # weights are not scanned for the token; every other file is


def files_to_upload(run_dir: Path) -> list[str]:
    """The run's top-level files that belong in a model repo (not checkpoints/, logs/ or hidden files)."""
    if not run_dir.is_dir():
        raise NlptlError(f"{run_dir} is not a directory; pass the output dir of `nlptl train`")
    names = [p.name for p in sorted(run_dir.iterdir()) if p.is_file() and not p.name.startswith(".")]
    chosen = list(filter_repo_objects(names, allow_patterns=UPLOAD_PATTERNS, ignore_patterns=NOT_UPLOADED))
    if "config.json" not in chosen or not any(n.endswith(".safetensors") for n in chosen):
        raise NlptlError(f"{run_dir} holds no saved model (config.json + *.safetensors); "
                         "pass the output dir of a finished `nlptl train` run")
    return chosen


def card_settings(run_dir: Path, license: str | None, language: list[str] | None) -> tuple[str, list[str]]:
    """License and languages: the arguments, else the run's recipe (hub_license, hub_language)."""
    recipe = saved_recipe(run_dir) or Recipe()  # no recipe.yaml: the recipe's defaults
    return license or recipe.hub_license, language or recipe.hub_language


def stage(run_dir: Path, dest: Path, repo_id: str, license: str | None = None,
          language: list[str] | None = None, link: bool = False) -> list[str]:
    """Put the files to upload and the model card into `dest`; returns their names."""
    names = files_to_upload(run_dir)
    license, language = card_settings(run_dir, license, language)
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        if link:
            try:
                os.link(run_dir / name, dest / name)
                continue
            except OSError:
                pass
        shutil.copy2(run_dir / name, dest / name)
    build_card(run_dir, repo_id, license=license, language=language).save(dest / "README.md")
    return sorted([*names, "README.md"])


def check_secret_absent(folder: Path, secret: str | None) -> None:
    """Refuse to upload a file that contains the token (e.g. pasted into a recipe field)."""
    if not secret:
        return
    needle = secret.encode()
    for path in sorted(folder.iterdir()):
        if path.suffix != ".safetensors" and path.stat().st_size <= SCAN_LIMIT and needle in path.read_bytes():
            raise NlptlError(f"{path.name} contains your Hugging Face token; remove it from the run before pushing")


def write_dir(run_dir: Path, target: Path, repo_id: str, license: str | None,
              language: list[str] | None) -> Path:
    """Write exactly what would be uploaded into `target` (which must be new or empty), whole or not at all."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise NlptlError(f"--to-dir {target} exists and is not an empty directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.staging-"))
    try:
        stage(run_dir, scratch, repo_id, license, language)
        check_secret_absent(scratch, get_token())
        if target.exists():
            target.rmdir()
        os.replace(scratch, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


@contextmanager
def hub_errors(repo_id: str, endpoint: str) -> Iterator[None]:
    """Hub failures as one-line NlptlErrors that say what to do (the token is never part of a message)."""
    try:
        yield
    except OfflineModeIsEnabled:
        raise NlptlError("HF_HUB_OFFLINE is set, so nothing can be pushed; unset it, or write the files with "
                         "--to-dir DIR and upload them later") from None
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else None
        namespace = repo_id.split("/")[0] if "/" in repo_id else "your namespace"
        detail = (err.server_message or str(err)).strip().splitlines()[0][:200]
        if status == 401:
            raise NlptlError(f"the Hub at {endpoint} rejected the token (401: {detail}); log in again with "
                             "`hf auth login` or set a valid HF_TOKEN") from None
        if status == 403:
            raise NlptlError(f"no write access to {repo_id} (403: {detail}); {namespace!r} belongs to another user "
                             "or an organization you cannot write to, or the token is read-only. Push to your own "
                             "namespace (yourname/model) or use a token with write permission") from None
        if status == 404:
            raise NlptlError(f"{repo_id} or its revision was not found on {endpoint} (404: {detail})") from None
        raise NlptlError(f"the Hub at {endpoint} answered {status} for {repo_id}: {detail}") from None
    except TransportError as err:
        raise NlptlError(f"cannot reach the Hub at {endpoint} ({type(err).__name__}: {str(err)[:150]}); check the "
                         "network or proxy, or write the files with --to-dir DIR and upload them later") from None
    except ValueError as err:  # e.g. the Hub found the card's metadata invalid
        raise NlptlError(f"push to {repo_id} refused: {str(err).strip().splitlines()[0]}") from None


def push(run_dir: str | Path, repo_id: str, *, private: bool = False, revision: str | None = None,
         to_dir: str | Path | None = None, license: str | None = None, language: list[str] | None = None,
         commit_message: str | None = None, endpoint: str | None = None, token: str | None = None) -> str:
    """Upload a run to `repo_id` (created if needed; `file://DIR` or `to_dir` writes the files locally
    instead); returns the commit URL or the directory written."""
    run_dir = Path(run_dir)
    files_to_upload(run_dir)  # a wrong directory fails before anything is created on the Hub
    if repo_id.startswith(FILE_PREFIX):
        to_dir, repo_id = repo_id[len(FILE_PREFIX):], Path(repo_id[len(FILE_PREFIX):]).name
    if to_dir is not None:
        return str(write_dir(run_dir, Path(to_dir), repo_id, license, language))
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise NlptlError(f"repo id {repo_id!r} is not valid: {err}") from None
    token = token or get_token()
    if not token:
        raise NlptlError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write "
                         "permission), or write the files with --to-dir DIR")
    endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")
    api = HfApi(endpoint=endpoint, token=token)
    with hub_errors(repo_id, endpoint):
        if constants.is_offline_mode():
            raise OfflineModeIsEnabled()
        repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
        if revision and revision != constants.DEFAULT_REVISION:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=run_dir, prefix=".push-staging-"))
        try:
            stage(run_dir, scratch, repo_id, license, language, link=True)
            check_secret_absent(scratch, token)
            info = api.upload_folder(repo_id=repo_id, folder_path=scratch, revision=revision,
                                     commit_message=commit_message or f"Upload {run_dir.name} (nlptl)")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return str(info.commit_url)
