"""Which kind of fine-tuned model a checkpoint is, read from its config, so prediction picks the right head
and decoding without being told. The task objects say how a checkpoint of their kind is recognised;
token-classification models go to the NER decoding in `nlptl.inference.ner` (`predict_entities`)."""

from __future__ import annotations

from transformers import PretrainedConfig

from nlptl.errors import NlptlError
from nlptl.tasks import TASKS, checkpoint_task
from nlptl.tasks.classification import SequenceClassificationTask
from nlptl.tasks.token_classification import TokenClassificationTask

SEQUENCE, TOKEN = SequenceClassificationTask.name, TokenClassificationTask.name
PREDICTED = (SEQUENCE, TOKEN)  # the kinds `nlptl predict` labels files with
MODEL_CLASSES = {kind: TASKS[kind].model_class for kind in PREDICTED}


def model_kind(config: PretrainedConfig, name: str) -> str:
    kind = checkpoint_task(config)
    if kind not in PREDICTED:
        architectures = list(getattr(config, "architectures", None) or [])
        raise NlptlError(
            f"{name}: its config.json names the architectures {architectures or 'none'}; prediction needs a "
            "fine-tuned sequence- or token-classification checkpoint (the output dir of `nlptl train`)"
        )
    return kind
