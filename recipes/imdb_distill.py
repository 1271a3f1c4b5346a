"""Distil a fine-tuned IMDb teacher into a student half its depth (Hinton et al. 2015; DistilBERT's init).

The teacher is a fine-tuned run folder, e.g. the README's main job (MiniLM, 6 layers, on 4,000 reviews):
the student takes the teacher's embeddings, head and every other layer (3 of 6), then learns from
0.5 * T^2 * KL(teacher_T || student_T) + 0.5 * CE(labels) at temperature T=2. The saved student is a plain
transformers model. Another teacher: --model DIR --distill.teacher DIR (the tokenizer comes from --model).
Run: accelerate launch recipes/imdb_distill.py [--distill.student_layers 2] [--distill.alpha 0.9] ...
"""

from nlptl import DataConfig, DistillConfig, ModelConfig, Recipe, StrategyConfig, TrainConfig, main

TEACHER = "runs/imdb_minilm_4k"

recipe = Recipe(
    name="imdb_distill",
    model=ModelConfig(name=TEACHER),
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
    train=TrainConfig(epochs=2, batch_size=16, eval_batch_size=64, lr=5e-5, metric_for_best="accuracy"),
    strategy=StrategyConfig(name="distill"),
    distill=DistillConfig(teacher=TEACHER, student_layers=3, alpha=0.5, temperature=2.0),
)

if __name__ == "__main__":
    main(recipe)
