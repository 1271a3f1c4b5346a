"""A Hugging Face token given in HF_TOKEN or to `push(token=...)` is written nowhere (run files, tracker logs,
history, model card, pushed files) and said nowhere (logs, output, error messages, even when a server echoes it)."""

from __future__ import annotations

import pytest
from conftest import tiny_recipe
from test_push import SECRET, USER, hub  # noqa: F401  (hub: the fake Hub fixture)

import nlptl
from nlptl import NlptlError
from nlptl.cli import main as cli_main
from nlptl.hub.push import push


def echo_token(server):
    """Make the fake Hub answer repo creation in the `echo` namespace with a 400 that quotes the request's token."""
    create_repo = server.create_repo

    def create(request, payload):
        if payload.get("organization") == "echo":
            token = request.headers.get("Authorization", "")
            return server.reply(request, 400, {"error": f"bad request (you sent {token})"})
        return create_repo(request, payload)
    server.create_repo = create


def test_the_token_is_written_nowhere_and_said_nowhere(hub, tiny_model_dir, tiny_data_dir, tmp_path, monkeypatch,  # noqa: F811
                                                       capsys, caplog):
    echo_token(hub)
    out = tmp_path / "run"
    recipe = tiny_recipe(tiny_model_dir, tiny_data_dir, out, max_steps=2, eval_every=1, log_with=["tensorboard"])
    recipe.push_to_hub = f"{USER}/after-training"
    nlptl.train(recipe)  # HF_TOKEN is SECRET: the run pushes itself
    monkeypatch.delenv("HF_TOKEN")
    push(out, f"{USER}/explicit", token=SECRET)
    push(out, f"file://{tmp_path / 'local'}")
    messages = []
    for repo in ("someone-else/model", "echo/model"):  # 403, and a server that quotes the token back
        with pytest.raises(NlptlError) as error:
            push(out, repo, token=SECRET)
        messages.append(str(error.value))
    assert "hf_***" in messages[1]  # the echoed token was cut out, the rest of the message kept
    monkeypatch.setenv("HF_TOKEN", SECRET)
    with pytest.raises(SystemExit) as stop:
        cli_main(["push", str(out), "echo/model2"])
    assert stop.value.code == 2

    written = {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert any(name.startswith("run/logs/") for name in written)  # the tracker's event files were checked too
    assert {"run/recipe.yaml", "run/history.jsonl", "run/metrics.json", "local/README.md"} <= set(written)
    pushed = {f"{repo}/{name}": content for repo in (f"{USER}/after-training", f"{USER}/explicit")
              for name, content in hub.files(repo).items()}
    assert "README.md" in hub.files(f"{USER}/explicit")
    leaks = [name for name, content in {**written, **pushed}.items() if SECRET.encode() in content]
    assert not leaks
    said = capsys.readouterr()
    assert SECRET not in said.out + said.err + caplog.text + " ".join(messages)
    assert SECRET[-12:] not in said.err + caplog.text + " ".join(messages)  # not even a tail of it
