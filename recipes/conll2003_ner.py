"""CoNLL-2003 English named-entity recognition (Tjong Kim Sang & De Meulder 2003): PER, ORG, LOC, MISC.

14,041 train / 3,250 validation / 3,453 test sentences, IOB2 tags; scored at entity level (seqeval micro F1).
Labels sit on each word's first sub-token (Devlin et al. 2019); sentences longer than max_length are split
into overlapping windows, so every word is scored. The tag names are listed because local copies (parquet
with int tags) do not carry them; they equal the Hub's ClassLabel names.
Run: accelerate launch recipes/conll2003_ner.py [--model DIR] [--data DIR_OR_CONLL_FILES] [--train.lr 3e-5] ...
"""

from nlptl import DataConfig, ModelConfig, Recipe, TrainConfig, main

recipe = Recipe(
    name="conll2003_ner",
    task="token_classification",
    model=ModelConfig(name="bert-base-uncased"),
    data=DataConfig(
        source="eriktks/conll2003",
        tokens_column="tokens",
        tags_column="ner_tags",
        label_names=["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"],
        max_length=128,
    ),
    # lr 5e-5 is for bert-base; MiniLM wants about 1e-4 (the README's runs); --train.lr auto measures one.
    train=TrainConfig(epochs=3, batch_size=32, eval_batch_size=128, lr=5e-5, metric_for_best="f1"),
)

if __name__ == "__main__":
    main(recipe)
