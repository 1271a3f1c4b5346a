"""Token classification (NER): one IOB2 tag per word, scored at entity level by seqeval.

Rows fed to the model are windows, not sentences: a sentence longer than `max_length` sub-tokens is cut into
overlapping windows so no word is lost to truncation, and each word is scored by exactly one window (see
`token_alignment`). A window's `example_id` is its row number in the tokenized split, so the trainer's
per-row predictions come back in row order; `compute_metrics` stitches them back into one tag per word.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import datasets
import torch
from transformers import AutoModelForTokenClassification, PreTrainedModel, PreTrainedTokenizerBase

from nlptl.augment import MENTION_REPLACEMENT, MentionBank, NerAugmenter, resolve_ops
from nlptl.augment.rows import TaggedRows
from nlptl.data.collate import PadCollator
from nlptl.data.columns import to_columns, to_rows
from nlptl.data.tags import LABELS_COLUMN, encode_tags
from nlptl.data.weights import describe, resolve_class_weights, weighted_sum
from nlptl.data.windows import number_rows
from nlptl.errors import NlptlError
from nlptl.evaluation.metrics import load_metric
from nlptl.evaluation.plots import plot_entity_f1
from nlptl.evaluation.report import write_per_class
from nlptl.models import load_labelled_model
from nlptl.recipe import AugmentSettings, DataConfig, Recipe
from nlptl.tasks.base import CardText
from nlptl.tasks.ner_decode import DECODINGS, decode_tags
from nlptl.tasks.token_alignment import (
    IGNORE_INDEX,
    OVERFLOW_WORDS_COLUMN,
    SENTENCE_ID_COLUMN,
    WORD_IDS_COLUMN,
    continuation_label_ids,
    stitch_word_predictions,
    stitch_word_scores,
    tokenize_and_align,
)

SENTENCE_WORDS_COLUMN = "sentence_num_words"
"""Words in the window's whole sentence: lets stitching notice a word that no window scored."""


def window_batch(batch: dict[str, list], indices: list[int], tokenizer: PreTrainedTokenizerBase,
                 words_column: str, max_length: int, stride: int | None, label_all_subtokens: bool,
                 continuation_ids: dict[int, int] | None) -> dict[str, list]:
    """Dataset.map function: sentences -> windows with labels, stitching columns, lengths and word counts."""
    windows = tokenize_and_align(
        batch, indices, tokenizer=tokenizer, max_length=max_length, stride=stride,
        label_all_subtokens=label_all_subtokens, continuation_ids=continuation_ids,
        words_column=words_column, labels_column=LABELS_COLUMN,
    )
    words_per_sentence = {row: len(words or ()) for row, words in zip(indices, batch[words_column], strict=True)}
    windows["length"] = [len(ids) for ids in windows["input_ids"]]
    windows[SENTENCE_WORDS_COLUMN] = [words_per_sentence[row] for row in windows[SENTENCE_ID_COLUMN]]
    return windows


def words_per_sentence(sentence_ids: list[int], counts: list[int]) -> list[int]:
    """Word count of each sentence, indexed by sentence id."""
    result = [0] * (max(sentence_ids, default=-1) + 1)
    for sentence_id, count in zip(sentence_ids, counts, strict=True):
        result[sentence_id] = count
    return result


class TokenClassificationTask:
    name = "token_classification"
    stratify_column = None  # tag sequences have no single class to stratify by
    main_metric = "f1"  # entity-level micro F1: token accuracy is high even for a model that predicts only O
    pipeline_tag = "token-classification"
    description = "named-entity recognition"
    metric_names = {"f1": "Entity F1 (micro)", "precision": "Entity precision (micro)",
                    "recall": "Entity recall (micro)", "accuracy": "Token accuracy"}
    model_class: type = AutoModelForTokenClassification
    architecture_suffix = "ForTokenClassification"
    first_token_head = False
    problem_type: str | None = None
    source_row_column: str | None = SENTENCE_ID_COLUMN  # windows carry their sentence's weight

    def __init__(self) -> None:
        self.label_names: list[str] = []
        self.class_weights: torch.Tensor | None = None  # train.class_weights, one per tag
        self.strict = False
        self.decoding = "constrained"

    def prepare_labels(self, splits: datasets.DatasetDict, recipe: Recipe) -> datasets.DatasetDict:
        cfg = recipe.data
        if cfg.ner_decoding not in DECODINGS:
            raise NlptlError(f"data.ner_decoding={cfg.ner_decoding!r}: choose one of {', '.join(DECODINGS)}")
        self.strict, self.decoding = cfg.ner_strict, cfg.ner_decoding
        splits, self.label_names = encode_tags(splits, cfg.tokens_column, cfg.tags_column, cfg.label_names,
                                               cfg.num_proc)
        return splits

    def tokenize(self, splits: datasets.DatasetDict, tokenizer: PreTrainedTokenizerBase,
                 recipe: Recipe) -> datasets.DatasetDict:
        cfg = recipe.data
        to_windows = self.encoder(tokenizer, recipe)
        result = {}
        for split, ds in splits.items():
            if cfg.tokens_column not in ds.column_names:
                raise NlptlError(f"split {split!r} has no tokens column {cfg.tokens_column!r} "
                                 f"(columns: {', '.join(ds.column_names)}); set data.tokens_column")
            windows = ds.map(to_windows, batched=True, with_indices=True, batch_size=1000, num_proc=cfg.num_proc,
                             remove_columns=ds.column_names, desc=f"tokenizing {split}")
            result[split] = windows.map(number_rows, batched=True, with_indices=True, desc=f"numbering {split}")
        return datasets.DatasetDict(result)

    def encoder(self, tokenizer: PreTrainedTokenizerBase, recipe: Recipe) -> Callable[..., dict[str, list]]:
        """The Dataset.map function of `tokenize` (batch, indices) -> windows with aligned labels."""
        cfg = recipe.data
        continuation = continuation_label_ids(self.label_names) if cfg.label_all_subtokens else None
        return partial(window_batch, tokenizer=tokenizer, words_column=cfg.tokens_column,
                       max_length=cfg.max_length, stride=cfg.stride,
                       label_all_subtokens=cfg.label_all_subtokens, continuation_ids=continuation)

    def encode_rows(self, rows: list[dict], tokenizer: PreTrainedTokenizerBase,
                    recipe: Recipe) -> list[list[dict]]:
        """Each sentence's windows (one unless it is longer than max_length)."""
        ids = [row["example_id"] for row in rows]
        windows: dict[int, list[dict]] = {i: [] for i in ids}
        for window in to_rows(self.encoder(tokenizer, recipe)(to_columns(rows), ids)):
            windows[window[SENTENCE_ID_COLUMN]].append(window)
        return [windows[i] for i in ids]

    def augmenter(self, settings: AugmentSettings, train: datasets.Dataset, recipe: Recipe) -> TaggedRows:
        """NER-safe operations only (O words change, mentions keep words and tags); mention replacement draws
        from the mentions of this train split, so no evaluation mention leaks in."""
        words = recipe.data.tokens_column
        bank = None
        if MENTION_REPLACEMENT in resolve_ops(settings.ops):
            tags = [[self.label_names[i] for i in ids] for ids in train[LABELS_COLUMN]]
            bank = MentionBank.from_examples(train[words], tags)
        return TaggedRows(NerAugmenter(settings, mention_bank=bank), words, self.label_names)

    def build_model(self, recipe: Recipe) -> PreTrainedModel:
        return load_labelled_model(self.model_class, recipe.model, recipe.mirrors, self.label_names)

    def collator(self, tokenizer: PreTrainedTokenizerBase) -> PadCollator:
        # PadCollator keeps only the model inputs, labels and example_id: the stitching columns stay behind.
        return PadCollator(tokenizer)

    def training_logits(self, model: torch.nn.Module, inputs: dict,
                        labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return model(**inputs).logits, labels

    def loss_sum(self, logits: torch.Tensor, labels: torch.Tensor,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
        class_weights = None if self.class_weights is None else self.class_weights.to(logits.device)
        losses = torch.nn.functional.cross_entropy(logits.float().flatten(0, -2), labels.flatten(),
                                                   weight=class_weights, ignore_index=IGNORE_INDEX, reduction="none")
        return weighted_sum(losses.view(labels.shape), weights)

    def fit_loss(self, train: datasets.Dataset, recipe: Recipe) -> dict[str, Any]:
        """Counted over the words' tags (every word of every train sentence)."""
        counts = [0] * len(self.label_names)
        for tags in train.select_columns([LABELS_COLUMN])[:][LABELS_COLUMN]:
            for tag in tags:
                counts[tag] += 1
        weights = resolve_class_weights(recipe.train.class_weights, self.label_names, counts)
        self.class_weights = None if weights is None else torch.tensor(weights)
        return {} if weights is None else {"class_weights": describe(weights, self.label_names)}

    def finish_model(self, model: PreTrainedModel) -> None:
        return None

    def count_targets(self, labels: torch.Tensor) -> int:
        return int((labels != IGNORE_INDEX).sum())

    def predict(self, logits: torch.Tensor) -> torch.Tensor:
        """Per-token log-probabilities: the tags are chosen per sentence after stitching (see decode_tags)."""
        return logits.float().log_softmax(dim=-1)

    def compute_metrics(self, predictions: list, references: list, split: str,
                        dataset: datasets.Dataset) -> dict[str, Any]:
        columns = dataset.select_columns([WORD_IDS_COLUMN, SENTENCE_ID_COLUMN, SENTENCE_WORDS_COLUMN,
                                          OVERFLOW_WORDS_COLUMN]).to_dict()
        word_ids, sentence_ids = columns[WORD_IDS_COLUMN], columns[SENTENCE_ID_COLUMN]
        num_words = words_per_sentence(sentence_ids, columns[SENTENCE_WORDS_COLUMN])
        scores = stitch_word_scores(predictions, word_ids, sentence_ids, num_words)
        gold = stitch_word_predictions(references, word_ids, sentence_ids, num_words)
        names = self.label_names
        references = [[names[i] for i in sentence] for sentence in gold]

        def entity_scores(decoding: str) -> dict[str, Any]:
            predicted = [[names[i] for i in decode_tags(s, names, decoding)] for s in scores]
            return load_metric("seqeval_ner").compute(predictions=predicted, references=references,
                                                      mode="strict" if self.strict else None)

        result = entity_scores(self.decoding)
        if self.decoding != "argmax":  # what decoding each word on its own would have scored
            result["f1_argmax"] = entity_scores("argmax")["f1"]
        result["num_examples"] = len(gold)
        result["num_words"] = sum(len(sentence) for sentence in gold)
        result["num_windows"] = len(sentence_ids)
        result["num_words_beyond_first_window"] = sum(columns[OVERFLOW_WORDS_COLUMN])
        return result

    def metrics_from_loss(self, loss: float) -> dict[str, float]:
        return {}

    def card_text(self, repo_id: str, data: DataConfig) -> CardText:
        return CardText(
            usage=(f'from transformers import pipeline\n\nner = pipeline("{self.pipeline_tag}", model="{repo_id}", '
                   f'aggregation_strategy="simple")\nprint(ner("Angela Merkel visited Paris."))'),
            length_note=(f"Sentences longer than {data.max_length} sub-tokens are split into overlapping windows, so "
                         "no word is lost; only the entity types listed under Labels are found."),
            input_line=f"tokens column: `{data.tokens_column}`",
        )

    def long_text(self, data: DataConfig) -> dict[str, Any]:
        """Sentences longer than max_length are always windowed; each word is scored once."""
        return {"long_text": "window", "max_length": data.max_length, "stride": data.stride}

    def not_learned(self, metrics: dict, split: str) -> list[str]:
        """No entity found: what predicting O for every word scores."""
        if metrics.get("f1", 1.0) > 0:
            return []
        return [f"{split} entity F1 is 0 (no entity found correctly: what predicting 'O' for every word scores)"]

    def write_reports(self, metrics: dict[str, dict], output_dir: Path) -> list[Path]:
        split = "test" if "test" in metrics else "validation"
        if split not in metrics or not metrics[split].get("per_type"):
            return []
        path = output_dir / "entity_f1.png"
        scores = metrics[split]
        plot_entity_f1(scores["per_type"], path,
                       title=f"Entity F1 by type ({split}, {scores['num_examples']} sentences, "
                             f"micro F1 {scores['f1']:.3f})")
        return [path, *write_per_class(scores, output_dir, f"Per-entity-type report ({split}, "
                                                           f"{scores['num_examples']} sentences)")]
