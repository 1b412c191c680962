"""The flow-matching buffer objective and the accelerate Trainer (CPU, tiny models)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from accelerate.state import AcceleratorState
from safetensors.torch import load_file

from streamdit.autoencoders.base import PatchAutoencoder, video_to_tensor
from streamdit.models.dit import StreamDiT, StreamDiTConfig
from streamdit.inference.pipeline import StreamDiTPipeline
from streamdit.models.text import TextEmbedding
from streamdit.training.cli import initial_weights, train_main
from streamdit.training.objectives import drop_text, flow_matching_loss, foreground_loss_weights
from streamdit.training.trainer import TrainConfig, Trainer, latest_checkpoint, weights_digest

CAPTION = "a red square moving right"
OVERFIT_STEPS = 400
OVERFIT_THRESHOLD = 0.3  # eval velocity MSE; untrained: ~1.95, a model that ignores x_t cannot go below ~1


@pytest.fixture(autouse=True)
def one_thread_fresh_accelerator():
    """One thread (the CPU is shared: oversubscribed threads make tiny models 10x slower) and a fresh
    accelerate state per test (its mixed-precision setting is process-global)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    AcceleratorState._reset_state(reset_partial_state=True)


def tiny_config(text_dim: int, ae: PatchAutoencoder, pixels: int = 8) -> StreamDiTConfig:
    return StreamDiTConfig(in_channels=ae.latent_channels, buffer_frames=4, latent_height=pixels // ae.patch_size,
                           latent_width=pixels // ae.patch_size, hidden_size=64, depth=2, num_heads=2,
                           window_size=(4, 8, 8), text_dim=text_dim)


def moving_square(pixels: int = 8, frames: int = 4) -> torch.Tensor:
    """A red square moving one pixel right per frame on black: uint8 (T, H, W, 3)."""
    video = torch.zeros(frames, pixels, pixels, 3, dtype=torch.uint8)
    for i in range(frames):
        video[i, pixels // 4:pixels // 2, i:i + pixels // 2] = torch.tensor([220, 40, 40], dtype=torch.uint8)
    return video


# -- the objective -------------------------------------------------------------------------------------

def test_flow_matching_loss_is_the_velocity_mse_of_a_hand_built_case(text_encoder) -> None:
    ae = PatchAutoencoder(2)
    torch.manual_seed(0)
    model = StreamDiT(tiny_config(text_encoder.dim, ae))
    text = text_encoder.encode([CAPTION, "a blue circle"])
    x0 = torch.full((2, 12, 4, 4, 4), 0.5)
    eps = torch.full_like(x0, -1.5)
    t = torch.tensor([[0.0, 0.25, 0.5, 1.0], [1.0, 0.75, 0.5, 0.0]])
    # an untrained StreamDiT predicts exactly zero (zero-initialised output layer): loss = mean (eps - x0)^2 = 4
    assert flow_matching_loss(model, x0, text, t, eps).item() == pytest.approx(4.0, abs=1e-6)

    for p in model.parameters():  # give every weight a value so the prediction depends on x_t and t
        p.data.normal_(0, 0.1)
    x0, eps = torch.randn(2, 12, 4, 4, 4), torch.randn(2, 12, 4, 4, 4)
    x_t = torch.empty_like(x0)
    for n in range(2):
        for f in range(4):  # frame f of sample n is noised to its own time t[n, f]
            x_t[n, :, f] = (1 - t[n, f]) * x0[n, :, f] + t[n, f] * eps[n, :, f]
    assert torch.equal(x_t[0, :, 0], x0[0, :, 0]) and torch.equal(x_t[0, :, 3], eps[0, :, 3])
    with torch.no_grad():
        expected = ((model(x_t, t, text.tokens, text.mask) - (eps - x0)) ** 2).mean()
        assert flow_matching_loss(model, x0, text, t, eps).item() == pytest.approx(expected.item(), rel=1e-6)


def test_the_weighted_loss_is_the_hand_computed_weighted_mean_of_squared_errors(text_encoder) -> None:
    ae = PatchAutoencoder(2)
    torch.manual_seed(0)
    model = StreamDiT(tiny_config(text_encoder.dim, ae))  # untrained: predicts exactly zero
    text = text_encoder.encode([CAPTION])
    x0, eps, t = torch.zeros(1, 12, 4, 4, 4), torch.ones(1, 12, 4, 4, 4), torch.full((1, 4), 0.5)
    eps[0, :, 0, 0, 0] = 3.0  # one latent pixel (all its channels) with squared error 9, the other 63 with 1
    flags = torch.zeros(1, 1, 4, 4, 4, dtype=torch.bool)
    flags[0, 0, 0, 0, 0] = True
    # weight 10 on the flagged pixel: (10 * 9 + 63 * 1) / (10 + 63)
    weight = foreground_loss_weights(flags, 10.0)
    assert weight.sum().item() == 73.0 and weight[0, 0, 0, 0, 0].item() == 10.0
    assert flow_matching_loss(model, x0, text, t, eps, weight=weight).item() == pytest.approx(153 / 73, rel=1e-6)
    assert flow_matching_loss(model, x0, text, t, eps).item() == pytest.approx((9 + 63) / 64, rel=1e-6)
    assert flow_matching_loss(model, x0, text, t, eps, weight=foreground_loss_weights(flags, 1.0)).item() == \
        pytest.approx((9 + 63) / 64, rel=1e-6)
    # only frames at most max_t noisy: the flagged pixel's frame at t 0.5 keeps its weight at max_t 0.5, not at 0.4
    assert foreground_loss_weights(flags, 10.0, t, max_t=0.5).sum().item() == 73.0
    assert foreground_loss_weights(flags, 10.0, t, max_t=0.4).sum().item() == 64.0
    flags[0, 0, 2, 1, 1] = True  # and one in frame 2, now the only frame at most 0.4 noisy
    weight = foreground_loss_weights(flags, 10.0, torch.tensor([[0.5, 0.9, 0.4, 0.1]]), max_t=0.4)
    assert weight[0, 0, 0, 0, 0].item() == 1.0 and weight[0, 0, 2, 1, 1].item() == 10.0 and weight.sum().item() == 73.0


def test_cond_dropout_swaps_in_the_null_embedding_at_the_configured_rate(text_encoder) -> None:
    null = text_encoder.encode([""])
    text = text_encoder.encode([CAPTION]).repeat(4000)
    out = drop_text(text, null, 0.1, generator=torch.Generator().manual_seed(0))
    is_null = (out.tokens == null.tokens).all(dim=(1, 2)) & (out.mask == null.mask).all(dim=1)
    is_text = (out.tokens == text.tokens).all(dim=(1, 2)) & (out.mask == text.mask).all(dim=1)
    assert bool((is_null ^ is_text).all())  # every row is exactly one of the two
    assert 0.085 < is_null.float().mean().item() < 0.115  # 0.1 +- 3 standard deviations of 4000 draws
    assert torch.equal(drop_text(text, null, 0.0).tokens, text.tokens)
    assert torch.equal(drop_text(text, null, 1.0).tokens, null.tokens.expand_as(text.tokens))


# -- the trainer ---------------------------------------------------------------------------------------

def eval_loss(model: StreamDiT, x0: torch.Tensor, text: TextEmbedding) -> float:
    """Velocity MSE on a fixed batch of 32 noise draws and per-frame times."""
    g = torch.Generator().manual_seed(1)
    x0 = x0.expand(32, -1, -1, -1, -1)
    noise, t = torch.randn(x0.shape, generator=g), torch.rand(32, x0.shape[2], generator=g)
    with torch.no_grad():
        return flow_matching_loss(model, x0, text.repeat(32), t, noise).item()


@pytest.mark.slow
def test_trainer_overfits_one_short_video(text_encoder, tmp_path) -> None:
    ae = PatchAutoencoder(2)
    video = moving_square()
    torch.manual_seed(0)
    model = StreamDiT(tiny_config(text_encoder.dim, ae))
    x0, text = ae.encode(video_to_tensor(video[None])), text_encoder.encode([CAPTION])
    before = eval_loss(model, x0, text)
    config = TrainConfig(steps=OVERFIT_STEPS, batch_size=8, lr=3e-3, warmup_steps=10, cond_dropout=0.0,
                         ema_decay=0.99, log_every=25, checkpoint_every=10_000)
    trainer = Trainer(model, ae, text_encoder, itertools.repeat((video, CAPTION)), config, tmp_path)
    ema = trainer.train()
    after, after_ema = eval_loss(trainer.unwrapped, x0, text), eval_loss(ema, x0, text)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    curve = " ".join(f"{r['step']}:{r['loss']:.3f}" for r in log)
    print(f"eval loss {before:.3f} -> {after:.3f} (EMA {after_ema:.3f}); {log[-1]['steps_per_s']:.1f} steps/s; {curve}")
    assert after < OVERFIT_THRESHOLD and after_ema < OVERFIT_THRESHOLD, curve
    assert [r["step"] for r in log] == list(range(25, OVERFIT_STEPS + 1, 25))
    final = StreamDiT.from_pretrained(tmp_path / "final")  # OUT/final holds the EMA weights
    assert eval_loss(final, x0, text) == pytest.approx(after_ema, rel=1e-6)


def run(tmp_path, steps: int, text_encoder, resume: bool = False, **overrides) -> Trainer:
    ae = PatchAutoencoder(2)
    torch.manual_seed(0)
    model = StreamDiT(tiny_config(text_encoder.dim, ae))
    videos = [(moving_square(), CAPTION), (moving_square().flip(2), "a red square moving left")]
    config = TrainConfig(**{**dict(steps=steps, batch_size=2, lr=1e-3, warmup_steps=2, ema_decay=0.9,
                                   checkpoint_every=2, keep_checkpoints=2, log_every=1), **overrides})
    trainer = Trainer(model, ae, text_encoder, itertools.cycle(videos), config, tmp_path)
    trainer.train(resume=resume)
    return trainer


def test_checkpoint_and_resume_reproduce_an_uninterrupted_run(text_encoder, tmp_path) -> None:
    straight = run(tmp_path / "a", 6, text_encoder)
    assert [p.name for p in sorted((tmp_path / "a" / "checkpoints").iterdir())] == ["step-000004", "step-000006"]

    run(tmp_path / "b", 3, text_encoder)  # stops after step 3 (checkpoints at 2 and 3) ...
    killed_while_saving = tmp_path / "b" / "checkpoints" / "partial-step-000004"
    killed_while_saving.mkdir()
    (killed_while_saving / "model.safetensors").write_bytes(b"cut short")
    assert latest_checkpoint(tmp_path / "b").name == "step-000003"
    with pytest.raises(FileExistsError):
        run(tmp_path / "b", 6, text_encoder)  # ... refuses to overwrite without resume ...
    resumed = run(tmp_path / "b", 6, text_encoder, resume=True)  # ... and continues to step 6
    assert resumed.step == 6
    assert not any(p.name.startswith("partial-") for p in (tmp_path / "b" / "checkpoints").iterdir())
    for a, b in zip(straight.unwrapped.state_dict().values(), resumed.unwrapped.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(straight.ema.shadow_params, resumed.ema.shadow_params):
        assert torch.equal(a, b)
    assert straight.ema.optimization_step == resumed.ema.optimization_step == 6
    opt_a, opt_b = straight.optimizer.state_dict()["state"], resumed.optimizer.state_dict()["state"]
    for key in opt_a:
        assert torch.equal(opt_a[key]["exp_avg_sq"], opt_b[key]["exp_avg_sq"])
    assert straight.scheduler.get_last_lr() == resumed.scheduler.get_last_lr()
    logged = [json.loads(line)["step"] for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert logged == [1, 2, 3, 4, 5, 6]
    ae = PatchAutoencoder(2)
    other = StreamDiT(StreamDiTConfig(**{**tiny_config(text_encoder.dim, ae).to_dict(), "depth": 1}))
    with pytest.raises(ValueError, match="differs"):  # a different model cannot resume these checkpoints
        Trainer(other, ae, text_encoder, [], TrainConfig(steps=8), tmp_path / "b").train(resume=True)


def test_a_compiled_run_takes_the_eager_runs_steps_and_keeps_its_checkpoint_names(text_encoder, tmp_path) -> None:
    eager = run(tmp_path / "eager", 3, text_encoder)
    compiled = run(tmp_path / "compiled", 3, text_encoder, compile=True)
    assert compiled.unwrapped._compiled_call_impl is not None  # its calls go through torch.compile
    for (name, a), b in zip(eager.unwrapped.state_dict().items(), compiled.unwrapped.state_dict().values()):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=name)  # kernels fused differently round differently
    names = [sorted(load_file(latest_checkpoint(tmp_path / d) / "model.safetensors")) for d in ("eager", "compiled")]
    assert names[0] == names[1] and not any("_orig_mod" in n for n in names[1])
    resumed = run(tmp_path / "compiled", 4, text_encoder, resume=True)  # an eager run resumes a compiled one's state
    assert resumed.step == 4
    with pytest.raises(ValueError, match="compile and fsdp"):
        TrainConfig(compile=True, fsdp=True)


def test_bf16_mixed_precision_trains_on_cpu(text_encoder, tmp_path) -> None:
    ae = PatchAutoencoder(2)
    torch.manual_seed(0)
    model = StreamDiT(tiny_config(text_encoder.dim, ae))
    before = weights_digest(model)
    seen = []
    model.blocks[0].attn.qkv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    encoded_under, encode = [], ae.encode  # the frozen encoder's precision: bf16 autocast as well
    ae.encode = lambda video: (encoded_under.append(torch.is_autocast_enabled("cpu")
                                                    and torch.get_autocast_dtype("cpu")), encode(video))[1]
    config = TrainConfig(steps=2, batch_size=2, lr=1e-3, warmup_steps=0, mixed_precision="bf16", log_every=1)
    trainer = Trainer(model, ae, text_encoder, itertools.repeat((moving_square(), CAPTION)), config, tmp_path)
    trainer.train()
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert seen and set(seen) == {torch.bfloat16}  # the forward really ran in bf16
    assert encoded_under == [torch.bfloat16, torch.bfloat16]
    assert all(np.isfinite(r["loss"]) for r in log) and len(log) == 2
    assert weights_digest(trainer.unwrapped) != before
    assert all(p.dtype == torch.float32 for p in trainer.unwrapped.parameters())  # master weights stay fp32


def _learning_rates(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> list[float]:
    rates = []
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    return rates


def test_cooldown_decays_the_learning_rate_linearly_to_zero_at_the_last_step() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = TrainConfig(steps=100, warmup_steps=10, cooldown_steps=20).lr_scheduler(optimizer)
    rates = _learning_rates(scheduler, 100)  # rates[i]: the rate of step i + 1
    assert rates[4] == pytest.approx(0.5) and rates[9] == rates[50] == rates[79] == pytest.approx(1.0)
    assert rates[89] == pytest.approx(0.5) and rates[99] == pytest.approx(0.0)
    constant = TrainConfig(steps=100, warmup_steps=10).lr_scheduler(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0))
    assert _learning_rates(constant, 100)[99] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="cooldown_steps"):
        TrainConfig(steps=100, warmup_steps=10, cooldown_steps=95)
    TrainConfig(steps=1, warmup_steps=500)  # warmup longer than the run, no cooldown: still valid


def test_the_learning_rate_at_every_step_warms_up_linearly_then_stays_or_cools_down() -> None:
    """Hand-computed rates after n scheduler steps (peak 2.0): n / W during a warm-up of W steps, then the peak;
    with a cooldown of D steps in a run of S, (S - n) / D times the peak over the last D steps."""
    def rates(**settings: int) -> list[float]:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2.0)
        return _learning_rates(TrainConfig(**settings).lr_scheduler(optimizer), settings["steps"])

    warm = [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8] + [2.0] * 21  # W = 10, steps 1 .. 30
    assert rates(steps=30, warmup_steps=10) == pytest.approx(warm)
    assert rates(steps=5, warmup_steps=0) == pytest.approx([2.0] * 5)  # no warm-up: the peak from the start
    assert rates(steps=6, warmup_steps=4) == pytest.approx([0.5, 1.0, 1.5, 2.0, 2.0, 2.0])
    cooled = [0.5, 1.0, 1.5] + [2.0] * 8 + [1.6, 1.2, 0.8, 0.4, 0.0]  # W = 4, D = 5, S = 16: steps 1 .. 16
    assert rates(steps=16, warmup_steps=4, cooldown_steps=5) == pytest.approx(cooled)


def test_the_trainer_steps_with_the_warmed_up_learning_rate(text_encoder, tmp_path) -> None:
    """The rate the trainer logs after each of its steps: peak 1e-3 reached after a warm-up of 4 steps."""
    run(tmp_path, 6, text_encoder, warmup_steps=4)
    logged = [json.loads(line)["lr"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert logged == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])


def test_the_last_step_is_logged_even_off_the_logging_interval(text_encoder, tmp_path) -> None:
    run(tmp_path, 5, text_encoder, log_every=2, checkpoint_every=10)
    logged = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert logged == [2, 4, 5]


def test_the_trainer_mixes_every_chunk_size_dividing_the_buffer_and_drops_the_text(text_encoder, tmp_path) -> None:
    """chunk_sizes=None: chunk sizes 1, 2 and 4 of a buffer of 4 (4: one chunk, one noise level for the whole
    buffer); cond_dropout=1: the model sees the empty prompt's embedding, 0: the caption's."""
    ae = PatchAutoencoder(2)
    model = StreamDiT(tiny_config(text_encoder.dim, ae))
    trainer = Trainer(model, ae, text_encoder, [], TrainConfig(steps=1, cond_dropout=1.0), tmp_path)
    sizes, t = trainer.time_sampler.sample(300, generator=torch.Generator().manual_seed(0))
    assert set(sizes.tolist()) == {1, 2, 4}
    assert torch.all(t[sizes == 4] == t[sizes == 4][:, :1])  # a single chunk: one time for every frame
    seen = []
    trainer.unwrapped.register_forward_pre_hook(lambda module, args: seen.append(args[2]))
    caption, empty = text_encoder.encode([CAPTION]), text_encoder.encode([""])
    latents = torch.randn(3, ae.latent_channels, 4, 4, 4)
    trainer.compute_loss(latents, caption.repeat(3))
    assert torch.equal(seen[-1], empty.tokens.expand(3, -1, -1))
    trainer.config.cond_dropout = 0.0
    trainer.compute_loss(latents, caption.repeat(3))
    assert torch.equal(seen[-1], caption.tokens.expand(3, -1, -1))
    two = Trainer(model, ae, text_encoder, [], TrainConfig(steps=1, chunk_sizes=(1, 2)), tmp_path / "two")
    assert set(two.time_sampler.sample(100)[0].tolist()) == {1, 2}


def test_ema_weights_are_the_hand_computed_moving_average_of_the_steps(text_encoder, tmp_path) -> None:
    """diffusers' EMAModel without its power warm-up (training_utils.EMAModel.get_decay and step): at the
    n-th step the shadow becomes d_n * shadow + (1 - d_n) * weights, with d_1 = 0 (the first step's weights)
    and d_n = min((1 + (n - 1)) / (10 + (n - 1)), ema_decay). With ema_decay 0.2: d_2 = 2/11 (the ramp),
    then 0.2 (the cap)."""
    ae = PatchAutoencoder(2)
    torch.manual_seed(0)
    model = StreamDiT(tiny_config(text_encoder.dim, ae))
    config = TrainConfig(steps=5, batch_size=2, lr=1e-2, warmup_steps=0, ema_decay=0.2, cond_dropout=0.0)
    trainer = Trainer(model, ae, text_encoder, [], config, tmp_path)
    videos = torch.stack([moving_square(), moving_square().flip(2)])
    expected = [p.detach().clone() for p in trainer.unwrapped.parameters()]
    decays = [0.0, 2 / 11, 0.2, 0.2, 0.2]
    for decay in decays:
        trainer.train_step(videos, [CAPTION, "a red square moving left"])
        weights = [p.detach().clone() for p in trainer.unwrapped.parameters()]
        expected = [decay * e + (1 - decay) * w for e, w in zip(expected, weights)]
    assert max((e - w).abs().max().item() for e, w in zip(expected, weights)) > 1e-3  # an average, not the last step
    ema = trainer.save_final()
    saved = StreamDiT.from_pretrained(tmp_path / "final")
    for (name, a), b, e in zip(ema.named_parameters(), saved.parameters(), expected):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-6, msg=name)
        assert torch.equal(a, b), name


def test_a_resumed_run_can_add_a_cooldown_at_the_position_it_reached() -> None:
    """Scheduler state from a constant-rate run loads into a cooldown schedule and continues from its step."""
    first = TrainConfig(steps=100, warmup_steps=10)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = first.lr_scheduler(optimizer)
    _learning_rates(scheduler, 60)
    state = scheduler.state_dict()
    resumed = TrainConfig(steps=120, warmup_steps=10, cooldown_steps=40)
    scheduler = resumed.lr_scheduler(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0))
    scheduler.load_state_dict(state)
    rates = _learning_rates(scheduler, 60)  # steps 61 .. 120
    assert rates[19] == pytest.approx(1.0) and rates[39] == pytest.approx(0.5) and rates[59] == pytest.approx(0.0)


def test_trainer_rejects_clips_of_the_wrong_shape(text_encoder, tmp_path) -> None:
    ae = PatchAutoencoder(2)
    model = StreamDiT(tiny_config(text_encoder.dim, ae))
    data = itertools.repeat((moving_square(pixels=16), CAPTION))
    trainer = Trainer(model, ae, text_encoder, data, TrainConfig(steps=1, batch_size=1), tmp_path)
    with pytest.raises(ValueError, match=r"\(4, 8, 8, 3\)"):
        trainer.train()


def test_cli_help_lists_the_options(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train_main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--config", "--data", "--out", "--steps", "--batch-size", "--lr", "--mixed-precision",
                   "--chunk-sizes", "--resume", "--cooldown-steps", "--sample-shift", "--autoencoder", "--text-encoder", "--seed",
                   "--init-from", "--text-layers"):
        assert option in text


def test_init_from_loads_a_pipelines_weights_widens_the_text_input_and_adds_blocks(tmp_path) -> None:
    ae = PatchAutoencoder(4)
    source = StreamDiT(tiny_config(16, ae))
    source.save_pretrained(tmp_path / "pipeline" / "transformer")
    same = initial_weights(tmp_path / "pipeline", source.config)
    assert same.training and all(torch.equal(a, b) for a, b in zip(source.state_dict().values(),
                                                                    same.state_dict().values()))
    wider = initial_weights(tmp_path / "pipeline" / "transformer", tiny_config(32, ae))
    assert wider.text_embedder.tokens[0].weight.shape == (64, 32)
    assert torch.equal(wider.text_embedder.tokens[0].weight[:, :16], source.text_embedder.tokens[0].weight)
    assert torch.count_nonzero(wider.text_embedder.tokens[0].weight[:, 16:]) == 0
    deeper = initial_weights(tmp_path / "pipeline", StreamDiTConfig.from_dict({**source.config.to_dict(), "depth": 3}))
    assert len(deeper.blocks) == 3 and torch.equal(deeper.blocks[1].mlp[0].weight, source.blocks[1].mlp[0].weight)
    other = StreamDiTConfig.from_dict({**tiny_config(16, ae).to_dict(), "hidden_size": 32})
    with pytest.raises(ValueError, match="differs from --config in hidden_size"):
        initial_weights(tmp_path / "pipeline", other)


def test_a_model_trained_on_world_v2_says_so_in_its_pipeline_plumbing_random_weights(tmp_path) -> None:
    import json

    config = tiny_config(384, PatchAutoencoder(4), pixels=16).to_dict()
    (tmp_path / "config.json").write_text(json.dumps({**config, "patch_size": [1, 1, 1]}))
    assert train_main(["--out", str(tmp_path / "run"), "--config", str(tmp_path / "config.json"), "--data",
                       "synthetic-v2", "--autoencoder", "patch:4", "--steps", "1", "--batch-size", "1",
                       "--num-workers", "0", "--sample-chunk-size", "1", "--cpu"]) == 0
    settings = json.loads((tmp_path / "run" / "pipeline" / "pipeline.json").read_text())
    assert (settings["world"], settings["text_max_tokens"]) == ("v2", 64)  # its captions run to ~50 tokens
    pipe = StreamDiTPipeline.from_pretrained(tmp_path / "run" / "pipeline")
    assert pipe.text_encoder.encode(["a " * 60]).mask.shape == (1, 64)
