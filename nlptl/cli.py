"""`nlptl` command line.

  nlptl train RECIPE [--FIELD VALUE ...]      fine-tune; RECIPE is a recipe .py file or a saved recipe.yaml
  nlptl train --data FILE --text-column C --label-column C [--model M]   fine-tune without a recipe
  nlptl init text_classification|ner [FILE]   write a commented recipe file to edit
  nlptl lr-find RECIPE [--FIELD VALUE ...]    LR range test on the recipe's data/model/strategy: lr_find.png
  nlptl predict MODEL INPUT --output OUTPUT   label every row of a file or data set split
  nlptl evaluate RUN DATA [--split test]      score a trained model on labelled data: metrics, ROC/PR/calibration plots
  nlptl export RUN --format onnx --output DIR  ONNX graph (--quantize int8) + tokenizer + label map, parity check
  nlptl serve RUN [--port 8000]               HTTP endpoint: POST /predict, GET /health, /metrics, /docs
  nlptl push OUTPUT_DIR REPO_ID               upload a trained run with a model card to the Hugging Face Hub
  nlptl compare RECIPE --strategies full,lora --budgets 100,all --seeds 3   learning curves per strategy
  nlptl tune RECIPE --trials 12 [--space ...]  hyperparameter search with Optuna (resumable, pruned, parallel)
  nlptl ensemble RUN1 RUN2 ... --output DIR   one model folder that averages several runs' predictions

`-` and `_` are interchangeable in every flag (--output-dir, --output_dir). `--resume` is a flag everywhere: it
continues the interrupted run (train, lr-find: from the newest checkpoint; predict: from the finished chunks).
Every user error is one line on stderr and exit code 2. `nlptl COMMAND --help` for each command's options.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from nlptl.errors import NlptlError
from nlptl.overrides import FlagParser, apply_values, parse_overrides
from nlptl.recipe import Recipe, load_recipe_file

RECIPE_COMMANDS = ("train", "lr-find", "compare", "tune")  # RECIPE first, then the recipe's own flags
TRAIN_USAGE = ("nlptl {command} [RECIPE] [--FIELD VALUE ...]\n"
               "       nlptl {command} --data FILE [--text-column COLUMN] [--label-column COLUMN] [--model MODEL] "
               "[--task text_classification|ner] [--FIELD VALUE ...]")


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
    cmd.add_argument("--column-names", type=lambda names: [n.strip() for n in names.split(",")],
                     help="names of the columns of a header-less .csv/.tsv input, in order (e.g. label,text)")
    cmd.add_argument("--split", help="split of a directory or Hub data set (e.g. test)")
    cmd.add_argument("--config-name", help="configuration of a Hub data set")
    cmd.add_argument("--batch-size", type=int, default=32)
    cmd.add_argument("--chunk-size", type=int, default=4096,
                     help="rows read, length-sorted and saved together (the unit of --resume)")
    add_text_fitting(cmd)
    cmd.add_argument("--precision", default="auto", help="auto (bf16 where measured faster, else fp32) | fp32 "
                     "(exact) | bf16 | int8 (dynamic int8 Linear layers, CPU)")
    cmd.add_argument("--backend", choices=["torch", "onnx"], default="torch",
                     help="onnx: MODEL is a folder written by `nlptl export --format onnx`, run by ONNX Runtime")
    cmd.add_argument("--all-scores", action="store_true", help="also write one probability column per class")
    cmd.add_argument("--task", help="multi-task run: the task whose head predicts (a name in its multitask.json)")
    cmd.add_argument("--bad-rows", choices=["error", "skip"], default="error",
                     help="null/empty/undecodable text: stop naming the row, or keep it with a skip_reason")
    cmd.add_argument("--prefix", default="", help="prefix for the added columns (when the input has a 'label')")
    cmd.add_argument("--resume", action="store_true", help="continue an interrupted run")
    cmd.add_argument("--overwrite", action="store_true", help="replace an existing output (or unfinished run)")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_text_fitting(cmd: argparse.ArgumentParser) -> None:
    """How texts longer than the model takes are cut: predict and evaluate cut them the same way."""
    cmd.add_argument("--max-length", type=int, help="tokens per text (default: as trained, else the model's limit)")
    cmd.add_argument("--truncation", choices=["head", "tail", "head_tail"], help="default: as trained, else head")
    cmd.add_argument("--head-tokens", type=int, help="head_tail: tokens kept from the start (default as trained)")
    cmd.add_argument("--long-text", choices=["truncate", "window"],
                     help="window: score overlapping windows and pool their logits (default: as trained, else "
                          "truncate)")
    cmd.add_argument("--window-pooling", choices=["mean", "max"], help="window: pool the windows' logits by their "
                                                                      "mean or max (default: as trained, else mean)")
    cmd.add_argument("--stride", type=int, help="window: tokens shared by neighbouring windows (max_length/4)")


def add_evaluate_parser(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser("evaluate", help="score a trained model on labelled data: metrics.json and plots",
                              description="Labels are mapped by the model's own class names (config.json); texts "
                                          "are cut as `nlptl predict` cuts them. Multi-process: accelerate launch "
                                          "-m nlptl.cli evaluate ...")
    cmd.add_argument("run_dir", metavar="RUN", help="output dir of `nlptl train` (or a mirror name / Hub id)")
    cmd.add_argument("data", metavar="DATA", help="a file, a directory of split files, a save_to_disk folder, "
                                                  "or a Hub data set name (or mirror)")
    cmd.add_argument("--split", default="test", help="split to score (a single file is scored whatever its name)")
    cmd.add_argument("--output-dir", help="folder to write (default: RUN/eval-DATA-SPLIT; never over an existing "
                                          "one without --overwrite)")
    cmd.add_argument("--text-column", help="default: the model's training column")
    cmd.add_argument("--text-pair-column", help="second text of a pair (default: the model's training column)")
    cmd.add_argument("--label-column", help="default: the model's training column")
    cmd.add_argument("--config-name", help="configuration of a Hub data set")
    cmd.add_argument("--batch-size", type=int, default=64)
    cmd.add_argument("--max-samples", type=int, help="score this many rows, drawn as training's "
                                                     "data.max_eval_samples draws them (seeded shuffle)")
    cmd.add_argument("--seed", type=int, help="seed of --max-samples' shuffle (default: the run's seed)")
    add_text_fitting(cmd)
    cmd.add_argument("--precision", help="auto | fp32 | bf16 | int8; default: as the run trained (fp32 unless it "
                     "trained in bf16), so its scores reproduce")
    cmd.add_argument("--overwrite", action="store_true", help="replace an existing --output-dir")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bar")
    cmd.add_argument("--task", help="multi-task run: the task whose head is scored (a name in its multitask.json)")


def run_evaluate(args: argparse.Namespace) -> None:
    from transformers.utils import logging as hf_logging

    from nlptl.evaluation.run import evaluate

    hf_logging.disable_progress_bar()
    evaluate(args.run_dir, args.data, split=args.split, output_dir=args.output_dir, text_column=args.text_column,
             label_column=args.label_column, text_pair_column=args.text_pair_column, config_name=args.config_name,
             batch_size=args.batch_size, max_samples=args.max_samples, seed=args.seed, max_length=args.max_length,
             truncation=args.truncation, head_tokens=args.head_tokens, long_text=args.long_text, stride=args.stride,
             window_pooling=args.window_pooling, precision=args.precision, overwrite=args.overwrite,
             progress=not args.no_progress, task=args.task)


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


def add_ensemble_parser(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser("ensemble", help="combine fine-tuned runs with the same labels into one model folder",
                              description="The folder predicts like a model dir: nlptl predict DIR INPUT -o OUT.")
    cmd.add_argument("runs", nargs="+", metavar="RUN", help="output dirs of `nlptl train` (same labels, tokenizer)")
    add_output_folder(cmd, "the ensemble folder to write")
    cmd.add_argument("--weights", help="one positive weight per run, e.g. 2,1,1 (default: equal)")
    cmd.add_argument("--combine", choices=["probabilities", "logits"], default="probabilities",
                     help="average the class probabilities (default) or the logits")


def add_output_folder(cmd: argparse.ArgumentParser, what: str) -> None:
    """--output DIR and --overwrite, as every command that writes one folder takes them."""
    cmd.add_argument("--output", "-o", required=True, help=what)
    cmd.add_argument("--overwrite", action="store_true", help="replace an existing --output folder")


def add_export_parser(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser("export", help="ONNX graph (optionally int8) with tokenizer and label map",
                              description="Export a trained run for ONNX Runtime; checks the graph against the "
                                          "PyTorch model on held-out texts. Run it with --backend onnx.")
    cmd.add_argument("run_dir", metavar="RUN", help="output dir of `nlptl train`")
    cmd.add_argument("--format", default="onnx", choices=["onnx"], help="deployment format")
    cmd.add_argument("--quantize", choices=["int8"], help="int8: dynamic int8 weights (ONNX Runtime quantizer)")
    add_output_folder(cmd, "folder to write (must not exist, or --overwrite)")
    cmd.add_argument("--parity-samples", type=int, default=200, help="held-out texts to compare (0: skip)")
    cmd.add_argument("--task", help="multi-task run: the task whose head to export (a name in its multitask.json)")
    cmd.add_argument("--parity-data", help="file/dir/Hub data set with the texts (default: the run's test split)")
    cmd.add_argument("--parity-split", help="split of --parity-data or of the run's data (default: test)")
    cmd.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's)")


def add_serve_parser(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser("serve", help="HTTP endpoint with micro-batching and Prometheus metrics",
                              description="POST /predict {\"text\": ... | [...], \"text_pair\": ..., "
                                          "\"all_scores\": false}; GET /health, /metrics, /docs.")
    cmd.add_argument("model", metavar="RUN", help="output dir of `nlptl train` (or of `nlptl export`, --backend onnx)")
    cmd.add_argument("--host", default="127.0.0.1", help="interface to listen on (0.0.0.0: every interface)")
    cmd.add_argument("--port", type=int, default=8000)
    cmd.add_argument("--backend", choices=["torch", "onnx"], default="torch")
    cmd.add_argument("--precision", default="auto", help="torch backend: auto | fp32 | bf16 | int8 (CPU)")
    cmd.add_argument("--max-batch", type=int, default=32, help="texts run together in one forward")
    cmd.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a request waits for others to join")
    cmd.add_argument("--max-texts", type=int, default=64, help="texts one request may send")
    cmd.add_argument("--max-chars", type=int, default=20_000, help="characters one text may have")
    cmd.add_argument("--max-body-bytes", type=int, default=1_000_000, help="largest request body")


def run_export(args: argparse.Namespace) -> None:
    from nlptl.export.onnx import export_onnx

    summary = export_onnx(args.run_dir, args.output, fmt=args.format, quantize=args.quantize,
                          parity_samples=args.parity_samples, parity_data=args.parity_data,
                          parity_split=args.parity_split, opset=args.opset, overwrite=args.overwrite, task=args.task)
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
        head_tokens=args.head_tokens, long_text=args.long_text, stride=args.stride, window_pooling=args.window_pooling,
        prefix=args.prefix, column_names=args.column_names, progress=not args.no_progress, backend=args.backend,
        task=args.task)


def run_push(args: argparse.Namespace) -> None:
    from nlptl.hub.push import push

    language = [part.strip() for part in args.language.split(",") if part.strip()] if args.language else None
    where = push(args.run_dir, args.repo_id, private=args.private, revision=args.revision, to_dir=args.to_dir,
                 license=args.license, language=language, commit_message=args.commit_message)
    print(where)


def read_recipe(command: str, args: list[str]) -> tuple[Recipe, str | None]:
    """The recipe of `nlptl train|lr-find [RECIPE] [flags]` (and the recipe path): a recipe file with overrides,
    or, without one, a recipe built from `--data` (nlptl.quickstart). `--help` prints the fields and exits."""
    path = args[0] if args and not args[0].startswith("-") else None
    flags = args[1:] if path else args
    base = load_recipe_file(path) if path else Recipe()
    if path and Path(path).suffix in (".yaml", ".yml"):  # a saved run: whether it resumed is no choice of the recipe
        base.resume, base.overwrite_output_dir = None, False
    values = parse_overrides(base, flags, prog=f"nlptl {command}", usage=TRAIN_USAGE.format(command=command))
    check_task(str(values.get("task", base.task)))
    if path is None:
        from nlptl.quickstart import recipe_from_data

        recipe = recipe_from_data(values)
    else:
        recipe = apply_values(base, values)
    if path and Path(path).suffix in (".yaml", ".yml") and command == "train" and not (
            {"output_dir", "resume", "overwrite_output_dir"} & set(values)):
        recipe.output_dir = str(rerun_dir(recipe.resolved_output_dir()))
    return recipe, path


def check_task(task: str) -> None:
    from nlptl.overrides import TASK_ALIASES
    from nlptl.tasks import TASKS

    if task not in TASKS:
        aliases = ", ".join(f"{alias} ({name})" for alias, name in TASK_ALIASES.items())
        raise NlptlError(f"unknown task {task!r}: choose one of {', '.join(TASKS)} (or {aliases}) with --task")


def rerun_dir(output_dir: Path) -> Path:
    """Where rerunning a saved recipe.yaml trains: its own output dir when that holds no run, else the first of
    DIR-2, DIR-3, ... that holds none (said on stderr, with what to pass instead). Nothing is overwritten."""
    from nlptl.run import run_outputs_in

    if not run_outputs_in(output_dir):
        return output_dir
    n = 2
    while run_outputs_in(output_dir.with_name(f"{output_dir.name}-{n}")):
        n += 1
    new = output_dir.with_name(f"{output_dir.name}-{n}")
    if os.environ.get("RANK", "0") == "0":  # once under `accelerate launch`
        print(f"nlptl: {output_dir} already holds a run: training into {new} (choose the folder with --output-dir DIR; "
              f"continue {output_dir} with --resume; replace it with --overwrite-output-dir)", file=sys.stderr)
    return new


def run_train(args: list[str]) -> None:
    from nlptl.run import setup_logging, train

    recipe, path = read_recipe("train", args)
    setup_logging()
    try:
        train(recipe)
    except KeyboardInterrupt:
        again = f"nlptl train {path or '...'} --resume" + ("" if path else " (with the same flags)")
        print(f"nlptl: interrupted; checkpoints are kept in {recipe.resolved_output_dir()}: continue with {again}",
              file=sys.stderr)
        raise SystemExit(130) from None


def run_lr_find(args: list[str]) -> None:
    """Print the suggestion and where the curve is."""
    from nlptl.run import find_learning_rate, setup_logging

    recipe, _ = read_recipe("lr-find", args)
    setup_logging()
    found = find_learning_rate(recipe)
    out = recipe.resolved_output_dir()
    print(f"suggested learning rate: {found.suggested_lr:.3g} ({found.rule} rule; steepest "
          f"{found.suggestions['steepest']:.3g}, valley {found.suggestions['valley']:.3g}, minimum/10 "
          f"{found.suggestions['minimum']:.3g}); {len(found.lrs)} steps in {found.seconds:.1f} s; curve: "
          f"{out / 'lr_find.png'}. Train with --train.lr {found.suggested_lr:.3g} (or --train.lr auto)")


def run_compare(args: list[str]) -> None:
    from nlptl.compare import main as compare_main

    if not args or args[0].startswith("-"):
        if {"-h", "--help"} & set(args):
            compare_main("", ["--help"])
        raise NlptlError("nlptl compare needs a recipe first: nlptl compare RECIPE --strategies full,lora ...")
    compare_main(args[0], args[1:])


def run_tune(args: list[str]) -> None:
    from nlptl.tune import main as tune_main

    if not args or args[0].startswith("-"):
        raise NlptlError("nlptl tune needs a recipe first: nlptl tune RECIPE --trials 12 [--space ...]")
    tune_main(args[0], args[1:])


def run_ensemble(args: argparse.Namespace) -> None:
    from nlptl.ensemble import run_ensemble as build

    build(args)


def run_init(args: argparse.Namespace) -> None:
    from nlptl.quickstart import write_template

    path = write_template(args.kind, args.file)
    print(f"wrote {path}: set data.source and the columns in it, then run: nlptl train {path}")


def run_command(action: Callable[[argparse.Namespace], None], args: argparse.Namespace) -> None:
    """An interrupted prediction says how to continue."""
    from nlptl.run import setup_logging

    setup_logging()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        action(args)
    except KeyboardInterrupt:
        if args.command == "predict":
            print("nlptl: interrupted; finished chunks are kept: rerun with --resume to continue", file=sys.stderr)
        raise SystemExit(130) from None


def build_parser() -> FlagParser:
    parser = FlagParser(prog="nlptl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("train", help="fine-tune from a recipe, a saved recipe.yaml, or a data file (--data)")
    init_cmd = commands.add_parser("init", help="write a commented recipe file to edit",
                                   description="Write a recipe .py file (never over an existing file).")
    init_cmd.add_argument("kind", choices=["text_classification", "ner"])
    init_cmd.add_argument("file", nargs="?", help="where to write it (default: my_classifier.py / my_ner.py)")
    commands.add_parser("lr-find", help="LR range test: loss vs learning rate, a suggested rate")
    add_predict_parser(commands)
    add_evaluate_parser(commands)
    add_push_parser(commands)
    commands.add_parser("compare", help="transfer strategies x label budgets x seeds")
    commands.add_parser("tune", help="hyperparameter search with Optuna (resumable, pruned, parallel)")
    add_ensemble_parser(commands)
    add_export_parser(commands)
    add_serve_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> None:
    """Every user error: one line on stderr, exit code 2, no traceback."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and argv[0] in RECIPE_COMMANDS:
            {"train": run_train, "lr-find": run_lr_find, "compare": run_compare, "tune": run_tune}[argv[0]](argv[1:])
            return
        args = build_parser().parse_args(argv)
        action = {"predict": run_predict, "push": run_push, "init": run_init, "ensemble": run_ensemble,
                  "export": run_export, "serve": run_serve, "evaluate": run_evaluate}[args.command]
        if args.command == "init":
            action(args)
        else:
            run_command(action, args)
    except NlptlError as err:
        print(f"nlptl: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
