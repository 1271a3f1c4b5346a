"""Multi-task learning: SST-2 sentiment and CoNLL-2003 NER on one shared encoder, a head for each.

Each batch holds one task's rows; tasks are drawn uniformly here, so each gets about half of the optimizer steps
(multitask.sampling: proportional draws by train size instead). The best checkpoint is the one with the best mean
of SST-2 accuracy and CoNLL entity F1. One saved folder serves both: `nlptl predict RUN --task sst2|conll`.
Per-task fields are flags too: --multitask.tasks.sst2.data.max_train_samples 2000.
Run: accelerate launch recipes/sst2_conll_multitask.py [--model DIR] [--output-dir DIR] [--train.max_steps N] ...
"""

from nlptl import DataConfig, ModelConfig, MultitaskConfig, Recipe, TaskSpec, TrainConfig, main

recipe = Recipe(
    name="sst2_conll_multitask",
    task="multitask",
    model=ModelConfig(name="sentence-transformers/all-MiniLM-L6-v2"),
    multitask=MultitaskConfig(
        tasks=[
            TaskSpec(name="sst2", task="sequence_classification",
                     data=DataConfig(source="stanfordnlp/sst2", text_column="sentence", label_column="label",
                                     label_names=["negative", "positive"], max_length=64)),
            TaskSpec(name="conll", task="token_classification",
                     data=DataConfig(source="eriktks/conll2003", tokens_column="tokens", tags_column="ner_tags",
                                     label_names=["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC",
                                                  "B-MISC", "I-MISC"], max_length=128)),
        ],
        sampling="uniform",
    ),
    # MiniLM learns both at 1e-4 (bench/multitask_effect.py); "mean" is the mean of the tasks' main metrics.
    train=TrainConfig(epochs=3, batch_size=32, eval_batch_size=128, lr=1e-4, metric_for_best="mean"),
)

if __name__ == "__main__":
    main(recipe)
