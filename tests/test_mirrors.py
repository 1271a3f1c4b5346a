import pytest

from nlptl import NlptlError
from nlptl.mirrors import MINILM_HUB_ID, all_mirrors, hub_error, parse_mirror_spec, resolve


def test_env_pairs_and_recipe_override(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    monkeypatch.setenv("NLPTL_MIRRORS", f"org/data={a}, model={a}")
    assert resolve("org/data") == str(a)
    assert resolve("org/data", {"org/data": str(b)}) == str(b)
    assert resolve("not/mirrored") == "not/mirrored"


def test_env_yaml_file(tmp_path, monkeypatch):
    target = tmp_path / "copy"
    target.mkdir()
    spec = tmp_path / "mirrors.yaml"
    spec.write_text(f"stanfordnlp/imdb: {target}\n")
    monkeypatch.setenv("NLPTL_MIRRORS", str(spec))
    assert resolve("stanfordnlp/imdb") == str(target)


def test_missing_mirror_target_is_an_error(monkeypatch):
    monkeypatch.setenv("NLPTL_MIRRORS", "x/y=/does/not/exist")
    with pytest.raises(NlptlError, match="does not exist"):
        resolve("x/y")


def test_an_optional_mirror_is_used_where_it_exists_and_else_the_hub_name(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NLPTL_MIRRORS", f"x/here=?{tmp_path},x/absent=?/does/not/exist")
    with caplog.at_level("INFO", logger="nlptl.mirrors"):
        assert resolve("x/here") == str(tmp_path)
        assert resolve("x/absent") == "x/absent"
    assert f"using the local copy {tmp_path}" in caplog.text
    assert "/does/not/exist does not exist here, so the Hugging Face Hub name x/absent is used" in caplog.text


def test_bad_spec():
    with pytest.raises(NlptlError, match="name=path"):
        parse_mirror_spec("a=b,broken")


def test_minilm_wheel_is_a_builtin_mirror(minilm_dir, monkeypatch):
    monkeypatch.delenv("NLPTL_MIRRORS", raising=False)
    assert all_mirrors()[MINILM_HUB_ID] == minilm_dir


def test_hub_error_names_the_option():
    message = str(hub_error("data set", "org/name", OSError("no network\nmore")))
    assert "NLPTL_MIRRORS='org/name=" in message and "--mirrors" in message and "\n" not in message
