"""Multi-task learning: one shared encoder, one head per task (the composite task is `nlptl.tasks.multitask`).

`data`: the tasks' tokenized splits side by side, and the seeded order of one-task batches; `model`: the shared
encoder with its heads, saved as a plain transformers encoder + one safetensors file per head + a manifest.
"""
