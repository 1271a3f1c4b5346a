"""The HTTP app: `POST /predict`, `GET /health`, `GET /metrics` (Prometheus), OpenAPI docs at `/docs`.

Every request goes through the micro-batcher to the one model copy. Payload mistakes get a 4xx answer with
`{"error": "<one line>"}`: 400 unreadable JSON, 413 body/text/count over the limits, 422 anything else wrong
with the fields; the server keeps running whatever arrives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from nlptl.errors import NlptlError
from nlptl.inference.predictor import Predictor
from nlptl.serve.batcher import MicroBatcher
from nlptl.serve.limits import BodyLimit
from nlptl.serve.metrics import ServeMetrics


@dataclass(frozen=True)
class ServeSettings:
    max_batch: int = 32  # texts per forward
    max_wait_ms: float = 5.0  # how long the first request of a batch waits for others
    max_texts: int = 64  # texts per request
    max_chars: int = 20_000  # characters per text
    max_body_bytes: int = 1_000_000

    def check(self) -> None:
        for name in ("max_batch", "max_texts", "max_chars", "max_body_bytes"):
            if getattr(self, name) < 1:
                raise NlptlError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least 1")
        if self.max_wait_ms < 0:
            raise NlptlError(f"--max-wait-ms {self.max_wait_ms}: must be 0 or more")


class PredictRequest(BaseModel):
    """One text or a list; `text_pair` (same shape) for a model trained on pairs."""

    model_config = ConfigDict(extra="forbid")
    text: str | list[str] = Field(examples=["A gripping film with a superb cast."])
    text_pair: str | list[str] | None = None
    all_scores: bool = False


class PayloadError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def one_line_validation(err: RequestValidationError) -> tuple[int, str]:
    first = err.errors()[0] if err.errors() else {}
    if first.get("type") == "json_invalid":
        return 400, f"body is not valid JSON ({first.get('ctx', {}).get('error', 'parse error')})"
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    if where == "body":  # not an object at all (a list, a form, a missing body)
        return 422, 'send a JSON object such as {"text": "..."} with content-type application/json'
    return 422, f"{where}: {first.get('msg', 'invalid')}"


def as_list(value: str | list[str] | None) -> list[str] | None:
    return [value] if isinstance(value, str) else value


def checked_texts(request: PredictRequest, predictor: Predictor,
                  settings: ServeSettings) -> tuple[list[str], list[str] | None]:
    texts = as_list(request.text) or []
    pairs = as_list(request.text_pair)
    if not texts:
        raise PayloadError(422, "text: give at least one text")
    if len(texts) > settings.max_texts:
        raise PayloadError(413, f"text: {len(texts)} texts in one request; the limit is {settings.max_texts} "
                                "(the server's --max-texts)")
    for name, values in (("text", texts), ("text_pair", pairs or [])):
        for i, text in enumerate(values):
            where = name if isinstance(getattr(request, name), str) else f"{name}[{i}]"
            if not text.strip() and name == "text":
                raise PayloadError(422, f"{where} is empty")
            if len(text) > settings.max_chars:
                raise PayloadError(413, f"{where} has {len(text)} characters; the limit is {settings.max_chars} "
                                        "(the server's --max-chars)")
    if pairs is not None and isinstance(request.text, str) != isinstance(request.text_pair, str):
        raise PayloadError(422, "text_pair: give a string with a string text, a list with a list")
    try:
        predictor.check_pairs(texts, pairs)
    except NlptlError as err:
        raise PayloadError(422, f"text_pair: {err}") from None
    return texts, pairs


def create_app(predictor: Predictor, settings: ServeSettings | None = None) -> Any:
    """The ASGI app serving `predictor` (wrapped in the body-size limit)."""
    settings = settings or ServeSettings()
    settings.check()
    metrics = ServeMetrics()

    def predict(texts: list[str], pairs: list[str] | None) -> list[dict[str, Any]]:
        return predictor.predict(texts, all_scores=True, pairs=pairs)

    batcher = MicroBatcher(predict, settings.max_batch, settings.max_wait_ms / 1000, metrics.observe_batch)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        yield
        batcher.stop()

    app = FastAPI(title="nlptl", version="1", lifespan=lifespan,
                  description=f"Predictions of {predictor.name} ({predictor.kind}, labels: "
                              f"{', '.join(predictor.labels)}), micro-batched on one model copy.")

    @app.middleware("http")
    async def measure(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception as err:  # a bug, not a payload: answer 500 in one line and keep serving
            response = JSONResponse({"error": f"internal error: {type(err).__name__}: {err}"[:300]}, status_code=500)
        if request.url.path != "/metrics":
            metrics.observe_request(request.url.path, response.status_code, time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, err: RequestValidationError) -> JSONResponse:
        status, message = one_line_validation(err)
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(PayloadError)
    async def payload(_: Request, err: PayloadError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=err.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, err: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code)

    @app.post("/predict")
    async def predict_endpoint(request: PredictRequest) -> dict[str, Any]:
        """Labels (and scores) for each text, in order; NER models answer `entities` with character offsets."""
        texts, pairs = checked_texts(request, predictor, settings)
        try:
            results = await asyncio.wrap_future(batcher.submit(texts, pairs))
        except NlptlError as err:
            raise PayloadError(422, str(err)) from None
        if not request.all_scores:
            results = [{k: v for k, v in row.items() if k != "scores"} for row in results]
        return {"predictions": results}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness and what is served."""
        return {"status": "ok", "model": predictor.name, "kind": predictor.kind, "labels": predictor.labels,
                "backend": predictor.backend, "text_pair": bool(predictor.pair_column)}

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Request counts, latency histogram, micro-batch sizes and errors in Prometheus text format."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.state.metrics = metrics
    app.state.batcher = batcher
    return BodyLimit(app, settings.max_body_bytes)
