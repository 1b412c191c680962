"""Autoencoders between RGB video and the latents the model denoises: the protocol and its implementations
(each registered by class name in :data:`streamdit.loading.COMPONENTS`)."""

from streamdit.autoencoders.base import (Autoencoder, DiffusersAutoencoder, PatchAutoencoder, tensor_to_video,
                                         video_to_tensor)
from streamdit.autoencoders.tiny_vae import TinyVideoAutoencoder
from streamdit.autoencoders.video_autoencoder import VideoAutoencoder, VideoAutoencoderConfig
from streamdit.autoencoders.wan_vae import WanVideoAutoencoder

__all__ = ["Autoencoder", "DiffusersAutoencoder", "PatchAutoencoder", "TinyVideoAutoencoder", "VideoAutoencoder",
           "VideoAutoencoderConfig", "WanVideoAutoencoder", "tensor_to_video", "video_to_tensor"]
