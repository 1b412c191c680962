"""Single-process parts of streamdit.training.sharding (the two-process FSDP run is in test_distributed_training)."""

from __future__ import annotations

import pytest
import torch

from streamdit.models.dit import StreamDiT, StreamDiTConfig
from streamdit.training.sharding import empty_copy, full_tensor, shard_model

TINY = StreamDiTConfig(buffer_frames=4, latent_height=4, latent_width=4, hidden_size=32, depth=2, num_heads=2,
                       window_size=(4, 8, 8), in_channels=8, text_dim=16)


def test_empty_copy_holds_no_weights_and_takes_a_state_dict_random_init() -> None:
    torch.manual_seed(0)
    model = StreamDiT(TINY)
    copy = empty_copy(model)
    assert all(p.is_meta for p in copy.parameters())
    assert not any(b.is_meta for b in copy.buffers())  # non-persistent buffers are not in a state dict
    assert not any(p.is_meta for p in model.parameters())  # the original is untouched
    copy.load_state_dict(model.state_dict(), assign=True)
    x, t, text = torch.randn(2, 8, 4, 4, 4), torch.rand(2, 4), torch.randn(2, 5, 16)
    torch.testing.assert_close(copy(x, t, text), model(x, t, text), rtol=0, atol=0)


def test_full_tensor_passes_plain_tensors_through() -> None:
    t = torch.ones(3)
    assert full_tensor(t) is t


def test_shard_model_without_torchrun_is_a_clear_error_random_init() -> None:
    with pytest.raises(RuntimeError, match="torchrun"):
        shard_model(StreamDiT(TINY), torch.device("cpu"))
