"""Entity-level NER scores computed by seqeval, as a local ``evaluate`` module that loads offline.

Load with ``evaluate.load("/abs/path/to/nlptl/evaluation/modules/seqeval_ner")``. Imports stay one per
line: ``evaluate`` reads this file's import lines to check that the dependencies are installed.
"""

import warnings

import datasets
import evaluate
from seqeval import scheme as seqeval_scheme
from seqeval.metrics import accuracy_score, classification_report

_DESCRIPTION = """\
Entity-level micro precision, recall and F1 over IOB-tagged sequences (computed by seqeval, so an
entity counts only when its type and full span match), token-level accuracy, and a per-entity-type
breakdown. The default chunking is seqeval's lenient one (like conlleval); mode="strict" with a
scheme such as "IOB2" only counts well-formed chunks.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: list of predicted tag sequences, e.g. [["B-PER", "I-PER", "O"]].
    references: list of gold tag sequences, same lengths as the predictions.
    mode: None (lenient, default) or "strict".
    scheme: tagging scheme for strict mode: "IOB1", "IOB2", "IOE1", "IOE2", "IOBES" or "BILOU";
        defaults to "IOB2" when mode="strict"; ignored in lenient mode (as in seqeval).
    suffix: True when tags put the type first, like "PER-B".
    zero_division: value for a precision/recall whose denominator is 0 (0 or 1).
Returns:
    precision, recall, f1: entity-level micro averages.
    accuracy: fraction of tokens whose tag is exactly right.
    per_type: {type: {"precision", "recall", "f1", "number"}}, number = gold entities of that type.
Example:
    >>> metric = evaluate.load("/path/to/nlptl/evaluation/modules/seqeval_ner")
    >>> metric.compute(predictions=[["B-PER", "I-PER", "O"]], references=[["B-PER", "I-PER", "O"]])["f1"]
    1.0
"""

_CITATION = """\
@misc{seqeval,
  title={{seqeval}: A Python framework for sequence labeling evaluation},
  url={https://github.com/chakki-works/seqeval},
  author={Hiroki Nakayama},
  year={2018},
}
"""

_SCHEMES = ("IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU")


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SeqevalNer(evaluate.Metric):
    """seqeval scores with flat ``precision``/``recall``/``f1``/``accuracy`` keys plus ``per_type``."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string", id="label"), id="sequence"),
                    "references": datasets.Sequence(datasets.Value("string", id="label"), id="sequence"),
                }
            ),
            codebase_urls=["https://github.com/chakki-works/seqeval"],
        )

    def _compute(
        self,
        predictions: list[list[str]],
        references: list[list[str]],
        mode: str | None = None,
        scheme: str | None = None,
        suffix: bool = False,
        zero_division: int = 0,
    ) -> dict:
        if mode not in (None, "strict"):
            raise ValueError(f"mode must be None or 'strict', got {mode!r}.")
        if scheme is not None and scheme not in _SCHEMES:
            raise ValueError(f"scheme must be one of {_SCHEMES}, got {scheme!r}.")
        if mode == "strict" and scheme is None:
            scheme = "IOB2"
        scheme_class = getattr(seqeval_scheme, scheme) if scheme is not None else None
        with warnings.catch_warnings():
            # The unused macro average of a report without any entity warns about an empty mean.
            warnings.simplefilter("ignore", RuntimeWarning)
            report = classification_report(
                y_true=references,
                y_pred=predictions,
                suffix=suffix,
                output_dict=True,
                mode=mode,
                scheme=scheme_class,
                zero_division=zero_division,
            )
        micro = report.pop("micro avg")
        for average_name in ("macro avg", "weighted avg"):
            report.pop(average_name, None)
        return {
            "precision": float(micro["precision"]),
            "recall": float(micro["recall"]),
            "f1": float(micro["f1-score"]),
            "accuracy": float(accuracy_score(y_true=references, y_pred=predictions)),
            "per_type": {
                entity_type: {
                    "precision": float(scores["precision"]),
                    "recall": float(scores["recall"]),
                    "f1": float(scores["f1-score"]),
                    "number": int(scores["support"]),
                }
                for entity_type, scores in sorted(report.items())
            },
        }
