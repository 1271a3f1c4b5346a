"""Fit long texts into max_length: keep the head, the tail, or both (Sun et al. 2019, "How to Fine-Tune
BERT for Text Classification?": head 128 + tail 382 tokens works best on IMDb reviews)."""

from __future__ import annotations

from transformers import PreTrainedTokenizerBase

from nlptl.errors import NlptlError

STRATEGIES = ("head", "tail", "head_tail")


def describe_truncation(max_length: int, strategy: str, head_tokens: int) -> str:
    """What happens to a longer text, in words (the model card's limitations)."""
    kept = {"head": "the start is kept", "tail": "the end is kept",
            "head_tail": f"the first {head_tokens} tokens and the end are kept"}
    return f"Inputs longer than {max_length} tokens are cut ({kept.get(strategy, strategy)})"


def special_token_frame(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a single text, e.g. ([CLS], [SEP]) for BERT."""
    with_specials = tokenizer("a")["input_ids"]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    for start in range(len(with_specials) - len(plain) + 1):
        if with_specials[start:start + len(plain)] == plain:
            return with_specials[:start], with_specials[start + len(plain):]
    raise NlptlError(f"cannot find where {type(tokenizer).__name__} places the text between its special tokens")


def keep_tokens(ids: list[int], budget: int, strategy: str, head_tokens: int) -> list[int]:
    """At most `budget` ids of one text, chosen by the strategy."""
    if len(ids) <= budget:
        return ids
    if strategy == "head":
        return ids[:budget]
    if strategy == "tail":
        return ids[len(ids) - budget:]
    head = min(head_tokens, budget)
    return ids[:head] + ids[len(ids) - (budget - head):] if budget > head else ids[:head]


def encode_single(tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int, strategy: str,
                  head_tokens: int) -> dict[str, list[list[int]]]:
    """Tokenize texts (no pair) with the chosen truncation; same keys as a tokenizer call."""
    if strategy not in STRATEGIES:
        raise NlptlError(f"data.truncation={strategy!r}: choose one of {', '.join(STRATEGIES)}")
    if strategy == "head":
        return dict(tokenizer(texts, truncation=True, max_length=max_length))
    prefix, suffix = special_token_frame(tokenizer)
    budget = max_length - len(prefix) - len(suffix)
    pieces = tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
    input_ids = [prefix + keep_tokens(ids, budget, strategy, head_tokens) + suffix for ids in pieces]
    encoded = {"input_ids": input_ids, "attention_mask": [[1] * len(ids) for ids in input_ids]}
    if "token_type_ids" in tokenizer.model_input_names:
        encoded["token_type_ids"] = [[0] * len(ids) for ids in input_ids]
    return encoded
