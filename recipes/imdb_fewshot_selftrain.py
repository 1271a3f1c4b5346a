"""IMDb with 100 labelled reviews plus self-training on unlabelled ones (the `unsup` split's 50,000 reviews).

Round 0 trains a teacher on the 100 labels (layer-wise LR, the best few-label recipe measured in docs/measured.md);
the teacher labels a seeded sample of 4,000 unlabelled reviews; the most confident (probability >= 0.9, at most
1,000 per class, as many of each class) join the 100 labels, and a student trained on both is the model.
Run: accelerate launch recipes/imdb_fewshot_selftrain.py [--model DIR] [--semi.rounds 2] [--max-eval-samples 2000]
"""

from nlptl import DataConfig, ModelConfig, Recipe, SemiConfig, StrategyConfig, TrainConfig, main

recipe = Recipe(
    name="imdb_fewshot_selftrain",
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
    # 1 epoch, at least 100 steps: the teacher takes 100 steps over its 100 reviews, a student one pass over its rows
    train=TrainConfig(epochs=1, min_steps=100, batch_size=16, eval_batch_size=64, lr=1e-4, eval_every=100000),
    semi=SemiConfig(method="self_training", rounds=1, threshold=0.9, top_k=1000, balance=True, max_unlabelled=4000),
)

if __name__ == "__main__":
    main(recipe)
