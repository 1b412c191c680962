"""StreamDiT model: per-frame conditioning, window attention, save/load, parameter count."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from streamdit import StreamDiT, StreamDiTConfig
from streamdit.models.dit import WindowSelfAttention, attention, window_partition, window_reverse

SMALL = dict(in_channels=4, buffer_frames=4, latent_height=8, latent_width=8, patch_size=(1, 2, 2),
             hidden_size=48, depth=2, num_heads=2, window_size=(2, 2, 2), text_dim=16)


def inputs(cfg: StreamDiTConfig, batch: int = 1, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, cfg.in_channels, cfg.buffer_frames, cfg.latent_height, cfg.latent_width, generator=g)
    t = torch.rand(batch, cfg.buffer_frames, generator=g)
    text = torch.randn(batch, 5, cfg.text_dim, generator=g)
    mask = torch.tensor([[True, True, True, False, False]]).expand(batch, -1)
    return x, t, text, mask


def test_adaln_zero_model_outputs_zero_at_init() -> None:
    cfg = StreamDiTConfig(**SMALL)
    out = StreamDiT(cfg)(*inputs(cfg))
    assert out.shape == (1, 4, 4, 8, 8)
    assert torch.count_nonzero(out) == 0


def test_per_frame_time_changes_only_the_tokens_of_that_frame(random_dit) -> None:
    cfg = StreamDiTConfig(**SMALL)
    model = random_dit(cfg)
    captured = []
    model.blocks[0].attn.register_forward_hook(lambda mod, args, out: captured.append(args[0]))
    x, t, text, mask = inputs(cfg)
    t2 = t.clone()
    t2[0, 2] += 0.3
    with torch.no_grad():
        model(x, t, text, mask)
        model(x, t2, text, mask)
    tokens_per_frame = (cfg.latent_height // 2) * (cfg.latent_width // 2)
    diff = (captured[0] - captured[1]).abs().amax(-1).view(cfg.buffer_frames, tokens_per_frame)
    assert (diff[2] > 1e-4).all(), "every token of the changed frame must see the new time"
    assert torch.count_nonzero(diff[[0, 1, 3]]) == 0, "tokens of other frames must not change"


@pytest.mark.parametrize("shift", [(0, 0, 0), (1, 2, 1)])
def test_shifted_windows_put_every_token_back_in_place(shift) -> None:
    grid, window = (4, 8, 6), (2, 4, 3)
    x = torch.randn(2, 3, 4 * 8 * 6, 5)
    parts = window_partition(x, grid, window, shift)
    assert parts.shape == (2 * 2 * 2 * 2, 3, 2 * 4 * 3, 5)
    assert torch.equal(window_reverse(parts, 2, grid, window, shift), x)


def test_window_groups_neighbouring_tokens() -> None:
    grid, window = (4, 4, 4), (2, 2, 2)
    coords = torch.stack(torch.meshgrid(*[torch.arange(g) for g in grid], indexing="ij"), -1).view(1, 1, -1, 3).float()
    for shift in [(0, 0, 0), (1, 1, 1)]:
        parts = window_partition(coords, grid, window, shift)  # (windows, 1, tokens, 3): original coordinates
        start = parts[:, :, :1]
        assert ((parts - start) % torch.tensor(grid) < torch.tensor(window)).all(), "a window is a (cyclic) 2x2x2 block"
        assert len({tuple(c) for c in parts.view(-1, 3).tolist()}) == 64, "every token is in exactly one window"
    unshifted = window_partition(coords, grid, window, (0, 0, 0))
    shifted = window_partition(coords, grid, window, (1, 1, 1))
    assert not torch.equal(unshifted, shifted), "shifted windows group different tokens"


def _full_attention(attn: WindowSelfAttention, x: torch.Tensor, rope) -> torch.Tensor:
    n, length, dim = x.shape
    q, k, v = attn.qkv(x).view(n, length, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k = rope(attn.q_norm(q)), rope(attn.k_norm(k))
    out = F.scaled_dot_product_attention(q, k, v)
    return attn.proj(out.transpose(1, 2).reshape(n, length, dim))


@pytest.mark.parametrize("shifted", [False, True])
def test_window_covering_everything_equals_full_attention(shifted: bool) -> None:
    cfg = StreamDiTConfig(**{**SMALL, "window_size": (99, 99, 99)})
    model = StreamDiT(cfg)
    attn = WindowSelfAttention(cfg, shifted=shifted)
    x = torch.randn(2, 4 * 4 * 4, cfg.hidden_size)
    torch.testing.assert_close(attn(x, model.rope), _full_attention(attn, x, model.rope))


def test_small_windows_differ_from_full_attention() -> None:
    cfg = StreamDiTConfig(**SMALL)
    model = StreamDiT(cfg)
    attn = WindowSelfAttention(cfg, shifted=True)
    x = torch.randn(1, 4 * 4 * 4, cfg.hidden_size)
    assert not torch.allclose(attn(x, model.rope), _full_attention(attn, x, model.rope), atol=1e-4)


# bf16 rounds to 8 significant bits: outputs of unit scale differ by ~1e-2 from an fp32 reference
BF16_ATTENTION_TOLERANCE = 3e-2


@pytest.mark.parametrize("masked", [False, True])
def test_cpu_bf16_attention_matches_torch_sdpa_in_fp32(masked: bool) -> None:
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 4, 512 if name == "q" else 64, 64, generator=g) for name in "qkv")
    mask = torch.rand(2, 1, 1, 64, generator=g) > 0.4 if masked else None
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    low = attention(q.bfloat16(), k.bfloat16(), v.bfloat16(), mask)  # bf16 weights and activations
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), reference, atol=BF16_ATTENTION_TOLERANCE, rtol=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # fp32 weights under bf16 autocast, as in training
        autocast = attention(q, k, v, mask)
    torch.testing.assert_close(autocast.float(), reference, atol=BF16_ATTENTION_TOLERANCE, rtol=0)
    q.requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        attention(q, k, v, mask).float().sum().backward()
    reference_grad, = torch.autograd.grad(F.scaled_dot_product_attention(q, k, v, attn_mask=mask).sum(), q)
    torch.testing.assert_close(q.grad, reference_grad, atol=BF16_ATTENTION_TOLERANCE * 4, rtol=0)


def test_fp32_attention_is_torch_sdpa() -> None:
    q, k, v = (torch.randn(1, 2, 16, 8) for _ in range(3))
    mask = torch.tensor([True] * 10 + [False] * 6)[None, None, None]
    torch.testing.assert_close(attention(q, k, v, mask), F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                               atol=0, rtol=0)


def test_save_load_round_trips_bit_exactly(tmp_path, random_dit) -> None:
    cfg = StreamDiTConfig(**SMALL)
    model = random_dit(cfg)
    model.save_pretrained(tmp_path)
    loaded = StreamDiT.from_pretrained(tmp_path)
    assert loaded.config == cfg
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    with torch.no_grad():
        assert torch.equal(model(*inputs(cfg)), loaded(*inputs(cfg)))


def test_from_pretrained_errors_name_the_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="config.json"):
        StreamDiT.from_pretrained(tmp_path)


def test_bad_shapes_and_configs_are_clear_errors() -> None:
    cfg = StreamDiTConfig(**SMALL)
    model = StreamDiT(cfg)
    x, t, text, mask = inputs(cfg)
    with pytest.raises(ValueError, match="latents of shape"):
        model(x[:, :, :3], t, text, mask)
    with pytest.raises(ValueError, match="per-frame times"):
        model(x, t[:, :3], text, mask)
    with pytest.raises(ValueError, match="divisible"):
        StreamDiTConfig(**{**SMALL, "latent_height": 7})
    with pytest.raises(ValueError, match="unknown preset"):
        StreamDiTConfig.preset("huge")


def test_paper_4b_has_four_billion_parameters_on_meta_device() -> None:
    with torch.device("meta"):
        model = StreamDiT(StreamDiTConfig.preset("paper-4b"))
    count = model.num_parameters()
    assert abs(count - 4.0e9) <= 0.05 * 4.0e9, f"{count / 1e9:.3f}B parameters"
    assert StreamDiTConfig.preset("paper-4b").token_grid == (16, 32, 32)


def test_tiny_preset_batch_of_two_gives_each_sample_its_own_output(random_dit) -> None:
    """A classifier-free-guidance batch (cond and uncond side by side) must not mix its samples."""
    cfg = StreamDiTConfig.preset("tiny")
    model = random_dit(cfg)
    x, t, text, mask = inputs(cfg, batch=2)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False]])
    with torch.no_grad():
        out = model(x, t, text, mask)
        alone = [model(x[i:i + 1], t[i:i + 1], text[i:i + 1], mask[i:i + 1]) for i in range(2)]
    assert out.shape == x.shape
    torch.testing.assert_close(out, torch.cat(alone), rtol=1e-3, atol=1e-4)  # float32 batching differences
    assert not torch.allclose(alone[0], alone[1], atol=1e-3)


def test_sample_prediction_returns_the_velocity_of_the_predicted_clean_frames(random_dit) -> None:
    cfg = StreamDiTConfig(**{**SMALL, "prediction": "sample"})
    model = random_dit(cfg)
    x, t, text, mask = inputs(cfg)
    t = t.clamp_min(0.1)
    with torch.no_grad():
        v = model(x, t, text, mask)
        model.config.prediction = "velocity"
        x0 = model(x, t, text, mask)  # the same network read as a direct output
    torch.testing.assert_close(v, (x - x0) / t[:, None, :, None, None])
    with pytest.raises(ValueError, match="prediction"):
        StreamDiTConfig(**{**SMALL, "prediction": "noise"})


def test_widened_text_input_computes_the_same_function_until_trained(random_dit) -> None:
    cfg = StreamDiTConfig(**SMALL)
    model = random_dit(cfg)
    wider = model.widen_text_input(2 * cfg.text_dim).eval()
    x, t, text, mask = inputs(cfg)
    extra = torch.randn_like(text)  # whatever the new features hold, they carry zero weight at first
    with torch.no_grad():
        assert torch.allclose(model(x, t, text, mask), wider(x, t, torch.cat([text, extra], -1), mask), atol=1e-6)
    assert wider.config.text_dim == 2 * cfg.text_dim and wider.config.depth == cfg.depth
    with pytest.raises(ValueError, match="can only grow"):
        model.widen_text_input(cfg.text_dim - 1)


def test_deepened_model_computes_the_same_function_until_trained(random_dit) -> None:
    cfg = StreamDiTConfig(**SMALL)
    model = random_dit(cfg)
    deeper = model.deepen(cfg.depth + 3).eval()
    x, t, text, mask = inputs(cfg)
    with torch.no_grad():
        torch.testing.assert_close(deeper(x, t, text, mask), model.eval()(x, t, text, mask))
    assert deeper.config.depth == cfg.depth + 3 and deeper.config.text_dim == cfg.text_dim
    for old, new in zip(model.blocks, deeper.blocks):
        assert all(torch.equal(a, b) for a, b in zip(old.state_dict().values(), new.state_dict().values()))
    added = deeper.blocks[cfg.depth:]
    loss = deeper.train()(x, t, text, mask).square().mean()
    loss.backward()  # the added blocks learn: their zero gates get gradients
    assert all(block.adaLN_modulation[-1].weight.grad.abs().sum() > 0 for block in added)
    with pytest.raises(ValueError, match="can only grow"):
        model.deepen(cfg.depth - 1)


def test_gradient_checkpointing_gives_the_same_loss_and_gradients(random_dit) -> None:
    cfg = StreamDiTConfig(**SMALL)
    plain = random_dit(cfg).train()
    checkpointed = random_dit(cfg).train()
    checkpointed.enable_gradient_checkpointing()
    x, t, text, mask = inputs(cfg, batch=2)
    losses, saved = [], []
    for model in (plain, checkpointed):
        count = [0]

        def pack(tensor, count=count):
            count[0] += tensor.numel()
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            loss = model(x, t, text, mask).square().mean()
        loss.backward()
        losses.append(loss.item())
        saved.append(count[0])
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    assert saved[1] < saved[0] / 2  # the blocks' activations were not kept for backward
    for (name, a), b in zip(plain.named_parameters(), checkpointed.parameters()):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-7, msg=name)
