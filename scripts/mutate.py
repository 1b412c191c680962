"""A small mutation run over the core modules: plausible one-line bugs, planted one at a time.

Each mutant is a (file, old, new) edit of one line. The tracked and untracked (not ignored) files of the
repository are copied once to a temporary folder; for each mutant the edit is applied there, only the
test files that cover that module are run (``pytest -x``), and the file is restored. A mutant is *caught*
when the tests fail (or time out), *survives* when they pass. The sources in the checkout are never
touched. Before the mutants, every test group is run once unmutated: a group that fails there would
catch every mutant, so the run stops.

    python scripts/mutate.py                 # all mutants, then the share caught and the survivors
    python scripts/mutate.py --only schedule # mutants whose file or name contains "schedule"
    python scripts/mutate.py --show NAME     # one mutant, with pytest's output (to see what catches it)
    python scripts/mutate.py --list

``make mutate`` runs it. A mutant whose ``old`` text is not found exactly once is an error (the list is
stale after an edit of the source): fix the list rather than skipping it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# test files (and pytest -k filters) that cover each module; slow or unrelated tests left out
SAMPLING = ("tests/streamdit/inference/test_schedule.py", "tests/streamdit/inference/test_sampler_autoregressive.py")
PIPELINE = ("tests/streamdit/inference/test_pipeline.py", "-k", "not compiled")
STEER = ("tests/streamdit/inference/test_steer.py",)
DISTILL = ("tests/streamdit/training/test_distillation.py",
           "tests/streamdit/training/test_distillation_training.py::"
           "test_teacher_velocity_is_uncond_plus_guidance_times_cond_minus_uncond_random_teacher")
FRECHET = ("tests/eval/test_frechet.py",)
FRAMES = ("tests/eval/test_frame_metrics.py", "tests/eval/test_motion.py")
KVD = ("tests/eval/test_fvd.py", "-k", "kvd")
BOOTSTRAP = ("tests/eval/test_report_bench.py", "-k", "bootstrap")
HE_STATS = ("tests/human_eval/test_he_aggregate.py",)
HE_STORE = ("tests/human_eval/test_he_store.py",)
DIT = ("tests/streamdit/models/test_model.py", "tests/streamdit/models/test_dit_reference.py")
LOADING = ("tests/streamdit/test_loading.py",)
TRAINER = ("tests/streamdit/training/test_training.py", "-m", "not slow")
CLIP_PRE = ("tests/eval/test_clip_dino.py", "-k", "open_clips_own_eval_transform or dino_transform")
DOWNLOAD = ("tests/eval/test_download.py",)
MOTION = ("tests/streamdit/autoencoders/test_video_autoencoder.py",)
BATCH = ("tests/streamdit/inference/test_stream_batch.py",)
LIVE = ("tests/demo/test_live.py",)
METRICS = ("tests/demo/test_metrics.py",)
LATENT_CACHE = ("tests/streamdit/training/test_latent_cache.py",)
WAITING = ("tests/demo/test_page_parts.py", "-k", "waiting_line")
HE_SERVER = ("tests/human_eval/test_he_server.py",)
TEXT_LIMIT = ("tests/streamdit/models/test_text.py", "tests/streamdit/training/test_training.py", "-k",
              "cut or world_v2")


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    equivalent: str = ""  # why no test can tell this mutant from the original, if so


M = Mutant
MUTANTS = [
    # -- schedule -----------------------------------------------------------------------------------
    M("shift_time: shift on the denominator's other side", "streamdit/inference/schedule.py",
      "return shift * u / (1.0 + (shift - 1.0) * u)", "return shift * u / (1.0 + (shift + 1.0) * u)", SAMPLING),
    M("time_grid: one point short", "streamdit/inference/schedule.py",
      "torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)",
      "torch.linspace(1.0, 0.0, num_steps, dtype=torch.float64)", SAMPLING),
    M("total_steps: K + s", "streamdit/inference/schedule.py",
      "return self.num_chunks * self.micro_steps", "return self.num_chunks + self.micro_steps", SAMPLING),
    M("chunk_indices: front chunk noisiest", "streamdit/inference/schedule.py",
      "return (K - 1 - torch.arange(K)) * s + micro_step", "return torch.arange(K) * s + micro_step", SAMPLING),
    M("warmup_steps: K * s", "streamdit/inference/schedule.py",
      "return (self.scheme.num_chunks - 1) * self.scheme.micro_steps",
      "return self.scheme.num_chunks * self.scheme.micro_steps", SAMPLING),
    M("steady_indices: a step of two", "streamdit/inference/schedule.py",
      "return current, current + 1", "return current, current + 2", SAMPLING),
    M("step_times: floor not applied to t_next", "streamdit/inference/schedule.py",
      "current, nxt = torch.maximum(current, floor), torch.maximum(nxt, floor)",
      "current, nxt = torch.maximum(current, floor), nxt", SAMPLING),
    M("step_times: floor not applied to t", "streamdit/inference/schedule.py",
      "current, nxt = torch.maximum(current, floor), torch.maximum(nxt, floor)",
      "current, nxt = current, torch.maximum(nxt, floor)", SAMPLING),
    M("index_for_time: the grid point above t", "streamdit/inference/schedule.py",
      "return int((self.grid <= t + 1e-12).nonzero()[0])", "return int((self.grid <= t + 1e-12).nonzero()[0]) - 1",
      SAMPLING + ("tests/streamdit/inference/test_pipeline.py", "-k", "video")),
    M("mixed sampler: one draw per frame, not per chunk", "streamdit/inference/schedule.py",
      "per_chunk = u[i, ::c].repeat_interleave(c)", "per_chunk = u[i]", SAMPLING),
    M("mixed sampler: bands not shifted", "streamdit/inference/schedule.py",
      "times[i] = shift_time((band + per_chunk) / K, self.shift)", "times[i] = (band + per_chunk) / K", SAMPLING),
    M("mixed sampler: front chunk noisiest", "streamdit/inference/schedule.py",
      "band = torch.arange(K, dtype=torch.float64).repeat_interleave(c)",
      "band = torch.arange(K - 1, -1, -1, dtype=torch.float64).repeat_interleave(c)", SAMPLING),
    # -- sampler ------------------------------------------------------------------------------------
    M("euler_step: dt reversed", "streamdit/inference/sampler.py",
      "dt = (t_next - t).to(x.dtype).view(1, 1, -1, 1, 1)", "dt = (t - t_next).to(x.dtype).view(1, 1, -1, 1, 1)",
      SAMPLING),
    M("warm-up: captures one step late", "streamdit/inference/sampler.py",
      "for k in schedule.warmup_captures(m + 1):", "for k in schedule.warmup_captures(m + 2):", SAMPLING),
    M("warm-up: buffer not reset to the captures", "streamdit/inference/sampler.py",
      "    x = start\n", "    x = x\n", SAMPLING),
    M("steady state: one micro-step per chunk", "streamdit/inference/sampler.py",
      "for j in range(sched.micro_steps):", "for j in range(1):", SAMPLING),
    M("flush: emits the padding", "streamdit/inference/sampler.py",
      "        if live[0]:\n", "        if True:\n", SAMPLING,
      equivalent="the loop returns once no live chunk is left behind the front, so the front is always live "
                 "when a chunk is emitted"),
    M("entering chunk keeps the leaving chunk's floor", "streamdit/inference/sampler.py",
      "floor = torch.cat([floor[c:], torch.full((c,), new.floor)])",
      "floor = torch.cat([floor[c:], floor[:c]])", SAMPLING),
    M("tags not shifted", "streamdit/inference/sampler.py", "tags = tags[1:] + [new.tag]", "tags = tags", SAMPLING),
    M("steer refresh: frames not noised back", "streamdit/inference/sampler.py",
      "grid, current = schedule.grid, torch.clamp(levels, max=refresh.index)",
      "grid, current = schedule.grid, torch.clamp(levels, min=refresh.index)", STEER),
    M("steer refresh: the buffer keeps its old tags", "streamdit/inference/sampler.py",
      "            tags = [new.tag] * K\n", "", STEER),
    M("steer refresh: renoise without the missing noise", "streamdit/inference/sampler.py",
      "return scale.view(view) * x + sigma.view(view) * noise", "return scale.view(view) * x", STEER),
    M("autoregressive: context not clean", "streamdit/inference/sampler.py",
      "clean = torch.zeros(B - c, dtype=grid.dtype)", "clean = torch.full((B - c,), float(grid[-2]), dtype=grid.dtype)",
      SAMPLING),
    M("autoregressive: emits the front chunk", "streamdit/inference/sampler.py",
      "yield EmittedChunk(x[:, :, B - c:], new.tag)", "yield EmittedChunk(x[:, :, :c], new.tag)", SAMPLING),
    # -- pipeline -----------------------------------------------------------------------------------
    M("guidance: cond + w (cond - uncond)", "streamdit/inference/sampler.py",
      "return uncond + guidance * (cond - uncond)", "return cond + guidance * (cond - uncond)", PIPELINE),
    M("guidance: halves swapped", "streamdit/inference/sampler.py",
      "cond, uncond = model(torch.cat([x, x]), torch.cat([t, t]), both.tokens, both.mask).chunk(2)",
      "uncond, cond = model(torch.cat([x, x]), torch.cat([t, t]), both.tokens, both.mask).chunk(2)", PIPELINE),
    M("guidance interval: the cleaner frames guided", "streamdit/inference/sampler.py",
      "scale = torch.where(t >= min_t, guidance, 1.0)", "scale = torch.where(t >= min_t, guidance, guidance)", PIPELINE),
    M("guidance 0: null prompt still encoded and used", "streamdit/inference/sampler.py",
      "if not guidance or null is None:", "if null is None:", PIPELINE),
    M("v2v: input and noise weights swapped", "streamdit/inference/pipeline.py",
      "return EnteringChunk((1 - t) * latents + t * noise, floor=floor, tag=self.prompt_version, refresh=refresh)",
      "return EnteringChunk(t * latents + (1 - t) * noise, floor=floor, tag=self.prompt_version, refresh=refresh)", PIPELINE),
    M("v2v: entering at floor 0", "streamdit/inference/pipeline.py",
      "return EnteringChunk((1 - t) * latents + t * noise, floor=floor, tag=self.prompt_version, refresh=refresh)",
      "return EnteringChunk((1 - t) * latents + t * noise, floor=0, tag=self.prompt_version, refresh=refresh)", PIPELINE),
    M("v2v: a short last chunk accepted", "streamdit/inference/pipeline.py",
      "if len(frames) < pipe.frames_per_chunk:", "if not frames:", PIPELINE),
    M("set_prompt: embedding not switched", "streamdit/inference/pipeline.py",
      "self._text = self.pipe.encode_prompt(prompt)\n        self.prompt = prompt",
      "self.prompt = prompt", PIPELINE),
    M("generate: one chunk short", "streamdit/inference/pipeline.py",
      "chunks_needed = -(-num_frames // self.frames_per_chunk)", "chunks_needed = num_frames // self.frames_per_chunk",
      PIPELINE),
    M("first_chunk_s: measured from the wrong clock", "streamdit/inference/pipeline.py",
      "self.stats.first_chunk_s = time.perf_counter() - self.stats.started", "self.stats.first_chunk_s = time.perf_counter()",
      PIPELINE),
    # -- distillation -------------------------------------------------------------------------------
    M("segment_states: steady segment one step long", "streamdit/training/objectives.py",
      "states = [(steady, steady + s)]", "states = [(steady, steady + 1)]", DISTILL),
    M("segment_states: start-up segments skipped", "streamdit/training/objectives.py",
      "for m in range(0, teacher.warmup_steps, s):", "for m in range(s, teacher.warmup_steps, s):", DISTILL),
    M("teacher_segment: one micro-step short", "streamdit/training/objectives.py",
      "for _ in range(int((end - start).max())):", "for _ in range(int((end - start).max()) - 1):", DISTILL),
    M("noised_buffer: weights swapped", "streamdit/training/objectives.py",
      "return (1 - t) * latents + t * noise", "return t * latents + (1 - t) * noise", DISTILL),
    M("rollout: noise enters at the front", "streamdit/training/objectives.py",
      "x = torch.cat([x[:, :, c:], torch.randn_like(x[:, :, :c])], dim=2)",
      "x = torch.cat([torch.randn_like(x[:, :, :c]), x[:, :, c:]], dim=2)", DISTILL),
    M("loss: target velocity sign", "streamdit/training/objectives.py",
      "target_v = (target_x - x)[:, :, moving] / dt[moving].view(1, 1, -1, 1, 1)",
      "target_v = (x - target_x)[:, :, moving] / dt[moving].view(1, 1, -1, 1, 1)", DISTILL),
    M("loss: waiting frames kept", "streamdit/training/objectives.py", "moving = end > start", "moving = end >= start",
      DISTILL),
    M("loss: dt weight ignores the power", "streamdit/training/objectives.py",
      "weight = dt[moving].abs().float() ** dt_power", "weight = dt[moving].abs().float()", DISTILL),
    # -- eval metrics -------------------------------------------------------------------------------
    M("FD: covariance divided by N - 1", "eval/frechet.py",
      "torch.cov(x.T, correction=0)", "torch.cov(x.T, correction=1)", FRECHET),
    M("FD: negative values not clamped", "eval/frechet.py", ".clamp_min(0.0))", ")", FRECHET),
    M("FD: second set's covariance used twice", "eval/frechet.py",
      "return frechet_distance_from_moments(mu_a, sigma_a, mu_b, sigma_b)",
      "return frechet_distance_from_moments(mu_a, sigma_b, mu_b, sigma_b)", FRECHET),
    M("KVD: quadratic kernel", "eval/kvd.py", "b = (x @ y.T / d + 1) ** 3", "b = (x @ y.T / d + 1) ** 2", KVD),
    M("KVD: biased (diagonal kept)", "eval/kvd.py",
      "total += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m", "total += a.sum() / (m - 1) - b.sum() * 2 / m",
      KVD),
    M("flicker: signed differences", "eval/consistency.py",
      "values.append(np.abs(np.subtract(frame, previous, dtype=np.int16)).mean(dtype=np.float64))",
      "values.append(np.subtract(frame, previous, dtype=np.int16).mean(dtype=np.float64))", FRAMES),
    M("seam: boundaries one frame early", "eval/consistency.py",
      "boundary[chunk_size - 1::chunk_size] = True", "boundary[chunk_size - 2::chunk_size] = True", FRAMES),
    M("seam: ratio inverted", "eval/consistency.py", "return float(across / within)", "return float(within / across)",
      FRAMES),
    M("VBench consistency: first-frame term dropped", "eval/consistency.py",
      "return float(np.mean((to_first + to_prev) / 2))", "return float(np.mean(to_prev))", FRAMES),
    M("frozen share: any change counts as frozen", "eval/motion.py",
      "return float(np.mean(diffs == 0))", "return float(np.mean(diffs <= 1))", FRAMES),
    M("bootstrap: interval at 90%", "eval/stats.py", "confidence_level=confidence,", "confidence_level=0.9,",
      BOOTSTRAP),
    # -- human_eval stats and store -----------------------------------------------------------------
    M("Wilson interval ignores the level", "human_eval/stats.py",
      "proportion_ci(confidence_level=level, method=\"wilson\")", "proportion_ci(confidence_level=0.95, method=\"wilson\")",
      HE_STATS),
    M("sign test one-sided", "human_eval/stats.py", "alternative=\"two-sided\"", "alternative=\"greater\"", HE_STATS),
    M("Holm replaced by Bonferroni", "human_eval/stats.py", "method=\"holm\"", "method=\"bonferroni\"", HE_STATS),
    M("Elo: base e instead of 10", "human_eval/stats.py", "ELO_SCALE = 400 / np.log(10)", "ELO_SCALE = 400",
      HE_STATS),
    M("ties not split half and half", "human_eval/stats.py",
      "wins = counts[..., 0] + 0.5 * counts[..., 1]", "wins = counts[..., 0]", HE_STATS),
    M("BT Newton: gradient sign", "human_eval/stats.py",
      "step = np.clip(np.linalg.solve(hessian, -grad[..., None])[..., 0], -5, 5)",
      "step = np.clip(np.linalg.solve(hessian, grad[..., None])[..., 0], -5, 5)", HE_STATS),
    M("few-cluster factor: G instead of G - 1 degrees of freedom", "human_eval/stats.py",
      "stats.t.ppf(q, effective - 1)", "stats.t.ppf(q, effective)", HE_STATS),
    M("ranking: a 90% interval labelled 95%", "human_eval/aggregate.py",
      "quantiles = [(1 - level) / 2, (1 + level) / 2]", "quantiles = [0.05, 0.95]", HE_STATS),
    M("ranking: clusters not widened", "human_eval/aggregate.py",
      "boot = theta + stats.few_clusters_factor(per_cluster.sum(axis=(1, 2, 3)), level) * (boot - theta)",
      "boot = boot", HE_STATS),
    M("store: answers not canonical", "human_eval/store.py",
      "payload = json.dumps(answers, sort_keys=True)", "payload = json.dumps(answers)", HE_STORE),
    M("store: a conflict taken for a duplicate", "human_eval/store.py",
      "return \"duplicate\" if tuple(rows[0]) == (assignment_id, payload, comment) else \"conflict\"",
      "return \"duplicate\"", HE_STORE),
    # -- DiT ----------------------------------------------------------------------------------------
    M("DiT: MLP modulated with the attention's shift and scale", "streamdit/models/dit.py",
      "h = modulate(per_frame(self.norm3(x)), shift_mlp, scale_mlp)",
      "h = modulate(per_frame(self.norm3(x)), shift_msa, scale_msa)", DIT),
    M("DiT: attention gated by the MLP's gate", "streamdit/models/dit.py",
      "x = x + (gate_msa * per_frame(self.attn(h, rope))).view(n, length, dim)",
      "x = x + (gate_mlp * per_frame(self.attn(h, rope))).view(n, length, dim)", DIT),
    M("DiT: modulate without the 1 +", "streamdit/models/dit.py",
      "return x * (1 + scale) + shift", "return x * scale + shift", DIT),
    M("DiT: cross-attention ignores the text mask", "streamdit/models/dit.py",
      "out = attention(q, self.k_norm(k), v, mask[:, None, None, :])", "out = attention(q, self.k_norm(k), v)", DIT),
    M("DiT: CPU low-precision attention without the 1/sqrt(d) scale", "streamdit/models/dit.py",
      "scores = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5", "scores = q @ k.transpose(-1, -2)", DIT),
    M("DiT: CPU low-precision attention keeps the masked keys", "streamdit/models/dit.py",
      "scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)",
      "scores = scores.masked_fill(mask, torch.finfo(scores.dtype).min)", DIT),
    M("DiT: pooled text averages the padding too", "streamdit/models/dit.py",
      "weights = mask.to(text.dtype)[..., None]", "weights = torch.ones_like(mask, dtype=text.dtype)[..., None]", DIT),
    M("DiT: time not scaled by 1000", "streamdit/models/dit.py",
      "args = (t.float() * 1000.0)[..., None] * freqs", "args = t.float()[..., None] * freqs", DIT),
    M("DiT: RoPE rotates the wrong way for one half", "streamdit/models/dit.py",
      "out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)",
      "out = torch.stack([x1 * cos + x2 * sin, x1 * sin + x2 * cos], dim=-1)", DIT),
    M("DiT: keys not rotated", "streamdit/models/dit.py",
      "q, k = rope(self.q_norm(q)), rope(self.k_norm(k))", "q, k = rope(self.q_norm(q)), self.k_norm(k)", DIT),
    M("DiT: the even blocks' windows shifted", "streamdit/models/dit.py",
      "DiTBlock(cfg, shifted=i % 2 == 1)", "DiTBlock(cfg, shifted=i % 2 == 0)", DIT),
    M("DiT: window_reverse rolls the wrong way", "streamdit/models/dit.py",
      "x = torch.roll(x, shifts=shift, dims=(2, 3, 4))", "x = torch.roll(x, shifts=tuple(-s for s in shift), dims=(2, 3, 4))",
      DIT),
    M("DiT: final layer's shift and scale swapped", "streamdit/models/dit.py",
      "shift, scale = self.adaLN_modulation(c)[:, :, None].chunk(2, -1)",
      "scale, shift = self.adaLN_modulation(c)[:, :, None].chunk(2, -1)", DIT),
    M("DiT: unpatchify swaps a patch's rows and columns", "streamdit/models/dit.py",
      "x.permute(0, 7, 1, 4, 2, 5, 3, 6)", "x.permute(0, 7, 1, 4, 2, 6, 3, 5)", DIT),
    M("DiT: pooled text left out of the conditioning", "streamdit/models/dit.py",
      "return self.t_embedder(t_tokens) + pooled_text[:, None]", "return self.t_embedder(t_tokens)", DIT),
    M("DiT: cross-attention reads the un-normalised tokens", "streamdit/models/dit.py",
      "x = x + self.cross_attn(self.norm2(x), text, mask)", "x = x + self.cross_attn(x, text, mask)", DIT),
    M("DiT: sinusoid halves swapped", "streamdit/models/dit.py",
      "return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)",
      "return torch.cat([torch.sin(args), torch.cos(args)], dim=-1)", DIT),
    M("DiT: x0 turned into the velocity with the sign reversed", "streamdit/models/dit.py",
      "return (x - out) / t.clamp_min(SAMPLE_PREDICTION_MIN_TIME)", "return (out - x) / t.clamp_min(SAMPLE_PREDICTION_MIN_TIME)",
      DIT),
    # -- loading ------------------------------------------------------------------------------------
    M("loading: the index's folder ignored", "streamdit/loading.py",
      "components[role] = (entry[0], entry[1])", "components[role] = (entry[0], role)", LOADING),
    M("loading: diffusers class names not translated", "streamdit/loading.py",
      "name = FOREIGN_CLASS_NAMES.get(config[\"_class_name\"], config[\"_class_name\"])",
      "name = config[\"_class_name\"]", LOADING + ("tests/streamdit/models/test_wan.py",)),
    M("loading: a pipeline directory taken for the model folder", "streamdit/loading.py",
      "return directory / read_model_index(directory)[\"transformer\"][1]",
      "return directory", LOADING + ("tests/streamdit/training/test_training.py", "-m", "not slow")),
    M("loading: the index names the class twice", "streamdit/loading.py",
      "**{role: [name, folder] for role, (name, folder) in components.items()}",
      "**{role: [name, name] for role, (name, folder) in components.items()}", LOADING),
    M("loading: an index may name any folder", "streamdit/loading.py",
      "if not (is_inside(entry[1]) or is_shared(entry[1])):", "if False:", LOADING),
    M("loading: sharing keeps copies that differ from the shared one", "streamdit/loading.py",
      "        if differing:\n            raise", "        if differing and False:\n            raise", LOADING),
    M("loading: a component of the other role accepted", "streamdit/loading.py",
      "if COMPONENTS[name][0] != role:", "if COMPONENTS[name][0] != role and False:", LOADING),
    M("loading: the old-style autoencoder type not recognised", "streamdit/loading.py",
      "if \"type\" in config:", "if \"type\" in config and False:", LOADING),
    # -- trainer ------------------------------------------------------------------------------------
    M("latent cache: every shard from the same data seed", "streamdit/training/latent_cache.py",
      "samples = iter(data(shard_seed(seed, shard)))", "samples = iter(data(seed))", LATENT_CACHE),
    M("latent cache: the stream repeats one order every epoch", "streamdit/training/latent_cache.py",
      "        rng = np.random.default_rng(seed)\n        while True:\n",
      "        while True:\n            rng = np.random.default_rng(seed)\n", LATENT_CACHE),
    M("latent cache: another autoencoder's latents accepted", "streamdit/training/cli.py",
      "if autoencoder is not None and not cache.encoded_by(autoencoder):",
      "if autoencoder is None and not cache.encoded_by(autoencoder):", LATENT_CACHE),
    M("latent cache: a decoder fine-tune invalidates the cache", "streamdit/autoencoders/video_autoencoder.py",
      "for name, p in self.encoder.state_dict().items()}", "for name, p in self.state_dict().items()}", LATENT_CACHE),
    M("latent cache: an older cache accepts any autoencoder", "streamdit/training/latent_cache.py",
      "index.get(\"autoencoder_digest\") == weights_digest", "index.get(\"autoencoder_digest\") != weights_digest",
      LATENT_CACHE),
    M("objective: the foreground weight on the noisier frames", "streamdit/training/objectives.py",
      "weighted * (t <= max_t)", "weighted * (t >= max_t)", LATENT_CACHE + ("tests/streamdit/training/test_training.py",
                                                                          "-k", "weighted")),
    M("trainer: EMA decay 1 - d", "streamdit/training/trainer.py",
      "decay=config.ema_decay, foreach=True", "decay=1 - config.ema_decay, foreach=True", TRAINER),
    M("trainer: warm-up of cooldown_steps", "streamdit/training/trainer.py",
      "return get_constant_schedule_with_warmup(optimizer, self.warmup_steps)",
      "return get_constant_schedule_with_warmup(optimizer, self.cooldown_steps)", TRAINER),
    M("trainer: warm-up and cooldown swapped in the WSD schedule", "streamdit/training/trainer.py",
      "return get_wsd_schedule(optimizer, self.warmup_steps, self.cooldown_steps,",
      "return get_wsd_schedule(optimizer, self.cooldown_steps, self.warmup_steps,", TRAINER),
    M("trainer: the final model holds the raw weights", "streamdit/training/trainer.py",
      "self.ema.copy_to(model.parameters())", "model = model", TRAINER),
    M("trainer: one checkpoint too many kept", "streamdit/training/trainer.py",
      "for old in checkpoints(self.out_dir)[:-self.config.keep_checkpoints]:",
      "for old in checkpoints(self.out_dir)[:-self.config.keep_checkpoints - 1]:", TRAINER),
    M("trainer: the whole buffer is never one chunk", "streamdit/training/trainer.py",
      "[c for c in range(1, mc.buffer_frames + 1) if mc.buffer_frames % c == 0]",
      "[c for c in range(1, mc.buffer_frames) if mc.buffer_frames % c == 0]", TRAINER),
    M("trainer: the text never dropped", "streamdit/training/trainer.py",
      "text = drop_text(text, self.null_text, self.config.cond_dropout)", "text = text", TRAINER),
    M("trainer: the last step not logged", "streamdit/training/trainer.py",
      "if self.step % cfg.log_every == 0 or self.step == cfg.steps:",
      "if self.step % cfg.log_every == 0:", TRAINER),
    # -- eval preprocessing and downloads -----------------------------------------------------------
    M("CLIP: frames squashed to a square", "eval/clip.py",
      "x = TF.resize(x, [self.size], interpolation", "x = TF.resize(x, [self.size, self.size], interpolation", CLIP_PRE),
    M("CLIP: bilinear resize", "eval/clip.py",
      "interpolation=TF.InterpolationMode.BICUBIC", "interpolation=TF.InterpolationMode.BILINEAR", CLIP_PRE),
    M("CLIP: no antialiasing", "eval/clip.py",
      "interpolation=TF.InterpolationMode.BICUBIC, antialias=True)",
      "interpolation=TF.InterpolationMode.BICUBIC, antialias=False)", CLIP_PRE),
    M("CLIP: normalised with ImageNet's mean and std", "eval/clip.py",
      "return TF.normalize(x.float() / 255.0, self.mean, self.std)",
      "return TF.normalize(x.float() / 255.0, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])", CLIP_PRE),
    M("DINO: frames squashed to a square", "eval/dino.py",
      "x = TF.resize(frames.permute(0, 3, 1, 2), [self.size], antialias=False)",
      "x = TF.resize(frames.permute(0, 3, 1, 2), [self.size, self.size], antialias=False)", CLIP_PRE),
    M("DINO: antialiased resize", "eval/dino.py",
      "x = TF.resize(frames.permute(0, 3, 1, 2), [self.size], antialias=False)",
      "x = TF.resize(frames.permute(0, 3, 1, 2), [self.size], antialias=True)", CLIP_PRE),
    M("download: a 200 answer to a range request appended", "eval/download.py",
      "resumed = offset > 0 and response.status == 206", "resumed = offset > 0", DOWNLOAD),
    M("download: range starts one byte late", "eval/download.py",
      "headers={\"Range\": f\"bytes={offset}-\"}", "headers={\"Range\": f\"bytes={offset + 1}-\"}", DOWNLOAD),
    M("download: a wrong file kept", "eval/download.py", "        part.unlink()\n", "", DOWNLOAD),
    M("download: an upper-case pinned digest never matches", "eval/download.py",
      "not digest.startswith(sha256.lower())", "not digest.startswith(sha256)", DOWNLOAD),
    # -- motion head --------------------------------------------------------------------------------
    M("motion: frames warped about the group's first frame", "streamdit/autoencoders/video_autoencoder.py",
      "offsets = torch.arange(frames, dtype=keyframes.dtype, device=keyframes.device) - (frames - 1) / 2 + start",
      "offsets = torch.arange(frames, dtype=keyframes.dtype, device=keyframes.device) + start", MOTION),
    M("motion: velocity applied forward in a backward warp", "streamdit/autoencoders/video_autoencoder.py",
      "grid = base - offsets.view(1, frames, 1, 1, 1) * per_frame[:, None]",
      "grid = base + offsets.view(1, frames, 1, 1, 1) * per_frame[:, None]", MOTION),
    M("motion: x and y scales swapped", "streamdit/autoencoders/video_autoencoder.py",
      "torch.tensor([2 / w, 2 / h], dtype=keyframes.dtype,", "torch.tensor([2 / h, 2 / w], dtype=keyframes.dtype,", MOTION),
    M("motion: keyframe is the group's first frame", "streamdit/autoencoders/video_autoencoder.py",
      "keyframes = x.mean(dim=2)", "keyframes = x[:, :, 0]", MOTION),
    M("motion: the fade weights one frame late", "streamdit/autoencoders/video_autoencoder.py",
      "weight = (g - 1 - torch.arange(g, dtype=x.dtype, device=x.device)).view(1, 1, g, 1, 1) / g",
      "weight = (g - torch.arange(g, dtype=x.dtype, device=x.device)).view(1, 1, g, 1, 1) / g", MOTION),
    M("motion: the stream carries the chunk's own latents only", "streamdit/autoencoders/video_autoencoder.py",
      "state = MotionState(padded[:, :, -k:].detach(),", "state = MotionState(z[:, :, -k:].detach(),", MOTION),
    M("motion: a video starts after zero latents", "streamdit/autoencoders/video_autoencoder.py",
      "past = z[:, :, :1].expand(-1, -1, self.config.context_latents, -1, -1)",
      "past = torch.zeros_like(z[:, :, :1]).expand(-1, -1, self.config.context_latents, -1, -1)", MOTION),
    M("motion: the carried keyframe not moved on", "streamdit/autoencoders/video_autoencoder.py",
      "torch.cat([before[1], velocity[:, :-1]], dim=1).flatten(0, 1), g, start=g)",
      "torch.cat([before[1], velocity[:, :-1]], dim=1).flatten(0, 1), g, start=0)", MOTION),
    M("motion: the first group not scored in the head's training", "streamdit/training/autoencoder.py",
      "        loss = reconstruction_loss(recon, video, foreground_weight)\n",
      "        if parts == \"head\":\n            recon, video = recon[:, :, 4:], video[:, :, 4:]\n"
      "        loss = reconstruction_loss(recon, video, foreground_weight)\n", MOTION),
    M("autoencoder: --train all trains the head alone", "streamdit/training/autoencoder.py",
      '"all" if args.motion_from is None else args.train or "head",', '"all" if args.motion_from is None else "head",',
      MOTION),
    M("autoencoder: the decoder's fine-tune moves the encoder", "streamdit/training/autoencoder.py",
      '"decoder": [ae.decoder, ae.motion]', '"decoder": [ae.encoder, ae.decoder, ae.motion]', MOTION),
    M("autoencoder: stage blocks only in the encoder", "streamdit/autoencoders/video_autoencoder.py",
      "            dec += [ResBlock(w[i]) for _ in range(cfg.stage_blocks)]\n", "", MOTION),
    M("text: a saved pipeline's token limit not used", "streamdit/inference/pipeline.py",
      "layers=config.text_layers,\n                                                  max_tokens=config.text_max_tokens)",
      "layers=config.text_layers)", TEXT_LIMIT),
    M("text: world v2 trained with 32 tokens", "streamdit/training/cli.py",
      '(64 if world == "v2" else 32)', "32", TEXT_LIMIT),
    M("text: the ignored tail starts a token late", "streamdit/models/text.py",
      "ids[self.max_tokens - 1:]", "ids[self.max_tokens:]", TEXT_LIMIT),
    # -- stream batch -------------------------------------------------------------------------------
    M("stream batch: the unconditional rows get the prompt", "streamdit/inference/stream_batch.py",
      "rows.append(per_sample(r.null, n))", "rows.append(per_sample(r.text, n))", BATCH),
    M("stream batch: guidance interval ignored", "streamdit/inference/stream_batch.py",
      "cond = apply_guidance(cond, uncond, r.guidance, r.t, r.min_t)",
      "cond = apply_guidance(cond, uncond, r.guidance, r.t, 0.0)", BATCH),
    M("stream batch: padding tokens not masked", "streamdit/inference/stream_batch.py",
      "F.pad(embedding.mask, (0, extra), value=False)", "F.pad(embedding.mask, (0, extra), value=True)", BATCH),
    M("stream batch: one request per forward", "streamdit/inference/stream_batch.py",
      "batch = self._pending[:self.max_requests]", "batch = self._pending[:1]", BATCH),
    M("stream batch: guidance 0 still guided", "streamdit/inference/stream_batch.py",
      "return bool(self.guidance) and self.null is not None", "return self.null is not None", BATCH),
    M("stream batch: requests counted per forward", "streamdit/inference/stream_batch.py",
      "self.requests += len(group)", "self.requests += 1", BATCH),
    # -- demo: live route and waiting line ----------------------------------------------------------
    M("live: header big-endian", "demo/live.py", "HEADER = struct.Struct(\"<IIII\")", "HEADER = struct.Struct(\">IIII\")",
      LIVE),
    M("live: a token prefix accepted", "demo/live.py", "if not TOKEN.fullmatch(token or \"\"):",
      "if not TOKEN.match(token or \"\"):", LIVE),
    M("live: a late report moves the played frame back", "demo/live.py",
      "self.played = max(self.played, index)", "self.played = index", LIVE),
    M("live: first play time overwritten by every report", "demo/live.py",
      "self.first_played_at = self.first_played_at or time.monotonic()", "self.first_played_at = time.monotonic()", LIVE),
    M("live: the hub drops a channel still in use", "demo/live.py", "if users <= 1:", "if users <= 2:", LIVE),
    M("live: played report for an unknown stream accepted", "demo/live.py",
      "        if channel is None:\n            return PlainTextResponse(\"no such stream\", status_code=404)\n",
      "        if channel is None:\n            return Response(status_code=204)\n", LIVE),
    M("live: a bad token opens a channel", "demo/live.py",
      "return PlainTextResponse(str(exc), status_code=400)", "token = request.path_params[\"token\"]", LIVE),
    M("generate: a ticket another generate took plays again", "demo/handlers.py",
      "if (waited is not None and waited.cancelled) or (ticket is not None and waited is None):",
      "if waited is not None and waited.cancelled:", ("tests/demo/test_metrics.py", "-k", "two_starts")),
    M("session: a replaced Start's run still begins", "demo/session.py",
      "if ticket is not None and ticket < self._newest_ticket:", "if ticket is not None and ticket < 0:",
      ("tests/demo/test_session_models.py",)),
    M("waiting: overrun streams count negative time", "demo/waiting.py",
      "frees = [max(0.0, end - now) for end in self._running.values()]",
      "frees = [end - now for end in self._running.values()]", WAITING),
    M("waiting: slots not sorted by when they free", "demo/waiting.py", "            frees.sort()\n", "", WAITING),
    M("waiting: cancelled tickets counted as waiting", "demo/waiting.py",
      "return sum(not t.cancelled for t in self._tickets.values())", "return len(self._tickets)", WAITING),
    M("waiting: cancel counts tickets cancelled before", "demo/waiting.py",
      "waiting = [t for t in self._tickets.values() if t.session == session and not t.cancelled]",
      "waiting = [t for t in self._tickets.values() if t.session == session]", WAITING),
    M("waiting: place counted from 0", "demo/waiting.py",
      "return Place(ids.index(ticket) + 1, len(ids),", "return Place(ids.index(ticket), len(ids),", WAITING),
    M("waiting: a second Start keeps the first ticket", "demo/waiting.py",
      "                    earlier.cancelled = True\n", "                    pass\n", WAITING),
    M("waiting: the cap counts visitors who get a free slot", "demo/waiting.py",
      "len(ids) - free >= self.max_waiting", "len(ids) >= self.max_waiting", WAITING),
    M("metrics: refused starts not counted", "demo/handlers.py",
      'self.metrics.starts_refused.labels(reason="line full").inc()', 'self.metrics.starts_refused.labels(reason="line full")',
      METRICS),
    M("metrics: the playing gauge reads the waiting line", "demo/handlers.py",
      "self.metrics.watch(store.streaming, self.line.waiting,", "self.metrics.watch(self.line.waiting, self.line.waiting,",
      METRICS),
    # -- rating server ------------------------------------------------------------------------------
    M("rating server: a vote on another annotator's item", "human_eval/server.py",
      "        a = assigner.by_id.get(item_id)\n        if a is None or a.annotator_id != annotator.id:\n"
      "            return _error(404, \"unknown item_id for this token\")\n        if a.id in skipped:",
      "        a = assigner.by_id.get(item_id)\n        if a is None:\n"
      "            return _error(404, \"unknown item_id for this token\")\n        if a.id in skipped:", HE_SERVER),
    M("rating server: media of another annotator's item", "human_eval/server.py",
      "if a is None or a.annotator_id != annotator.id or side not in SIDES:", "if a is None or side not in SIDES:",
      HE_SERVER),
    M("rating server: any admin cookie accepted", "human_eval/server.py",
      "if session and sessions.get(session, 0) > time.time():", "if session:", HE_SERVER),
    M("rating server: cross-origin admin login", "human_eval/server.py",
      "return origin is None or origin == f\"{request.url.scheme}://{request.url.netloc}\"", "return True", HE_SERVER),
    M("rating server: a skip of another annotator's item", "human_eval/server.py",
      "        a = assigner.by_id.get(item_id)\n        if a is None or a.annotator_id != annotator.id:\n"
      "            return _error(404, \"unknown item_id for this token\")\n        result = await write(store.add_skip",
      "        a = assigner.by_id.get(item_id)\n        if a is None:\n"
      "            return _error(404, \"unknown item_id for this token\")\n        result = await write(store.add_skip",
      HE_SERVER),
    M("rating server: the watch check against the other side's length", "human_eval/server.py",
      "video = pair.video_b if (side == SIDES[0]) == a.swapped else pair.video_a\n        info",
      "video = pair.video_a if (side == SIDES[0]) == a.swapped else pair.video_b\n        info", HE_SERVER),
    M("rating server: body size checked only by its header", "human_eval/server.py",
      "        if size > limit:\n            return None\n", "", HE_SERVER),
    M("rating server: a partial vote accepted", "human_eval/server.py",
      "missing = [q for q in questions if q not in answers]", "missing = []", HE_SERVER),
]


def copy_repo(dest: Path) -> None:
    """The tracked and untracked, not ignored, files of the checkout (as they are now) under ``dest``."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                            capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


def run_tests(copy: Path, tests: tuple[str, ...], timeout: float, show: bool) -> tuple[bool, float]:
    """(passed, seconds) of ``pytest -x`` on ``tests`` in the copy; a timeout counts as a failure."""
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=--import-mode=importlib",
               "--timeout", str(int(timeout)), *tests]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=copy, env=env, capture_output=not show, timeout=timeout + 60)
        passed = done.returncode == 0
    except subprocess.TimeoutExpired:
        passed = False
    return passed, time.perf_counter() - started


def apply(copy: Path, mutant: Mutant) -> str:
    """Plant ``mutant`` in the copy; returns the original text of the file."""
    path = copy / mutant.file
    text = path.read_text()
    if text.count(mutant.old) != 1:
        raise SystemExit(f"mutant {mutant.name!r}: {mutant.old!r} occurs {text.count(mutant.old)} times in "
                         f"{mutant.file}, not once (the list is stale)")
    path.write_text(text.replace(mutant.old, mutant.new))
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="mutants whose file or name contains this text")
    parser.add_argument("--show", help="run the one mutant of this name (or name fragment) with pytest's output")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per test run (a timeout counts as caught)")
    args = parser.parse_args(argv)
    mutants = MUTANTS
    if args.only:
        mutants = [m for m in mutants if args.only in m.file or args.only in m.name]
    if args.show:
        mutants = [m for m in mutants if args.show in m.name][:1]
    if args.list:
        for m in mutants:
            print(f"{m.file}: {m.name}")
        return 0
    if not mutants:
        raise SystemExit("no mutant matches")
    with tempfile.TemporaryDirectory(prefix="streamdit-mutate-") as tmp:
        copy = Path(tmp)
        copy_repo(copy)
        for m in mutants:  # every old text is there once, before any time is spent
            (copy / m.file).write_text(apply(copy, m))
        for tests in dict.fromkeys(m.tests for m in mutants):
            passed, seconds = run_tests(copy, tests, args.timeout, show=False)
            print(f"baseline {' '.join(tests)}: {'passes' if passed else 'FAILS'} ({seconds:.0f} s)", flush=True)
            if not passed:
                raise SystemExit("a test group fails without any mutant: fix that first")
        survivors = []
        for i, m in enumerate(mutants, 1):
            original = apply(copy, m)
            try:
                passed, seconds = run_tests(copy, m.tests, args.timeout, show=bool(args.show))
            finally:
                (copy / m.file).write_text(original)
            print(f"[{i}/{len(mutants)}] {'SURVIVED' if passed else 'caught  '} {m.file}: {m.name} ({seconds:.0f} s)",
                  flush=True)
            if passed:
                survivors.append(m)
    caught = len(mutants) - len(survivors)
    print(f"\n{caught} of {len(mutants)} mutants caught ({100 * caught / len(mutants):.0f}%)")
    for m in survivors:
        print(f"  survived: {m.file}: {m.name}\n    {m.old!r} -> {m.new!r}")
        if m.equivalent:
            print(f"    equivalent: {m.equivalent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
