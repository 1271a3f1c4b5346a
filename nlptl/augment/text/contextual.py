"""Contextual substitution (Kobayashi 2018): replace a word by what a masked language model predicts
in its place, which fits the sentence better than a context-free WordNet synonym.

It needs a checkpoint with trained masked-LM head weights. Sentence-embedding encoders (e.g.
all-MiniLM-L6-v2) ship without them; loading one would silently predict from random layers, so
such a directory is refused with an explanation instead.
"""

from __future__ import annotations

import random
from collections.abc import Sequence, Set
from pathlib import Path

from nlptl.augment.text.ops import Token, replaceable_positions
from nlptl.augment.text.words import is_replaceable, match_case
from nlptl.errors import NlptlError

#: Longest input (in model tokens) given to the model; longer sentences are cut, their tail left as is.
MAX_MODEL_TOKENS = 512


class MaskedLmSubstituter:
    """Masks one replaceable O word at a time and picks a random whole-word prediction from the top k."""

    def __init__(self, model_dir: str | Path, top_k: int = 20, device: str = "cpu") -> None:
        model_path = Path(model_dir)
        if not model_path.is_dir():
            raise NlptlError(f"mlm_model_dir {model_path} is not a directory with a saved model.")
        try:
            from transformers import AutoModelForMaskedLM, AutoTokenizer
        except ImportError as error:
            raise NlptlError("contextual_substitution needs the `transformers` package.") from error
        self.tokenizer = AutoTokenizer.from_pretrained(model_path, local_files_only=True)
        model, loading_info = AutoModelForMaskedLM.from_pretrained(
            model_path, local_files_only=True, output_loading_info=True
        )
        missing = sorted(loading_info.get("missing_keys") or [])
        if missing:
            raise NlptlError(
                f"{model_path} has no trained masked-LM head (missing weights: {', '.join(missing[:4])}"
                f"{', ...' if len(missing) > 4 else ''}), so its predictions would come from random layers. "
                "Point mlm_model_dir at a checkpoint saved from a *ForMaskedLM model "
                "(e.g. bert-base-uncased), not at a sentence-embedding encoder."
            )
        if self.tokenizer.mask_token_id is None:
            raise NlptlError(f"The tokenizer in {model_path} has no mask token, so it cannot fill in words.")
        self.model = model.to(device).eval()
        self.device = device
        self.top_k = top_k

    def substitute(
        self, tokens: Sequence[Token], n: int, rng: random.Random, stop_words: Set[str]
    ) -> list[Token]:
        """Replace up to ``n`` random replaceable O tokens, each predicted with the others in place."""
        import torch

        candidates = replaceable_positions(tokens, stop_words)
        rng.shuffle(candidates)
        chosen = sorted(candidates[:n])
        if not chosen:
            return list(tokens)
        words = [token.text for token in tokens]
        masked = [[*words[:i], self.tokenizer.mask_token, *words[i + 1 :]] for i in chosen]
        batch = self.tokenizer(
            masked,
            is_split_into_words=True,
            truncation=True,
            max_length=min(MAX_MODEL_TOKENS, self.tokenizer.model_max_length),
            padding=True,
            return_tensors="pt",
        ).to(self.device)
        with torch.no_grad():
            logits = self.model(**batch).logits
        result = list(tokens)
        for row, col in (batch["input_ids"] == self.tokenizer.mask_token_id).nonzero().tolist():
            position = chosen[row]
            original = words[position]
            top_ids = logits[row, col].topk(min(self.top_k, logits.shape[-1])).indices.tolist()
            predicted = self.tokenizer.convert_ids_to_tokens(top_ids)
            options = [word for word in predicted if _usable(word, original, stop_words)]
            if options:
                result[position] = Token(match_case(original, rng.choice(options)), tokens[position].tag)
        return result


def _usable(predicted: str, original: str, stop_words: Set[str]) -> bool:
    """A whole alphabetic word ("##ing" pieces and [unused] slots fail), not a stop word, not the original."""
    different = predicted.lower() != original.lower()
    return predicted.isalpha() and is_replaceable(predicted, stop_words) and different
