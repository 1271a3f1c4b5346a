"""The pure text operations of augmentation: words, tags and WordNet in, words and tags out.

Nothing here imports datasets or torch (tests/augment/text/test_imports.py checks it); the masked-LM
substitution (``contextual``) imports torch and transformers only when it is built.
"""
