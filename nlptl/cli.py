"""`nlptl` command line.

  nlptl train RECIPE [--overrides]            fine-tune; RECIPE is a recipe .py file or a saved recipe.yaml
  nlptl lr-find RECIPE [--overrides]          LR range test on the recipe's data/model/strategy: lr_find.png
  nlptl predict MODEL INPUT --output OUTPUT   label every row of a file or data set split
  nlptl export RUN --format onnx --output DIR  ONNX graph (--quantize int8) + tokenizer + label map, parity check
  nlptl serve RUN [--port 8000]               HTTP endpoint: POST /predict, GET /health, /metrics, /docs
  nlptl push OUTPUT_DIR REPO_ID               upload a trained run with a model card to the Hugging Face Hub
  nlptl compare RECIPE --strategies full,lora --budgets 100,all --seeds 3   learning curves per strategy
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from nlptl.errors import NlptlError
from nlptl.recipe import load_recipe_file


def add_predict_parser(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser("predict", help="label every row of a file or data set split",
                              description="Predict with a fine-tuned model; output = input rows in order + "
                                          "label, score. Multi-process: accelerate launch -m nlptl.cli predict ...")
    cmd.add_argument("model", help="output dir of `nlptl train`, a mirror name or a Hub id")
    cmd.add_argument("input", help=".csv/.tsv/.jsonl/.parquet/.txt file, a directory of split files or a "
                                   "save_to_disk folder (with --split), or a Hub data set (with --split)")
    cmd.add_argument("--output", "-o", required=True, help="output file: .csv, .tsv, .jsonl or .parquet")
    cmd.add_argument("--text-column", help="column holding the text (default: the model's training column, "
                                           "else 'text'; the column name for .txt input)")
    cmd.add_argument("--split", help="split of a directory or Hub data set (e.g. test)")
    cmd.add_argument("--config-name", help="configuration of a Hub data set")
    cmd.add_argument("--batch-size", type=int, default=32)
    cmd.add_argument("--chunk-size", type=int, default=4096,
                     help="rows read, length-sorted and saved together (the unit of --resume)")
    cmd.add_argument("--max-length", type=int, help="tokens per text (default: as trained, else the model's limit)")
    cmd.add_argument("--truncation", choices=["head", "tail", "head_tail"], help="default: as trained, else head")
    cmd.add_argument("--head-tokens", type=int, help="head_tail: tokens kept from the start (default as trained)")
    cmd.add_argument("--long-text", choices=["truncate", "window"], default="truncate",
                     help="window: score overlapping windows and average their probabilities")
    cmd.add_argument("--stride", type=int, help="window: tokens shared by neighbouring windows (max_length/4)")
    cmd.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                     help="auto: bf16 where the hardware supports it; fp32: exact")
    cmd.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                     help="onnx: MODEL is a folder written by `nlptl export --format onnx`, run by ONNX Runtime")
    cmd.add_argument("--all-scores", action="store_true", help="also write one probability column per class")
    cmd.add_argument("--bad-rows", choices=["error", "skip"], default="error",
                     help="null/empty/undecodable text: stop naming the row, or keep it with a skip_reason")
    cmd.add_argument("--prefix", default="", help="prefix for the added columns (when the input has a 'label')")
    cmd.add_argument("--resume", action="store_true", help="continue an interrupted run")
    cmd.add_argument("--overwrite", action="store_true", help="replace an existing output (or unfinished run)")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_push_parser(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser("push", help="upload a trained run with a model card to the Hugging Face Hub",
                              description="Token from HF_TOKEN or `hf auth login`; endpoint from HF_ENDPOINT.")
    cmd.add_argument("run_dir", metavar="OUTPUT_DIR", help="output dir of `nlptl train`")
    cmd.add_argument("repo_id", metavar="REPO_ID", help="namespace/name on the Hub, or file://DIR")
    cmd.add_argument("--private", action="store_true", help="create the repo as private")
    cmd.add_argument("--revision", help="branch to push to (created if missing)")
    cmd.add_argument("--to-dir", help="write exactly what would be uploaded into DIR instead")
    cmd.add_argument("--license", help="model card license (default: the recipe's hub_license)")
    cmd.add_argument("--language", help="model card languages, comma-separated (default: the recipe's)")
    cmd.add_argument("--commit-message")


def add_export_parser(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser("export", help="ONNX graph (optionally int8) with tokenizer and label map",
                              description="Export a trained run for ONNX Runtime; checks the graph against the "
                                          "PyTorch model on held-out texts. Run it with --backend onnx.")
    cmd.add_argument("run_dir", metavar="RUN", help="output dir of `nlptl train`")
    cmd.add_argument("--format", default="onnx", choices=["onnx"], help="deployment format")
    cmd.add_argument("--quantize", choices=["int8"], help="int8: dynamic int8 weights (ONNX Runtime quantizer)")
    cmd.add_argument("--output", "-o", required=True, help="folder to write (must not exist, or --overwrite)")
    cmd.add_argument("--parity-samples", type=int, default=200, help="held-out texts to compare (0: skip)")
    cmd.add_argument("--parity-data", help="file/dir/Hub data set with the texts (default: the run's test split)")
    cmd.add_argument("--parity-split", help="split of --parity-data or of the run's data (default: test)")
    cmd.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")
    cmd.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")


def add_serve_parser(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser("serve", help="HTTP endpoint with micro-batching and Prometheus metrics",
                              description="POST /predict {\"text\": ... | [...], \"text_pair\": ..., "
                                          "\"all_scores\": false}; GET /health, /metrics, /docs.")
    cmd.add_argument("model", metavar="RUN", help="output dir of `nlptl train` (or of `nlptl export`, --backend onnx)")
    cmd.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: every interface)")
    cmd.add_argument("--port", type=int, default=8000)
    cmd.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    cmd.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto", help="torch backend")
    cmd.add_argument("--max-batch", type=int, default=32, help="texts run together in one forward")
    cmd.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a request waits for others to join")
    cmd.add_argument("--max-texts", type=int, default=64, help="texts one request may send")
    cmd.add_argument("--max-chars", type=int, default=20_000, help="characters one text may have")
    cmd.add_argument("--max-body-bytes", type=int, default=1_000_000, help="largest request body")


def run_export(args: argparse.Namespace) -> None:
    from nlptl.export.onnx import export_onnx

    summary = export_onnx(args.run_dir, args.output, fmt=args.format, quantize=args.quantize,
                          parity_samples=args.parity_samples, parity_data=args.parity_data,
                          parity_split=args.parity_split, opset=args.opset, overwrite=args.overwrite)
    print("\n".join(summary.lines()))


def run_serve(args: argparse.Namespace) -> None:
    from nlptl.serve import ServeSettings, serve

    serve(args.model, ServeSettings(max_batch=args.max_batch, max_wait_ms=args.max_wait_ms, max_texts=args.max_texts,
                                    max_chars=args.max_chars, max_body_bytes=args.max_body_bytes),
          host=args.host, port=args.port, backend=args.backend, precision=args.precision)


def run_predict(args: argparse.Namespace) -> None:
    from transformers.utils import logging as hf_logging

    from nlptl.inference.files import predict_file

    hf_logging.disable_progress_bar()  # one progress bar: the rows
    predict_file(
        args.model, args.input, args.output, text_column=args.text_column, split=args.split,
        config_name=args.config_name, batch_size=args.batch_size, chunk_size=args.chunk_size,
        all_scores=args.all_scores, bad_rows=args.bad_rows, resume=args.resume, overwrite=args.overwrite,
        precision=args.precision, max_length=args.max_length, truncation=args.truncation,
        head_tokens=args.head_tokens, long_text=args.long_text, stride=args.stride, prefix=args.prefix,
        progress=not args.no_progress, backend=args.backend)


def run_push(args: argparse.Namespace) -> None:
    from nlptl.hub.push import push

    language = [part.strip() for part in args.language.split(",") if part.strip()] if args.language else None
    where = push(args.run_dir, args.repo_id, private=args.private, revision=args.revision, to_dir=args.to_dir,
                 license=args.license, language=language, commit_message=args.commit_message)
    print(where)


def run_lr_find(path: str, argv: list[str]) -> None:
    """Print the suggestion and where the curve is; user errors in one line with exit code 2."""
    from nlptl.recipe import apply_overrides
    from nlptl.run import find_learning_rate, setup_logging

    setup_logging()
    try:
        recipe = apply_overrides(load_recipe_file(path), argv)
        found = find_learning_rate(recipe)
    except NlptlError as err:
        print(f"nlptl: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    out = recipe.resolved_output_dir()
    print(f"suggested learning rate: {found.suggested_lr:.3g} ({found.rule} rule; steepest "
          f"{found.suggestions['steepest']:.3g}, valley {found.suggestions['valley']:.3g}, minimum/10 "
          f"{found.suggestions['minimum']:.3g}); {len(found.lrs)} steps in {found.seconds:.1f} s; curve: "
          f"{out / 'lr_find.png'}. Train with --train.lr {found.suggested_lr:.3g} (or --train.lr auto)")


def run_command(action: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> None:
    """User errors in one line with exit code 2; an interrupted prediction says how to continue."""
    from nlptl.run import setup_logging

    setup_logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        action(args)
    except NlptlError as err:
        print(f"nlptl: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        if args.command == "predict":
            print("nlptl: interrupted; finished chunks are kept: rerun with --resume to continue", file=sys.stderr)
        raise SystemExit(130) from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="nlptl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train_cmd = commands.add_parser("train", help="fine-tune from a recipe", add_help=False)
    train_cmd.add_argument("recipe", help="recipe .py file or recipe.yaml")
    find_cmd = commands.add_parser("lr-find", help="LR range test: loss vs learning rate, a suggested rate",
                                   add_help=False)
    find_cmd.add_argument("recipe", help="recipe .py file or recipe.yaml")
    add_predict_parser(commands)
    add_push_parser(commands)
    add_export_parser(commands)
    add_serve_parser(commands)
    compare_cmd = commands.add_parser("compare", help="transfer strategies x label budgets x seeds", add_help=False)
    compare_cmd.add_argument("recipe", help="recipe .py file or recipe.yaml")
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if args.command == "train":
        from nlptl.run import main as run_main

        try:
            recipe = load_recipe_file(args.recipe)
        except NlptlError as err:
            print(f"nlptl: error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        run_main(recipe, rest)
        return
    if args.command == "lr-find":
        run_lr_find(args.recipe, rest)
        return
    if args.command == "compare":
        from nlptl.compare import main as compare_main

        compare_main(args.recipe, rest)
        return
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    actions = {"predict": run_predict, "push": run_push, "export": run_export, "serve": run_serve}
    run_command(actions[args.command], args)


if __name__ == "__main__":
    main()
