"""Pushing a run to the Hub, against a local HTTP server that implements the endpoints huggingface_hub calls
(create repo, validate-yaml, preupload, commit, branch, repo info); no other address is ever contacted."""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import huggingface_hub
import pytest
import yaml
from conftest import tiny_recipe
from huggingface_hub import ModelCard
from predict_helpers import trained_tiny_run
from transformers import AutoModelForSequenceClassification

import nlptl
from nlptl import NlptlError
from nlptl.cli import main as cli_main
from nlptl.hub.card import build_card
from nlptl.hub.push import push

SECRET = "hf_nlptlTestSecret0123456789abcdefXYZ"
USER = "tester"
REPO_PATH = re.compile(r"^/api/models/([^/]+/[^/]+)(?:/(preupload|commit|branch|revision)/(.+))?$")
EXPECTED_FILES = {"README.md", "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                  "recipe.yaml", "metrics.json", "history.jsonl", "confusion_matrix.png", "roc_curve.png",
                  "precision_recall.png", "reliability.png", "training_curves.png", "per_class.json"}


class FakeHub:
    """The Hub's model-repo write API, in memory: repos -> branches -> {path: bytes}."""

    def __init__(self) -> None:
        self.repos: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []
        self.authorizations: set[str | None] = set()
        self.unknown: list[str] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                hub.handle(self, "GET")

            def do_POST(self) -> None:
                hub.handle(self, "POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def files(self, repo: str, branch: str = "main") -> dict[str, bytes]:
        return self.repos[repo]["branches"][branch]

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        path = urlparse(request.path).path
        self.requests.append((method, path))
        self.authorizations.add(request.headers.get("Authorization"))
        if request.headers.get("Authorization") != f"Bearer {SECRET}":
            return self.reply(request, 401, {"error": "Invalid credentials in Authorization header"})
        if method == "POST" and path == "/api/repos/create":
            return self.create_repo(request, json.loads(body))
        if method == "POST" and path == "/api/validate-yaml":
            yaml.safe_load(json.loads(body)["content"].split("---")[1])  # the card's header must be YAML
            return self.reply(request, 200, {"errors": [], "warnings": []})
        match = REPO_PATH.match(path)
        if not match:
            self.unknown.append(f"{method} {path}")
            return self.reply(request, 404, {"error": "unknown endpoint"})
        repo, action, revision = match.group(1), match.group(2), unquote(match.group(3) or "main")
        if repo not in self.repos:
            return self.reply(request, 404, {"error": "Repository not found"}, {"X-Error-Code": "RepoNotFound"})
        branches = self.repos[repo]["branches"]
        if method == "GET" and action in (None, "revision"):
            return self.reply(request, 200, {"id": repo, "sha": "0" * 40, "private": self.repos[repo]["private"]})
        if method == "POST" and action == "branch":
            branches.setdefault(revision, dict(branches["main"]))
            return self.reply(request, 200, {})
        if revision not in branches:
            return self.reply(request, 404, {"error": "Revision not found"}, {"X-Error-Code": "RevisionNotFound"})
        if method == "POST" and action == "preupload":
            files = json.loads(body)["files"]
            return self.reply(request, 200, {"files": [{"path": f["path"], "uploadMode": "regular",
                                                        "shouldIgnore": False, "oid": None} for f in files]})
        if method == "POST" and action == "commit":
            for line in body.decode().splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    branches[revision][item["value"]["path"]] = base64.b64decode(item["value"]["content"])
                elif item["key"] != "header":
                    self.unknown.append(f"commit operation {item['key']}")
            oid = f"{len(self.requests):040x}"
            return self.reply(request, 200, {"commitUrl": f"{self.url}/{repo}/commit/{oid}", "commitOid": oid,
                                             "pullRequestUrl": None})
        self.unknown.append(f"{method} {path}")
        return self.reply(request, 404, {"error": "unknown endpoint"})

    def create_repo(self, request: BaseHTTPRequestHandler, payload: dict) -> None:
        namespace = payload.get("organization") or USER
        repo = f"{namespace}/{payload['name']}"
        if namespace != USER:
            return self.reply(request, 403, {"error": f"You don't have the rights to create a model under the "
                                                      f"namespace \"{namespace}\""})
        if repo in self.repos:
            return self.reply(request, 409, {"error": "You already created this model repo"})
        self.repos[repo] = {"private": payload.get("visibility") == "private", "branches": {"main": {}}}
        return self.reply(request, 200, {"url": f"{self.url}/{repo}", "name": repo})

    def reply(self, request: BaseHTTPRequestHandler, status: int, payload: dict,
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            request.send_header(key, value)
        request.end_headers()
        request.wfile.write(data)


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A running fake Hub; HF_ENDPOINT points at it, the token is SECRET, and any connection to another
    address fails the test."""
    server = FakeHub()
    server.thread.start()
    contacted: list = []
    connect = socket.socket.connect

    def guarded_connect(sock, address):
        contacted.append(address)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1"):
            raise AssertionError(f"the push contacted {address}")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token-file"))
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_TOKEN", SECRET)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    yield server
    server.server.shutdown()
    server.server.server_close()
    assert not server.unknown, server.unknown
    assert all(a[0] in ("127.0.0.1", "::1") for a in contacted if isinstance(a, tuple)), contacted


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model_dir, tiny_data_dir) -> Path:
    return trained_tiny_run(tmp_path_factory, tiny_model_dir, tiny_data_dir)


def files_under(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_push_uploads_the_model_reports_and_a_card_that_loads_back(hub, run_dir, tmp_path, capsys):
    cli_main(["push", str(run_dir), f"{USER}/tiny-sentiment", "--private"])
    assert capsys.readouterr().out.strip().startswith(f"{hub.url}/{USER}/tiny-sentiment/commit/")
    assert hub.repos[f"{USER}/tiny-sentiment"]["private"] is True
    received = hub.files(f"{USER}/tiny-sentiment")
    assert set(received) == EXPECTED_FILES
    assert all(received[name] == (run_dir / name).read_bytes() for name in EXPECTED_FILES - {"README.md"})
    assert hub.authorizations == {f"Bearer {SECRET}"}
    assert ("POST", "/api/repos/create") in hub.requests

    card = ModelCard(received["README.md"].decode())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    data = card.data.to_dict()
    assert data["pipeline_tag"] == "text-classification" and data["library_name"] == "transformers"
    assert data["license"] == "apache-2.0" and data["language"] == ["en"] and "nlptl" in data["tags"]
    assert "base_model" not in data and "datasets" not in data  # local paths are not Hub ids
    results = {r["metric_type"]: r for r in
               [{"metric_type": m["type"], "value": m["value"]}
                for m in data["model-index"][0]["results"][0]["metrics"]]}
    assert results["accuracy"]["value"] == round(metrics["test"]["accuracy"], 4)
    assert data["model-index"][0]["results"][0]["dataset"]["split"] == "test"
    for section in ("## Intended uses & limitations", "## How to use", "### Training hyperparameters",
                    "### Transfer strategy", "full fine-tuning", "### Augmentation", "nlptl predict",
                    f'pipeline("text-classification", model="{USER}/tiny-sentiment")', "![confusion_matrix.png]",
                    "word embeddings: SparseAdam on the rows each batch used"):  # a CPU run's default
        assert section in card.text, section

    downloaded = tmp_path / "downloaded"
    downloaded.mkdir()
    for name, content in received.items():
        (downloaded / name).write_bytes(content)
    model = AutoModelForSequenceClassification.from_pretrained(downloaded)
    assert model.config.id2label == {0: "neg", 1: "pos"}
    texts = ["a great and moving film", "the plot was dull and boring", "it was fine"]
    pushed = nlptl.Predictor(downloaded, precision="fp32").predict(texts)
    original = nlptl.Predictor(run_dir, precision="fp32").predict(texts)
    assert [r["label"] for r in pushed] == [r["label"] for r in original]
    assert [r["score"] for r in pushed] == pytest.approx([r["score"] for r in original])


def test_to_dir_writes_exactly_what_is_uploaded_and_the_token_is_written_nowhere(hub, run_dir, tmp_path, capsys,
                                                                                  caplog):
    push(run_dir, f"{USER}/same")
    local = tmp_path / "local"
    cli_main(["push", str(run_dir), f"{USER}/same", "--to-dir", str(local)])
    assert files_under(local) == hub.files(f"{USER}/same")
    assert push(run_dir, f"file://{tmp_path / 'same'}") == str(tmp_path / "same")
    assert set(files_under(tmp_path / "same")) == EXPECTED_FILES
    with pytest.raises(NlptlError, match="not an empty directory"):
        push(run_dir, f"{USER}/same", to_dir=local)

    written = {**files_under(run_dir), **files_under(local), **files_under(tmp_path / "same"),
               **hub.files(f"{USER}/same")}
    assert not [name for name, content in written.items() if SECRET.encode() in content]
    output = capsys.readouterr()
    assert SECRET not in output.out + output.err + caplog.text
    assert not list(run_dir.glob(".push-staging-*"))


def test_a_revision_is_pushed_to_its_own_branch(hub, run_dir):
    push(run_dir, f"{USER}/branched", revision="experiment-1")
    assert set(hub.files(f"{USER}/branched", "experiment-1")) == EXPECTED_FILES
    assert hub.files(f"{USER}/branched") == {}


def test_someone_elses_namespace_is_a_clear_error(hub, run_dir, capsys):
    with pytest.raises(SystemExit) as stop:
        cli_main(["push", str(run_dir), "someone-else/model"])
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "no write access to someone-else/model (403" in error[0]
    assert "your own namespace" in error[0] and SECRET not in error[0]


def test_missing_token_offline_mode_and_no_network_are_clear_errors(hub, run_dir, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(NlptlError, match="no Hugging Face token: set HF_TOKEN or run `hf auth login`"):
        push(run_dir, f"{USER}/x")
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    with pytest.raises(NlptlError, match="rejected the token \\(401"):
        push(run_dir, f"{USER}/x")
    monkeypatch.setenv("HF_TOKEN", SECRET)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(NlptlError, match="HF_HUB_OFFLINE is set"):
        push(run_dir, f"{USER}/x")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(NlptlError, match="cannot reach the Hub"):
        push(run_dir, f"{USER}/x")
    with pytest.raises(NlptlError, match="not valid"):
        push(run_dir, "a/b/c")
    with pytest.raises(NlptlError, match="no saved model"):
        push(tmp_path, f"{USER}/x")
    assert f"{USER}/x" not in hub.repos


def test_a_token_inside_the_run_is_never_uploaded(hub, run_dir, tmp_path):
    leaky = tmp_path / "leaky"
    shutil.copytree(run_dir, leaky, ignore=shutil.ignore_patterns("checkpoints", "logs"))
    recipe = yaml.safe_load((leaky / "recipe.yaml").read_text())
    recipe["mirrors"] = {"x": f"https://user:{SECRET}@example.com"}
    (leaky / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    with pytest.raises(NlptlError, match="recipe.yaml contains your Hugging Face token"):
        push(leaky, f"{USER}/leaky")
    assert hub.files(f"{USER}/leaky") == {}


def test_card_metadata_names_hub_models_data_strategy_and_augmentation(run_dir, tmp_path):
    named = tmp_path / "named"
    shutil.copytree(run_dir, named, ignore=shutil.ignore_patterns("checkpoints", "logs"))
    recipe = yaml.safe_load((named / "recipe.yaml").read_text())
    recipe["model"]["name"] = "sentence-transformers/all-MiniLM-L6-v2"
    recipe["data"]["source"] = "stanfordnlp/imdb"
    recipe["strategy"] = {**recipe.get("strategy", {}), "name": "gradual_unfreezing", "unfreeze_every_steps": 50}
    recipe["augment"] = {"ops": ["synonym_replacement"], "copies": 2}
    (named / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    card = build_card(named, "someone/imdb-minilm", license="mit", language=["en", "de"])
    data = card.data.to_dict()
    assert data["base_model"] == "sentence-transformers/all-MiniLM-L6-v2" and data["datasets"] == ["stanfordnlp/imdb"]
    assert data["license"] == "mit" and data["language"] == ["en", "de"]
    assert data["model-index"][0]["results"][0]["dataset"]["type"] == "stanfordnlp/imdb"
    assert "gradual unfreezing (ULMFiT)" in card.text and "every 50 steps" in card.text
    assert "synonym_replacement" in card.text
    assert "full fine-tuning" not in card.text


def test_recipe_push_to_hub_pushes_after_training(hub, tiny_model_dir, tiny_data_dir, tmp_path):
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, tmp_path / "run", max_steps=2)
    recipe.push_to_hub = f"{USER}/from-recipe"
    recipe.hub_private = True
    recipe.hub_license = "mit"
    nlptl.train(recipe)
    assert hub.repos[f"{USER}/from-recipe"]["private"] is True
    received = hub.files(f"{USER}/from-recipe")
    assert EXPECTED_FILES <= set(received)
    assert ModelCard(received["README.md"].decode()).data.license == "mit"
