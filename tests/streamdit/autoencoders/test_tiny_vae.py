"""TAEHV, the tiny autoencoder into Wan's latent space (streamdit.autoencoders.tiny_vae), randomly initialised: the
published weight layout, geometry, save/load, the stream decoder's equality with a whole-clip decode, and a
pipeline streaming through it."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from causal_vae_checks import decode_in_chunks, stream_random_pipeline  # on the path via tests/streamdit/conftest.py
from streamdit.autoencoders.tiny_vae import TinyVideoAutoencoder
from streamdit.loading import load_autoencoder

# Key -> shape of the state dict of madebyollin/taehv's TAEHV() (base architecture, 16 latent channels, patch
# size 1: TAEW2.1), written from that repository's taehv.py; its weight files use these keys.
REFERENCE_SHAPES = Path(__file__).parents[1] / "fixtures" / "taehv_base_state_dict_shapes.json"


@pytest.fixture(scope="module")
def autoencoder() -> TinyVideoAutoencoder:
    torch.manual_seed(0)
    return TinyVideoAutoencoder().eval()


def test_random_init_state_dict_has_the_published_taehv_layout(autoencoder):
    reference = json.loads(REFERENCE_SHAPES.read_text())
    assert {k: list(v.shape) for k, v in autoencoder.state_dict().items()} == reference


def test_random_init_first_frame_does_not_depend_on_later_latents(autoencoder):
    latents = torch.randn(1, 16, 3, 2, 2, generator=torch.Generator().manual_seed(2))
    changed = latents.clone()
    changed[:, :, 1:] += 1.0
    first, other = autoencoder.decode(latents), autoencoder.decode(changed)
    torch.testing.assert_close(first[:, :, 0], other[:, :, 0])
    assert not torch.allclose(first[:, :, 1:], other[:, :, 1:])


@pytest.mark.parametrize("chunks", [[1, 1, 1, 1], [2, 2], [1, 3]])
def test_random_init_streaming_decode_equals_a_whole_clip_decode(autoencoder, chunks):
    latents = torch.randn(2, 16, sum(chunks), 2, 2, generator=torch.Generator().manual_seed(1))
    whole = autoencoder.decode(latents)
    parts = decode_in_chunks(autoencoder, latents, chunks)
    assert [p.shape[2] for p in parts] == [4 * chunks[0] - 3] + [4 * c for c in chunks[1:]]
    torch.testing.assert_close(torch.cat(parts, dim=2), whole, rtol=1e-5, atol=1e-6)


def test_random_init_save_and_load_round_trip(autoencoder, tmp_path):
    autoencoder.save_pretrained(tmp_path / "tiny")
    loaded = load_autoencoder(tmp_path / "tiny")
    assert isinstance(loaded, TinyVideoAutoencoder)
    latents = torch.randn(1, 16, 2, 2, 2, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(loaded.decode(latents), autoencoder.decode(latents))


def test_published_weight_file_loads_and_wrong_files_are_clear_errors(autoencoder, tmp_path):
    # a weight file as published (taew2_1.safetensors: the bare state dict, no config)
    save_file({k: v.contiguous() for k, v in autoencoder.state_dict().items()}, tmp_path / "taew2_1.safetensors")
    loaded = TinyVideoAutoencoder.from_checkpoint(tmp_path / "taew2_1.safetensors")
    latents = torch.randn(1, 16, 1, 2, 2, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(loaded.decode(latents), autoencoder.decode(latents))
    with pytest.raises(FileNotFoundError, match="TAEHV weight file"):
        TinyVideoAutoencoder.from_checkpoint(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="does not fit TAEHV with 48 latent channels"):
        TinyVideoAutoencoder.from_checkpoint(tmp_path / "taew2_1.safetensors", latent_channels=48)


def test_random_init_geometry_and_a_pipeline_streaming_through_the_tiny_decoder_plumbing(autoencoder, text_encoder):
    assert (autoencoder.latent_channels, autoencoder.temporal_compression, autoencoder.spatial_compression) == (16, 4, 8)
    assert autoencoder.encode(torch.rand(1, 3, 9, 16, 16) * 2 - 1).shape == (1, 16, 3, 2, 2)
    with pytest.raises(ValueError, match="multiples of 8"):
        autoencoder.encode(torch.zeros(1, 3, 4, 12, 16))
    chunks = stream_random_pipeline(autoencoder, text_encoder)  # frames checked against a stream decode
    assert [c.shape for c in chunks] == [(5, 16, 16, 3), (8, 16, 16, 3), (8, 16, 16, 3)]
