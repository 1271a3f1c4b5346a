"""`nlptl serve`: a real server on a loopback port, a real HTTP client, every bad payload, concurrency."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("fastapi")
import httpx2 as httpx  # noqa: E402  (huggingface_hub's fork of httpx)
from predict_helpers import trained_tiny_run  # noqa: E402
from serving import running  # noqa: E402
from transformers import BertForTokenClassification, BertTokenizer  # noqa: E402

from nlptl.inference.predictor import Predictor  # noqa: E402
from nlptl.serve import ServeSettings, create_app  # noqa: E402
from nlptl.serve.batcher import MicroBatcher  # noqa: E402

SETTINGS = ServeSettings(max_batch=16, max_wait_ms=50, max_texts=4, max_chars=200, max_body_bytes=2000)
TEXTS = ["the film was good", "boring and dull plot", "a superb story", "ugly acting ."]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model_dir, tiny_data_dir) -> Path:
    return trained_tiny_run(tmp_path_factory, tiny_model_dir, tiny_data_dir)


@pytest.fixture(scope="module")
def predictor(run_dir) -> Predictor:
    return Predictor(run_dir, precision="fp32", batch_size=16)


@pytest.fixture(scope="module")
def url(predictor):
    with running(create_app(predictor, SETTINGS)) as base:
        yield base


def metric(text: str, name: str) -> float:
    """The sum of a metric's samples whose line starts with `name` (labels included in `name` if given)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_health_docs_and_predictions_match_the_predictor(url, predictor):
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "ok" and health["labels"] == predictor.labels and health["text_pair"] is False
    assert "/predict" in httpx.get(f"{url}/openapi.json").json()["paths"]
    assert httpx.get(f"{url}/docs").status_code == 200
    expected = predictor.predict(TEXTS, all_scores=True)
    one = httpx.post(f"{url}/predict", json={"text": TEXTS[0]}).json()["predictions"]
    assert one == [{"label": expected[0]["label"], "score": pytest.approx(expected[0]["score"], abs=1e-6)}]
    many = httpx.post(f"{url}/predict", json={"text": TEXTS, "all_scores": True}).json()["predictions"]
    assert [row["label"] for row in many] == [row["label"] for row in expected]
    for got, want in zip(many, expected, strict=True):
        assert got["scores"] == pytest.approx(want["scores"], abs=1e-6)


BAD = [  # (how the body is sent, body, status, words in the one-line reason)
    ("content", b'{"text": "good', 400, "not valid JSON"),
    ("content", b"text=good", 400, "not valid JSON"),
    ("json", ["good film"], 422, "send a JSON object"),
    ("json", {}, 422, "text: Field required"),
    ("json", {"text": 42}, 422, "text"),
    ("json", {"text": ""}, 422, "text is empty"),
    ("json", {"text": "   "}, 422, "text is empty"),
    ("json", {"text": []}, 422, "at least one text"),
    ("json", {"text": ["good", ""]}, 422, "text[1] is empty"),
    ("json", {"text": ["good", None]}, 422, "text"),
    ("json", {"text": ["good"] * 5}, 413, "5 texts in one request; the limit is 4"),
    ("json", {"text": "good " * 50}, 413, "250 characters; the limit is 200"),
    ("json", {"text": "good", "all_scores": "maybe"}, 422, "all_scores"),
    ("json", {"text": "good", "labels": 1}, 422, "labels: Extra inputs"),
    ("json", {"text": "good", "text_pair": "bad"}, 422, "trained on single texts"),
    ("content", b'{"text": "' + b"a" * 3000 + b'"}', 413, "over 2000 bytes"),
    ("chunked", b'{"text": "' + b"a" * 3000 + b'"}', 413, "over 2000 bytes"),
]


@pytest.mark.parametrize(("how", "body", "status", "reason"), BAD)
def test_bad_payloads_get_a_4xx_with_one_line_and_the_server_keeps_serving(url, how, body, status, reason):
    if how == "json":
        response = httpx.post(f"{url}/predict", json=body)
    elif how == "content":
        response = httpx.post(f"{url}/predict", content=body, headers={"content-type": "application/json"})
    else:  # no content-length: the limit is counted while the body streams in
        response = httpx.post(f"{url}/predict", content=iter([body[:1000], body[1000:]]),
                              headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert reason in error and "\n" not in error
    assert httpx.post(f"{url}/predict", json={"text": "good"}).status_code == 200


def test_wrong_method_path_and_content_type(url):
    assert httpx.get(f"{url}/predict").status_code == 405
    assert httpx.get(f"{url}/nothing").json() == {"error": "Not Found"}
    plain = httpx.post(f"{url}/predict", content=b'{"text": "good"}', headers={"content-type": "text/plain"})
    assert plain.status_code == 422 and "JSON object" in plain.json()["error"]


def test_concurrent_requests_are_answered_correctly_in_shared_batches(url, predictor):
    texts = [f"{TEXTS[i % 4]} {'very ' * (i % 5)}it" for i in range(16)]
    expected = [row["label"] for row in predictor.predict(texts)]
    before = httpx.get(f"{url}/metrics").text

    async def send_all() -> list[dict]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            replies = await asyncio.gather(*(client.post("/predict", json={"text": t}) for t in texts))
        return [reply.json()["predictions"][0] for reply in replies]

    answers = asyncio.run(send_all())
    assert [row["label"] for row in answers] == expected
    after = httpx.get(f"{url}/metrics").text
    forwards = metric(after, "nlptl_batch_texts_count") - metric(before, "nlptl_batch_texts_count")
    texts_run = metric(after, "nlptl_batch_texts_sum") - metric(before, "nlptl_batch_texts_sum")
    assert texts_run == 16 and forwards < 16  # some requests shared a forward
    assert metric(after, 'nlptl_requests_total{path="/predict",status="200"}') >= 16
    assert re.search(r'nlptl_request_seconds_bucket\{le="0.5",path="/predict"\} \d', after)
    assert metric(after, 'nlptl_errors_total{kind="client",path="/predict"}') >= 0


def test_client_errors_are_counted(url):
    before = metric(httpx.get(f"{url}/metrics").text, 'nlptl_errors_total{kind="client",path="/predict"}')
    httpx.post(f"{url}/predict", json={"text": ""})
    after = metric(httpx.get(f"{url}/metrics").text, 'nlptl_errors_total{kind="client",path="/predict"}')
    assert after == before + 1


def test_a_failing_request_fails_alone_in_its_batch():
    calls = []

    def predict(texts, pairs):
        calls.append(list(texts))
        if "boom" in texts:
            raise ValueError("boom")
        return [{"label": text} for text in texts]

    batcher = MicroBatcher(predict, max_batch=8, max_wait_s=0.2)
    futures = [batcher.submit(["a"]), batcher.submit(["boom"]), batcher.submit(["b", "c"])]
    batcher.start()
    assert futures[0].result(10) == [{"label": "a"}]
    assert futures[2].result(10) == [{"label": "b"}, {"label": "c"}]
    with pytest.raises(ValueError, match="boom"):
        futures[1].result(10)
    assert calls[0] == ["a", "boom", "b", "c"]  # one shared forward first, then one per request
    assert batcher.submit(["d"]).result(10) == [{"label": "d"}]  # the worker lives on
    batcher.stop()


def test_a_request_larger_than_the_batch_runs_alone():
    sizes = []
    batcher = MicroBatcher(lambda texts, pairs: sizes.append(len(texts)) or [{}] * len(texts), max_batch=3,
                           max_wait_s=0.2)
    futures = [batcher.submit(["a"]), batcher.submit(["b"] * 5), batcher.submit(["c", "d"])]
    batcher.start()
    assert [len(f.result(10)) for f in futures] == [1, 5, 2]
    assert sizes == [1, 5, 2]
    batcher.stop()


def test_pair_models_need_the_second_text(run_dir, tmp_path):
    pair_dir = tmp_path / "pair-run"
    shutil.copytree(run_dir, pair_dir, ignore=shutil.ignore_patterns("checkpoints"))
    recipe = yaml.safe_load((pair_dir / "recipe.yaml").read_text())
    recipe["data"]["text_pair_column"] = "hypothesis"
    (pair_dir / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    predictor = Predictor(pair_dir, precision="fp32")
    with running(create_app(predictor, SETTINGS)) as url:
        assert httpx.get(f"{url}/health").json()["text_pair"] is True
        missing = httpx.post(f"{url}/predict", json={"text": "good film"})
        assert missing.status_code == 422 and "trained on text pairs" in missing.json()["error"]
        uneven = httpx.post(f"{url}/predict", json={"text": ["good", "bad"], "text_pair": ["fine"]})
        assert uneven.status_code == 422 and "one second text per text" in uneven.json()["error"]
        mixed = httpx.post(f"{url}/predict", json={"text": "good", "text_pair": ["fine"]})
        assert mixed.status_code == 422
        pairs = httpx.post(f"{url}/predict", json={"text": ["good film", "bad plot"],
                                                   "text_pair": ["dull", "superb"], "all_scores": True})
        expected = predictor.predict(["good film", "bad plot"], all_scores=True, pairs=["dull", "superb"])
        got = pairs.json()["predictions"]
        assert [row["scores"] for row in got] == [pytest.approx(row["scores"], abs=1e-6) for row in expected]
        single = predictor.predict(["good film", "bad plot"], all_scores=True, pairs=["", ""])
        assert [row["scores"] for row in expected] != [row["scores"] for row in single]  # the pair is read


def test_token_classification_models_serve_entities(tiny_model_dir, tmp_path):
    ner_dir = tmp_path / "ner-model"
    tags = ["O", "B-PER", "I-PER"]
    model = BertForTokenClassification.from_pretrained(tiny_model_dir, num_labels=3, id2label=dict(enumerate(tags)),
                                                       label2id={t: i for i, t in enumerate(tags)})
    with torch.no_grad():  # every word's most probable tag is B-PER
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 5.0, 0.0]))
    model.save_pretrained(ner_dir)
    BertTokenizer.from_pretrained(tiny_model_dir).save_pretrained(ner_dir)
    with running(create_app(Predictor(ner_dir, precision="fp32"), SETTINGS)) as url:
        reply = httpx.post(f"{url}/predict", json={"text": ["good film", "the plot"]})
        entities = [row["entities"] for row in reply.json()["predictions"]]
    assert [[(e["type"], e["text"], e["start_char"]) for e in row] for row in entities] == [
        [("PER", "good", 0), ("PER", "film", 5)], [("PER", "the", 0), ("PER", "plot", 4)]]
