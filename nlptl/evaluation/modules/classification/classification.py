"""Classification metrics as an `evaluate` module that loads with no network.

Accuracy, macro-averaged F1 / precision / recall, a per-class report and the confusion matrix, computed with
scikit-learn from integer predictions and references.
"""

import datasets
import evaluate
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

_DESCRIPTION = "Accuracy, macro F1/precision/recall, per-class report and confusion matrix."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): true class ids.
    label_names (list of str, optional): class names, index = class id; defaults to the ids as strings.
Returns:
    accuracy, f1, precision, recall (macro over classes), per_class {name: {precision, recall, f1, support}},
    confusion_matrix (rows: true class, columns: predicted class), labels (the class names, in order).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Classification(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, label_names=None):
        n_classes = max([*predictions, *references, len(label_names or []) - 1]) + 1
        names = list(label_names) if label_names else [str(i) for i in range(n_classes)]
        ids = list(range(len(names)))
        precision, recall, f1, support = precision_recall_fscore_support(
            references, predictions, labels=ids, zero_division=0
        )
        macro_p, macro_r, macro_f1, _ = precision_recall_fscore_support(
            references, predictions, labels=ids, average="macro", zero_division=0
        )
        return {
            "accuracy": float(accuracy_score(references, predictions)),
            "f1": float(macro_f1),
            "precision": float(macro_p),
            "recall": float(macro_r),
            "per_class": {
                name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
            },
            "confusion_matrix": confusion_matrix(references, predictions, labels=ids).tolist(),
            "labels": names,
        }
