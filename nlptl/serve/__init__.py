"""`nlptl serve`: a trained (or exported) model behind HTTP, micro-batched, with Prometheus metrics.

    nlptl serve runs/imdb --port 8000
    curl -s localhost:8000/predict -H 'content-type: application/json' -d '{"text": "A superb film."}'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlptl.errors import NlptlError

__all__ = ["ServeSettings", "create_app", "serve"]
INSTALL_HINT = "pip install 'nlptl[serve]' (fastapi, uvicorn, prometheus_client)"


def __getattr__(name: str) -> Any:
    if name in ("ServeSettings", "create_app"):
        from nlptl.serve import app

        return getattr(app, name)
    raise AttributeError(f"module 'nlptl.serve' has no attribute {name!r}")


def serve(model: str | Path, settings: Any = None, *, host: str = "127.0.0.1", port: int = 8000,
          backend: str = "torch", precision: str = "auto", batch_size: int | None = None) -> None:
    """Load the model once and serve it until interrupted."""
    try:
        import uvicorn

        from nlptl.serve.app import ServeSettings, create_app
    except ImportError as err:
        raise NlptlError(f"serving needs {err.name}: {INSTALL_HINT}") from None
    from nlptl.inference.predictor import Predictor

    settings = settings or ServeSettings()
    settings.check()
    predictor = Predictor(model, backend=backend, precision=precision, batch_size=batch_size or settings.max_batch)
    uvicorn.run(create_app(predictor, settings), host=host, port=port, log_level="info", access_log=False)
