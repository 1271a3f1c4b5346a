"""Domain adaptation, SST-2 -> IMDb: learn sentiment from labelled SST-2 sentences (movie-review snippets) while a
domain classifier behind gradient reversal (DANN, Ganin et al. 2016) pushes the encoder toward features that do not
tell the sentences from unlabelled IMDb reviews (their labels are never read). Score the model on IMDb afterwards:

    NLPTL_MIRRORS="stanfordnlp/sst2=?../shared/data/sst2,stanfordnlp/imdb=?../shared/data/imdb" \
        accelerate launch recipes/sst2_to_imdb_dann.py --model sentence-transformers/all-MiniLM-L6-v2 \
        --output-dir runs/sst2_to_imdb_dann
    nlptl evaluate runs/sst2_to_imdb_dann stanfordnlp/imdb --split test --max-samples 2000

(SST-2's labels 0/1 are negative/positive, IMDb's neg/pos: `nlptl evaluate` maps IMDb's ids by position.)
`--domain.method none` trains the source-only baseline with the same settings.
"""

from nlptl import DataConfig, DomainConfig, ModelConfig, Recipe, TrainConfig, main

recipe = Recipe(
    name="sst2_to_imdb_dann",
    model=ModelConfig(name="bert-base-uncased"),
    data=DataConfig(
        source="stanfordnlp/sst2",
        text_column="sentence",
        label_names=["negative", "positive"],
        max_train_samples=5000,
        max_length=256,  # target reviews are long; SST-2 sentences stay short
        truncation="head_tail",
        head_tokens=64,
    ),
    domain=DomainConfig(method="dann", target_source="stanfordnlp/imdb", target_split="train",
                        target_text_column="text", max_target=5000),
    train=TrainConfig(epochs=1, batch_size=16, eval_batch_size=64, lr=5e-5, metric_for_best="accuracy"),
)

if __name__ == "__main__":
    main(recipe)
