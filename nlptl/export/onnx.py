"""`nlptl export RUN --format onnx [--quantize int8] --output DIR`.

The folder it writes runs with `nlptl predict DIR ... --backend onnx`, `Predictor(DIR, backend="onnx")` and
`nlptl serve DIR --backend onnx`: `model.onnx` (fp32, or int8 weights with --quantize int8), the tokenizer,
`config.json` (label map), the run's `recipe.yaml` (how texts were cut in training) and `export.json` (what was
exported, with the parity figures). The folder is assembled next to DIR and renamed into place at the end, so an
export that fails leaves nothing half-written and an existing DIR is replaced only with --overwrite.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from nlptl import mirrors
from nlptl.data.collate import MODEL_INPUTS
from nlptl.errors import NlptlError
from nlptl.export.parity import Parity, compare, sample_texts
from nlptl.inference.engine import encode_texts
from nlptl.inference.onnx_backend import EXPORT_INFO, INSTALL_HINT, ONNX_FILE, OnnxModel
from nlptl.inference.predictor import TEXT_KINDS, Predictor
from nlptl.inference.trained import saved_recipe
from nlptl.io import write_json

logger = logging.getLogger("nlptl")
FORMATS = ("onnx",)
QUANTIZE = ("int8",)


@dataclass
class ExportSummary:
    output: Path
    quantize: str | None
    megabytes: float
    seconds: float
    parity: Parity | None

    def lines(self) -> list[str]:
        kind = "int8 (dynamic)" if self.quantize else "fp32"
        lines = [f"exported {ONNX_FILE} ({kind}, {self.megabytes:.1f} MB) with tokenizer, config and recipe to "
                 f"{self.output} in {self.seconds:.0f} s"]
        if self.parity:
            lines.append(self.parity.line())
        lines.append(f"predict with: nlptl predict {self.output} INPUT --output OUT.csv --backend onnx")
        return lines


def check_options(fmt: str, quantize: str | None, output: Path, overwrite: bool) -> None:
    if fmt not in FORMATS:
        raise NlptlError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if quantize is not None and quantize not in QUANTIZE:
        raise NlptlError(f"--quantize {quantize!r}: choose one of {', '.join(QUANTIZE)}")
    if output.exists() and (not output.is_dir() or any(output.iterdir())) and not overwrite:
        raise NlptlError(f"--output {output} already exists; choose another folder or replace it with --overwrite")
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401  (the dynamo exporter writes its graphs with it)
    except ImportError as err:
        raise NlptlError(f"export needs {err.name}: {INSTALL_HINT}") from None


def held_out(predictor: Predictor, run: str, data: str | None, split: str | None, samples: int,
             recipe_mirrors: dict[str, str]) -> tuple[list[str], list[str] | None, str]:
    """Texts for the parity check: from `data` if given, else the run's own test split."""
    recipe = saved_recipe(trained_dir(predictor)) if mirrors.is_local(predictor.source) else None
    if data is None and recipe is None:
        raise NlptlError(f"{run} has no recipe.yaml to find held-out texts in; pass --parity-data FILE "
                         "(or --parity-samples 0 to skip the parity check)")
    cfg = recipe.data if recipe else None
    column = (cfg.tokens_column if predictor.kind not in TEXT_KINDS else cfg.text_column) if cfg else "text"
    pair_column = predictor.pair_column if predictor.kind in TEXT_KINDS else None
    if data is None:
        assert cfg is not None
        return sample_texts(cfg.source, split or cfg.test_split, column, pair_column, samples, cfg.config_name,
                            {**(recipe.mirrors if recipe else {}), **recipe_mirrors})
    return sample_texts(data, split, column, pair_column, samples, None, recipe_mirrors)


def trained_dir(predictor: Predictor) -> Path:
    """The folder with the model's recipe.yaml: the run, or a multi-task run's head folder."""
    return predictor.head.folder if predictor.head else Path(predictor.source)


def example_batch(predictor: Predictor) -> dict[str, torch.Tensor]:
    """Two rows of different lengths, padded: the exporter traces with these (the axes stay dynamic)."""
    texts = ["an example sentence to trace the graph with, a little longer", "short one"]
    pairs = ["a second text", "another"] if predictor.pair_column else None
    batch = predictor.tokenizer(texts, pairs, padding=True, return_tensors="pt")
    return {name: batch[name] for name in MODEL_INPUTS if name in batch}


def encode_for_parity(predictor: Predictor, texts: list[str], pairs: list[str] | None) -> dict[str, list[list[int]]]:
    if predictor.kind in TEXT_KINDS:
        return encode_texts(predictor.tokenizer, texts, predictor.settings, pairs)[0]
    encoded = predictor.tokenizer(texts, truncation=True, max_length=predictor.settings.max_length)
    return {name: encoded[name] for name in MODEL_INPUTS if name in encoded}


def export_onnx(run: str | Path, output: str | Path, *, fmt: str = "onnx", quantize: str | None = None,
                parity_samples: int = 200, parity_data: str | None = None, parity_split: str | None = None,
                opset: int | None = None, batch_size: int = 32, overwrite: bool = False,
                recipe_mirrors: dict[str, str] | None = None, task: str | None = None) -> ExportSummary:
    """Export a trained run (see the module doc); returns where it went and the parity figures. `task`: the head
    of a multi-task run to export (a standalone model of that task)."""
    started = time.perf_counter()
    output = Path(output)
    check_options(fmt, quantize, output, overwrite)
    recipe_mirrors = recipe_mirrors or {}
    predictor = Predictor(run, batch_size=batch_size, precision="fp32", device="cpu", recipe_mirrors=recipe_mirrors,
                          task=task)
    texts: list[str] = []
    pairs: list[str] | None = None
    where = ""
    if parity_samples > 0:  # read before exporting: a bad data option fails in seconds, not after the export
        texts, pairs, where = held_out(predictor, str(run), parity_data, parity_split, parity_samples,
                                       recipe_mirrors)
    output.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.nlptl-export-"))
    try:
        logger.info("exporting %s to ONNX (torch.onnx, dynamo exporter)", run)
        fp32 = scratch / ("model.fp32.onnx" if quantize else ONNX_FILE)
        opset_used = export_graph_of(predictor, fp32, opset)
        if quantize:
            from nlptl.export.quantize import quantize_int8

            logger.info("quantizing to int8 (ONNX Runtime, dynamic)")
            quantize_int8(fp32, scratch / ONNX_FILE)
            fp32.unlink()
        predictor.tokenizer.save_pretrained(scratch)
        predictor.model.config.save_pretrained(scratch)
        recipe_file = trained_dir(predictor) / "recipe.yaml"
        if recipe_file.is_file():
            shutil.copy2(recipe_file, scratch / "recipe.yaml")
        parity = None
        if texts:
            logger.info("parity check on %d held-out texts", len(texts))
            onnx_model = OnnxModel(scratch, predictor.model.config)
            parity = compare(predictor.model, onnx_model, predictor.tokenizer,
                             encode_for_parity(predictor, texts, pairs), batch_size, where)
        megabytes = (scratch / ONNX_FILE).stat().st_size / 2**20
        write_json(scratch / EXPORT_INFO, export_info(run, predictor, quantize, opset_used, parity))
        if output.exists():
            shutil.rmtree(output)
        scratch.rename(output)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return ExportSummary(output, quantize, megabytes, time.perf_counter() - started, parity)


def export_graph_of(predictor: Predictor, path: Path, opset: int | None) -> int:
    from nlptl.export.graph import export_graph

    try:
        return export_graph(predictor.model, example_batch(predictor), path, opset)
    except NlptlError:
        raise
    except Exception as err:  # the exporter's many failure types: name the model and the cause in one line
        raise NlptlError(f"torch.onnx could not export {predictor.name}: {str(err).strip().splitlines()[0][:300]}"
                         ) from err


def export_info(run: str | Path, predictor: Predictor, quantize: str | None, opset: int,
                parity: Parity | None) -> dict[str, Any]:
    import onnxruntime

    return {"format": "onnx", "file": ONNX_FILE, "quantize": quantize, "source": str(Path(predictor.source).resolve())
            if mirrors.is_local(predictor.source) else str(run), "kind": predictor.kind, "labels": predictor.labels,
            "opset": opset, "exporter": "torch.onnx (dynamo)", "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "max_length": predictor.settings.max_length,
            "parity": json.loads(json.dumps(parity.as_dict())) if parity else None}
