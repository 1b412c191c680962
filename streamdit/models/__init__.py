"""The networks: the StreamDiT denoiser (and its Wan2.1-based variant) and the text encoder."""

from streamdit.models.dit import PRESETS, StreamDiT, StreamDiTConfig
from streamdit.models.text import MAX_PROMPT_CHARS, TextEmbedding, TextEncoder, TransformerTextEncoder
from streamdit.models.wan import WanStreamDiT

__all__ = ["MAX_PROMPT_CHARS", "PRESETS", "StreamDiT", "StreamDiTConfig", "TextEmbedding", "TextEncoder",
           "TransformerTextEncoder", "WanStreamDiT"]
