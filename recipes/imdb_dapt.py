"""Domain-adaptive pre-training (Gururangan et al. 2020): continue masked-LM training of the encoder on the
50,000 unlabelled IMDb reviews (`unsup`) before fine-tuning on the labelled ones.

15% of tokens are masked (80% [MASK] / 10% random / 10% kept), afresh each epoch; 1,000 held-out unlabelled
reviews (and 1,000 test reviews, text only) are masked once and scored by loss, perplexity and masked-token
accuracy. MiniLM's checkpoint has no masked-LM head: it starts from random initialisation (the run says so).
Then fine-tune the adapted encoder with any recipe:
    accelerate launch recipes/imdb_dapt.py --max-train-samples 20000
    accelerate launch recipes/imdb_sentiment.py --model runs/imdb_dapt --max-train-samples 4000 --epochs 1
"""

from nlptl import DataConfig, MaskedLMConfig, ModelConfig, Recipe, TrainConfig, main

recipe = Recipe(
    name="imdb_dapt",
    task="masked_lm",
    model=ModelConfig(name="sentence-transformers/all-MiniLM-L6-v2"),
    data=DataConfig(
        source="stanfordnlp/imdb",
        text_column="text",
        train_split="unsup",
        validation_size=1000,
        max_length=256,
        truncation="head_tail",
        head_tokens=64,
        max_eval_samples=1000,
    ),
    train=TrainConfig(epochs=1, batch_size=16, eval_batch_size=16, lr=1e-4, eval_every=1000,
                      metric_for_best="perplexity", greater_is_better=False),
    mlm=MaskedLMConfig(probability=0.15),
)

if __name__ == "__main__":
    main(recipe)
