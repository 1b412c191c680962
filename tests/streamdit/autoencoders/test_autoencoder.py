"""Autoencoder adapters: exact pixel patches, diffusers image VAEs loaded from a local directory."""

from __future__ import annotations

import json

import pytest
import torch

from streamdit.loading import load_autoencoder
from streamdit.autoencoders.base import (DiffusersAutoencoder, PatchAutoencoder, tensor_to_video,
                                   video_to_tensor)


def test_patch_autoencoder_is_exactly_invertible(tmp_path) -> None:
    ae = PatchAutoencoder(4)
    video = torch.rand(2, 3, 5, 16, 24) * 2 - 1
    z = ae.encode(video)
    assert z.shape == (2, 48, 5, 4, 6)
    assert torch.equal(ae.decode(z), video)
    ae.save_pretrained(tmp_path)
    assert isinstance(load_autoencoder(tmp_path), PatchAutoencoder)
    with pytest.raises(ValueError, match="multiples of 4"):
        ae.encode(torch.zeros(1, 3, 2, 10, 16))
    with pytest.raises(ValueError, match=r"\(N, 3, T, H, W\)"):
        ae.encode(torch.zeros(1, 2, 10, 16))


def test_uint8_video_conversion_round_trips() -> None:
    frames = torch.randint(0, 256, (1, 3, 8, 8, 3), dtype=torch.uint8)
    assert torch.equal(tensor_to_video(video_to_tensor(frames)), frames)


def test_diffusers_autoencoder_kl_plumbing_random_weights(tmp_path) -> None:
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=(8, 16), layers_per_block=1, latent_channels=4, norm_num_groups=8,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        scaling_factor=0.5)
    vae.save_pretrained(tmp_path)
    ae = load_autoencoder(tmp_path)
    assert isinstance(ae, DiffusersAutoencoder)
    assert (ae.latent_channels, ae.spatial_compression, ae.scaling_factor) == (4, 2, 0.5)
    video = torch.rand(1, 3, 3, 16, 16) * 2 - 1
    z = ae.encode(video)
    assert z.shape == (1, 4, 3, 8, 8)
    with torch.no_grad():
        expected = vae.encode(video[:, :, 1]).latent_dist.mode() * 0.5
    torch.testing.assert_close(z[:, :, 1], expected)
    with torch.no_grad():
        decoded = vae.decode(z[:, :, 1] / 0.5).sample
    torch.testing.assert_close(ae.decode(z)[:, :, 1], decoded)


def test_diffusers_autoencoder_tiny_plumbing_random_weights(tmp_path) -> None:
    from diffusers import AutoencoderTiny

    vae = AutoencoderTiny(encoder_block_out_channels=(8, 8, 8), decoder_block_out_channels=(8, 8, 8),
                          num_encoder_blocks=(1, 1, 1), num_decoder_blocks=(1, 1, 1), latent_channels=4)
    vae.save_pretrained(tmp_path)
    ae = load_autoencoder(tmp_path)
    assert (ae.latent_channels, ae.spatial_compression) == (4, 4)
    video = torch.rand(1, 3, 2, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    z = ae.encode(video)
    assert z.shape == (1, 4, 2, 4, 4)
    with torch.no_grad():  # frame by frame through diffusers' own model (scaling factor 1)
        expected = torch.stack([vae.encode(video[:, :, i]).latents for i in range(2)], dim=2)
        torch.testing.assert_close(z, expected)
        decoded = torch.stack([vae.decode(z[:, :, i]).sample for i in range(2)], dim=2)
    torch.testing.assert_close(ae.decode(z), decoded)


def test_unknown_autoencoder_directory_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_autoencoder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKLMochi"}))
    with pytest.raises(ValueError, match="supported"):
        load_autoencoder(tmp_path)
