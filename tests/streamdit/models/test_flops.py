"""Analytic and counted model FLOPs (streamdit.models.flops) agree; meta copies cost no weights."""

import pytest
import torch

from streamdit.models.dit import StreamDiT, StreamDiTConfig
from streamdit.models.flops import forward_flops, measured_flops, peak_flops


@pytest.mark.parametrize("window, batch, text_tokens", [((2, 2, 2), 2, 5), ((4, 4, 4), 1, 7), ((1, 2, 4), 3, 1)])
def test_analytic_forward_flops_equal_the_flop_counter(window, batch, text_tokens):
    config = StreamDiTConfig(in_channels=8, buffer_frames=4, latent_height=8, latent_width=8, hidden_size=48, depth=2,
                             num_heads=2, window_size=window, text_dim=16, mlp_ratio=3.0)
    assert forward_flops(config, text_tokens, batch) == measured_flops(StreamDiT(config), batch, text_tokens)


def test_paper_4b_forward_flops_match_the_parameter_rule_of_thumb():
    config = StreamDiTConfig.preset("paper-4b")
    flops = forward_flops(config, text_tokens=64)
    model = meta_model(config)
    tokens = 16 * 32 * 32
    # 2 FLOPs per parameter per token for the weights every token passes through; the adaLN modulation
    # (6 d^2 a block, a quarter of the 4B) runs once per frame and the text side once per text token
    per_frame_or_text = ["adaLN_modulation", "t_embedder", "text_embedder", "cross_attn.kv"]
    per_token = sum(p.numel() for name, p in model.named_parameters() if not any(k in name for k in per_frame_or_text))
    assert 1.0 < flops / (2 * per_token * tokens) < 1.25  # the rest is attention (windows of 2048 tokens)


def meta_model(config):
    with torch.device("meta"):
        return StreamDiT(config)


def test_random_init_wan_model_flops_are_counted_on_a_meta_copy():
    from diffusers import WanTransformer3DModel

    from streamdit.models.wan import WanStreamDiT

    torch.manual_seed(0)
    wan = WanTransformer3DModel(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=4,
                                out_channels=4, text_dim=16, freq_dim=32, ffn_dim=48, num_layers=2, rope_max_seq_len=64)
    model = WanStreamDiT(wan, buffer_frames=4, latent_height=8, latent_width=8, window_size=(2, 4, 4))
    one, two = measured_flops(model, 1, 5), measured_flops(model, 2, 5)
    assert one > 0 and two == 2 * one
    assert all(p.device.type == "cpu" for p in model.parameters())  # the model itself is untouched


def test_no_peak_is_claimed_for_a_cpu():
    assert peak_flops("cpu") is None
