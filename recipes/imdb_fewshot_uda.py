"""IMDb with 100 labelled reviews plus consistency training (UDA) on unlabelled ones (the `unsup` split).

Every step trains on 16 labelled reviews (layer-wise LR, the best few-label recipe measured in docs/measured.md) and
on 16 unlabelled reviews: the model's prediction on an EDA-augmented copy of each (synonyms, swaps, deletions,
insertions; 20% of the words) is pulled toward its sharpened prediction on the original (Xie et al. 2020).
Run: accelerate launch recipes/imdb_fewshot_uda.py [--model DIR] [--semi.uda_weight 2] [--max-eval-samples 2000]
"""

from nlptl import DataConfig, ModelConfig, Recipe, SemiConfig, StrategyConfig, TrainConfig, main

recipe = Recipe(
    name="imdb_fewshot_uda",
    model=ModelConfig(name="bert-base-uncased"),
    data=DataConfig(
        source="stanfordnlp/imdb",
        label_names=["neg", "pos"],
        max_train_samples=100,
        validation_split="none",  # 100 labels: none spared for validation; the last step's model is kept
        validation_size=0,
        max_length=256,
        truncation="head_tail",
        head_tokens=64,
        unlabelled_split="unsup",
    ),
    strategy=StrategyConfig(name="layerwise_lr", lr_decay=0.9),
    # the plain recipe's 100 steps over the 100 labels, each now with 16 unlabelled reviews and their copies
    train=TrainConfig(epochs=1, min_steps=100, batch_size=16, eval_batch_size=64, lr=1e-4, eval_every=100000),
    semi=SemiConfig(method="uda", uda_ratio=1, uda_weight=1.0, uda_temperature=0.85, uda_confidence=0.45,
                    uda_alpha=0.2, max_unlabelled=2000),
)

if __name__ == "__main__":
    main(recipe)
