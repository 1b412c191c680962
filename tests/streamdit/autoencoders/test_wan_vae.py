"""Wan's causal video VAE as a StreamDiT autoencoder (streamdit.autoencoders.wan_vae) with a tiny randomly initialised
AutoencoderKLWan: loading, normalisation and the streaming decoder's equality with a whole-clip decode."""

import pytest
import torch
from diffusers import AutoencoderKLWan

from causal_vae_checks import decode_in_chunks, stream_random_pipeline  # on the path via tests/streamdit/conftest.py
from streamdit.autoencoders.wan_vae import WanVideoAutoencoder
from streamdit.loading import load_autoencoder

Z = 4


@pytest.fixture(scope="module")
def autoencoder(tmp_path_factory) -> WanVideoAutoencoder:
    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=8, z_dim=Z, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           latents_mean=[0.1, -0.2, 0.3, 0.0], latents_std=[2.0, 1.5, 0.5, 1.0])
    directory = tmp_path_factory.mktemp("wan") / "vae"
    vae.save_pretrained(directory)
    loaded = load_autoencoder(directory)
    assert isinstance(loaded, WanVideoAutoencoder)
    return loaded


def test_random_init_geometry_and_normalised_latents(autoencoder):
    assert (autoencoder.latent_channels, autoencoder.temporal_compression, autoencoder.spatial_compression) == (Z, 4, 8)
    video = torch.rand(1, 3, 9, 16, 16) * 2 - 1
    latents = autoencoder.encode(video)
    assert latents.shape == (1, Z, 3, 2, 2)
    raw = autoencoder.vae.encode(video).latent_dist.mode()
    torch.testing.assert_close(latents * autoencoder.std + autoencoder.mean, raw, rtol=1e-5, atol=1e-5)
    assert autoencoder.decode(latents).shape == (1, 3, 9, 16, 16)


@pytest.mark.parametrize("chunks", [[1, 1, 1, 1], [2, 2], [1, 3]])
def test_random_init_streaming_decode_equals_a_whole_clip_decode(autoencoder, chunks):
    latents = torch.randn(1, Z, sum(chunks), 2, 2, generator=torch.Generator().manual_seed(1))
    whole = autoencoder.decode(latents)
    parts = decode_in_chunks(autoencoder, latents, chunks)
    assert [p.shape[2] for p in parts] == [4 * chunks[0] - 3] + [4 * c for c in chunks[1:]]
    torch.testing.assert_close(torch.cat(parts, dim=2), whole, rtol=1e-4, atol=1e-5)
    # diffusers' own decode restarts the causal context per call: chunk-wise calls differ from the whole
    restarted = torch.cat([autoencoder.decode(latents[:, :, :chunks[0]]), autoencoder.decode(latents[:, :, chunks[0]:])], 2)
    assert restarted.shape[2] < whole.shape[2]


def test_random_init_pipeline_streams_through_the_wan_vae(autoencoder, text_encoder):
    chunks = stream_random_pipeline(autoencoder, text_encoder)  # frames checked against a stream decode
    assert [c.shape for c in chunks] == [(5, 16, 16, 3), (8, 16, 16, 3), (8, 16, 16, 3)]


def test_wrong_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="vae/ folder"):
        WanVideoAutoencoder.from_pretrained(tmp_path)
