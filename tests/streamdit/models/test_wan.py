"""The Wan-based StreamDiT (streamdit.models.wan) with tiny randomly initialised Wan configs: plumbing and
equivalence with diffusers' own forward, not trained weights."""

import pytest
import torch
import torch.nn.functional as F
from diffusers import WanTransformer3DModel

from streamdit.loading import load_transformer
from streamdit.models.wan import WanStreamDiT, WindowedWanAttnProcessor, apply_rotary

TINY_WAN = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=4, out_channels=4,
                text_dim=16, freq_dim=32, ffn_dim=48, num_layers=2, rope_max_seq_len=64)


def random_wan(seed: int = 0, **overrides) -> WanTransformer3DModel:
    torch.manual_seed(seed)
    wan = WanTransformer3DModel(**{**TINY_WAN, **overrides}).eval()
    with torch.no_grad():  # diffusers zero-inits nothing here, but make every weight clearly non-trivial
        for p in wan.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return wan


def inputs(frames: int = 4, size: int = 8, batch: int = 2, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 4, frames, size, size, generator=g)
    text = torch.randn(batch, 5, 16, generator=g)
    return x, text


def test_random_init_full_window_and_shared_time_match_diffusers_forward():
    wan = random_wan()
    model = WanStreamDiT(wan, buffer_frames=4, latent_height=8, latent_width=8, window_size=(4, 4, 4))
    x, text = inputs()
    t = torch.tensor([0.3, 0.8])
    with torch.no_grad():
        ours = model(x, t[:, None].expand(2, 4), text)
        # diffusers' own forward with its stock attention and one timestep per sample
        for block in wan.blocks:
            block.attn1.set_processor(type(wan.blocks[0].attn2.processor)())
        reference = wan(x, t * 1000, text, return_dict=False)[0]
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-5)


def test_random_init_per_frame_time_reaches_each_frame():
    model = WanStreamDiT(random_wan(), buffer_frames=4, latent_height=8, latent_width=8, window_size=(1, 4, 4))
    x, text = inputs(batch=1)
    t = torch.tensor([[0.1, 0.4, 0.7, 0.9]])
    moved = t.clone()
    moved[0, 2] = 0.2
    with torch.no_grad():
        a, b = model(x, t, text), model(x, moved, text)
    changed = (a - b).abs().amax(dim=(0, 1, 3, 4))
    # windows of one frame: only the frame whose time changed sees it
    assert changed[2] > 1e-4 and torch.all(changed[[0, 1, 3]] == 0)


def window_ids(grid, window, shift) -> torch.Tensor:
    """Window index of each token after a cyclic shift (reference for the mask)."""
    f, h, w = torch.meshgrid(*(torch.arange(g) for g in grid), indexing="ij")
    coords = [(c - s) % g // win for c, s, g, win in zip((f, h, w), shift, grid, window)]
    counts = [g // win for g, win in zip(grid, window)]
    return ((coords[0] * counts[1] + coords[1]) * counts[2] + coords[2]).flatten()


@pytest.mark.parametrize("shift", [(0, 0, 0), (1, 1, 1)])
def test_random_init_windowed_processor_equals_masked_full_attention(shift):
    wan = random_wan()
    attn = wan.blocks[0].attn1
    grid, window = (4, 4, 4), (2, 2, 2)
    x = torch.randn(2, 64, 24)
    rope = wan.rope(torch.zeros(1, 4, 4, 8, 8))
    with torch.no_grad():
        ours = WindowedWanAttnProcessor(grid, window, shift)(attn, x, rotary_emb=rope)
        q, k, v = (z.unflatten(2, (attn.heads, -1)) for z in (attn.norm_q(attn.to_q(x)), attn.norm_k(attn.to_k(x)), attn.to_v(x)))
        q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        ids = window_ids(grid, window, shift)
        mask = ids[:, None] == ids[None, :]
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
        reference = attn.to_out[0](out.transpose(1, 2).flatten(2, 3))
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-5)


def test_random_init_loads_diffusers_wan_checkpoint_and_round_trips(tmp_path):
    wan = random_wan(seed=3)
    wan.save_pretrained(tmp_path / "Wan2.1-T2V-tiny" / "transformer")
    model = WanStreamDiT.from_wan(tmp_path / "Wan2.1-T2V-tiny", buffer_frames=4, latent_height=8, latent_width=8,
                                  window_size=(2, 4, 4))
    for name, value in wan.state_dict().items():
        torch.testing.assert_close(model.wan.state_dict()[name], value, rtol=0, atol=0)
    assert model.config.hidden_size == 24 and model.config.text_dim == 16 and model.config.depth == 2
    model.save_pretrained(tmp_path / "streamdit")
    loaded = load_transformer(tmp_path / "streamdit")
    assert isinstance(loaded, WanStreamDiT) and loaded.config == model.config
    x, text = inputs()
    t = torch.rand(2, 4)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, t, text), model(x, t, text))


def test_clear_errors_for_wrong_inputs(tmp_path):
    model = WanStreamDiT(random_wan(), buffer_frames=4, latent_height=8, latent_width=8, window_size=(4, 4, 4))
    x, text = inputs()
    with pytest.raises(ValueError, match="per-frame times"):
        model(x, torch.rand(2), text)
    with pytest.raises(ValueError, match="expected latents"):
        model(x[:, :, :2], torch.rand(2, 4), text)
    with pytest.raises(FileNotFoundError, match="WanTransformer3DModel"):
        WanStreamDiT.from_wan(tmp_path, 4, 8, 8, (4, 4, 4))
    with pytest.raises(ValueError, match="I2V"):
        WanStreamDiT(random_wan(image_dim=8, added_kv_proj_dim=24), 4, 8, 8, (4, 4, 4))


def test_random_init_wan_fine_tunes_with_the_trainer_and_streams_from_a_pipeline(text_encoder, tmp_path):
    """Plumbing: --init-from a Wan checkpoint -> Trainer steps -> OUT/final -> a pipeline that streams."""
    import itertools

    from accelerate.state import AcceleratorState

    from streamdit import PipelineConfig, StreamDiTPipeline
    from streamdit.autoencoders.base import PatchAutoencoder
    from streamdit.models.dit import StreamDiTConfig
    from streamdit.training.cli import initial_weights
    from streamdit.training.trainer import TrainConfig, Trainer

    ae = PatchAutoencoder(4)  # 48 latent channels, 8x8 latents for 32x32 video
    wan = random_wan(in_channels=ae.latent_channels, out_channels=ae.latent_channels, text_dim=text_encoder.dim)
    wan.save_pretrained(tmp_path / "wan" / "transformer")
    buffer = StreamDiTConfig(in_channels=ae.latent_channels, buffer_frames=4, latent_height=8, latent_width=8,
                             window_size=(2, 4, 4), text_dim=text_encoder.dim)
    model = initial_weights(tmp_path / "wan", buffer)
    assert isinstance(model, WanStreamDiT) and model.training and model.config.window_size == (2, 4, 4)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    video = torch.zeros(4, 32, 32, 3, dtype=torch.uint8)
    video[:, 8:16, 8:16, 0] = 255
    config = TrainConfig(steps=3, batch_size=2, lr=1e-3, warmup_steps=1, checkpoint_every=100, log_every=1)
    try:
        Trainer(model, ae, text_encoder, itertools.repeat((video, "a red square")), config, tmp_path / "run").train()
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
    final = load_transformer(tmp_path / "run" / "final")
    assert isinstance(final, WanStreamDiT)
    assert any(not torch.equal(final.state_dict()[k], v) for k, v in start.items())  # it trained
    StreamDiTPipeline(final, text_encoder, ae, PipelineConfig(chunk_size=2, micro_steps=1, guidance=2.0)).save_pretrained(tmp_path / "pipe")
    pipe = StreamDiTPipeline.from_pretrained(tmp_path / "pipe", text_encoder=text_encoder)
    assert isinstance(pipe.model, WanStreamDiT)
    assert pipe.generate("a red square", num_frames=8, seed=0).shape == (8, 32, 32, 3)


def test_init_from_a_wan_checkpoint_of_the_wrong_width_is_a_clear_error(tmp_path):
    from streamdit.models.dit import StreamDiTConfig
    from streamdit.training.cli import initial_weights

    random_wan().save_pretrained(tmp_path / "transformer")  # in_channels 4, text_dim 16
    buffer = StreamDiTConfig(in_channels=4, buffer_frames=4, latent_height=8, latent_width=8, window_size=(2, 4, 4),
                             text_dim=384)
    with pytest.raises(ValueError, match="text_dim=16, but the text encoder's width is 384"):
        initial_weights(tmp_path, buffer)
