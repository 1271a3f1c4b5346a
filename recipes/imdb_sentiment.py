"""IMDb movie-review sentiment (Maas et al. 2011), 25k train / 25k test reviews.

Reviews are long: keep the first 128 and the last tokens of each (Sun et al. 2019).
Run: accelerate launch recipes/imdb_sentiment.py [--model DIR] [--train.lr 3e-5] ...
"""

from nlptl import DataConfig, ModelConfig, Recipe, TrainConfig, main

recipe = Recipe(
    name="imdb_sentiment",
    model=ModelConfig(name="bert-base-uncased"),
    data=DataConfig(
        source="stanfordnlp/imdb",
        text_column="text",
        label_column="label",
        label_names=["neg", "pos"],
        validation_size=0.1,
        max_length=256,
        truncation="head_tail",
        head_tokens=64,
    ),
    # lr 5e-5 suits bert-base and MiniLM here (the README's main job); --train.lr auto measures one for others.
    train=TrainConfig(epochs=2, batch_size=16, eval_batch_size=64, lr=5e-5, metric_for_best="accuracy"),
)

if __name__ == "__main__":
    main(recipe)
