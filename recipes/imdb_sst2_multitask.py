"""Multi-task learning on two sentiment data sets: IMDb reviews and SST-2 sentences, one encoder, two heads.

Each data set keeps its own head, labels and text column; the encoder learns from both. Tasks are drawn with
temperature 2 (p ~ batches ** 0.5): IMDb's 22,500 train reviews get about 38% of the batches instead of the 27%
their share of rows would give them (with the shared copies' 22,500 IMDb and 60,614 SST-2 train rows).
Serve either head: `nlptl predict RUN FILE --task imdb|sst2`.
Run: accelerate launch recipes/imdb_sst2_multitask.py [--model DIR] [--output-dir DIR] [--train.max_steps N] ...
"""

from nlptl import DataConfig, ModelConfig, MultitaskConfig, Recipe, TaskSpec, TrainConfig, main

recipe = Recipe(
    name="imdb_sst2_multitask",
    task="multitask",
    model=ModelConfig(name="sentence-transformers/all-MiniLM-L6-v2"),
    multitask=MultitaskConfig(
        tasks=[
            TaskSpec(name="imdb", data=DataConfig(source="stanfordnlp/imdb", text_column="text", label_column="label",
                                                  label_names=["neg", "pos"], validation_size=0.1, max_length=256,
                                                  truncation="head_tail", head_tokens=64)),
            TaskSpec(name="sst2", data=DataConfig(source="stanfordnlp/sst2", text_column="sentence",
                                                  label_column="label", label_names=["neg", "pos"], max_length=64)),
        ],
        sampling="temperature",
        temperature=2.0,
    ),
    train=TrainConfig(epochs=1, batch_size=16, eval_batch_size=64, lr=5e-5, metric_for_best="mean"),
)

if __name__ == "__main__":
    main(recipe)
