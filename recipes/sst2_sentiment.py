"""SST-2 sentence sentiment (GLUE). The Hub copy's test split has no labels: it is skipped, and its
validation split (872 sentences, the number papers report) is evaluated."""

from nlptl import DataConfig, ModelConfig, Recipe, TrainConfig, main

recipe = Recipe(
    name="sst2_sentiment",
    model=ModelConfig(name="bert-base-uncased"),
    data=DataConfig(
        source="stanfordnlp/sst2",
        text_column="sentence",
        label_column="label",
        label_names=["negative", "positive"],
        max_length=64,
    ),
    # lr 2e-5 is bert-base's (Devlin et al. 2019). Smaller models need more: MiniLM on 2,000 sentences for one
    # epoch stays a constant predictor at 2e-5 and learns at 5.5e-5 and 4.8e-4 (README); --train.lr auto finds one.
    train=TrainConfig(epochs=3, batch_size=32, eval_batch_size=128, lr=2e-5, metric_for_best="accuracy"),
)

if __name__ == "__main__":
    main(recipe)
