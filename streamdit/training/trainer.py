"""The trainer: mixed-scheme flow-matching training of a StreamDiT (docs/architecture.md §2.3).

:class:`Trainer` runs on accelerate: one process, or many under ``torchrun`` (DDP; gloo on CPU, nccl
on GPU), or with ``fsdp`` FSDP2 (:mod:`streamdit.training.sharding`: parameters, gradients, optimizer and EMA state
sharded across ranks, one unit per transformer block, sharded checkpoints). Rank 0 writes
logs and the final EMA model; every rank draws its own data and noise.

Output directory::

    OUT/train_config.json            model and training configuration
    OUT/log.jsonl                    step, loss (mean over ranks), lr, grad norm, steps/s, peak CUDA memory
    OUT/checkpoints/step-000500/     accelerate state: model, optimizer, scheduler, EMA, step, RNG
                                     (FSDP: model, optimizer and EMA in sharded/, a .distcp file per rank)
    OUT/final/                       EMA weights (StreamDiT.save_pretrained)
    OUT/pipeline/                    a StreamDiTPipeline directory (EMA weights, autoencoder, pipeline.json)
    OUT/summary.json                 per-rank digests of the full weights and mean losses (sync check)
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from diffusers.optimization import get_constant_schedule_with_warmup
from diffusers.training_utils import EMAModel
from torch.utils.data import DataLoader, IterableDataset, default_collate, get_worker_info
from tqdm.auto import tqdm
from transformers import get_wsd_schedule

from streamdit.autoencoders.base import Autoencoder, video_to_tensor
from streamdit.inference.pipeline import check_compatible
from streamdit.inference.schedule import MixedSchemeSampler
from streamdit.models.dit import StreamDiT
from streamdit.models.text import TextEmbedding, TextEncoder
from streamdit.training.objectives import drop_text, flow_matching_loss, foreground_loss_weights
from streamdit.training.sharding import SHARDED_STATE, empty_copy, full_tensor, load_sharded, save_sharded, shard_model

Sample = tuple[np.ndarray | torch.Tensor, str]  # uint8 video (T, H, W, 3), or its latents (C, T, h, w), and its caption
CHECKPOINT_PREFIX = "step-"
PARTIAL_PREFIX = "partial-"  # a checkpoint being written (renamed to step-XXXXXX when complete)


def option(default: object, group: str, help: str, choices: tuple[str, ...] | None = None) -> object:
    """A config field that is also a command-line option (``--field-name``) in ``group``, with ``help``."""
    return field(default=default, metadata={"group": group, "help": help, "choices": choices})


@dataclass
class TrainConfig:
    """Optimisation and objective settings. ``batch_size`` is per process; ``chunk_sizes=None`` mixes
    every chunk size that divides the buffer (the paper mixes 1, 2, 4, 8, 16 for B = 16)."""

    steps: int = option(10_000, "optimisation", "optimiser steps in all")
    batch_size: int = option(8, "optimisation", "samples per process and step")
    lr: float = option(1e-4, "optimisation", "peak learning rate (AdamW)")
    weight_decay: float = option(0.0, "optimisation", "AdamW weight decay (DiT trains with none)")
    betas: tuple[float, float] = option((0.9, 0.999), "optimisation", "AdamW betas, e.g. 0.9,0.999")
    warmup_steps: int = option(500, "optimisation", "linear learning-rate warmup")
    cooldown_steps: int = option(0, "optimisation", "linear learning-rate decay to 0 over the last N steps "
                                 "(warmup-stable-decay; 0: constant after warmup); a resumed run may add or move it")
    max_grad_norm: float = option(1.0, "optimisation", "gradient clipping")
    ema_decay: float = option(0.9999, "optimisation", "EMA decay (upper bound; diffusers' EMAModel ramps it up "
                              "as (1 + n) / (10 + n))")
    mixed_precision: str = option("no", "optimisation", "bf16 autocast, or no", choices=("no", "bf16"))
    gradient_checkpointing: bool = option(False, "optimisation", "recompute each block's activations in the "
                                          "backward pass (less memory, about 30%% more compute)")
    fsdp: bool = option(False, "optimisation", "FSDP2 under torchrun: shard parameters, gradients, optimizer and "
                        "EMA state across processes, one unit per transformer block; sharded checkpoints")
    compile: bool = option(False, "optimisation", "torch.compile the model in place (checkpoints and weights keep "
                           "their names); the first steps wait for the compilation. Not with --fsdp")
    chunk_sizes: tuple[int, ...] | None = option(None, "objective", "chunk sizes to mix, e.g. 1,2,4,8 "
                                                 "(default: every divisor of the buffer)")
    chunk_weights: tuple[float, ...] | None = option(None, "objective", "their sampling weights (default: equal)")
    shift: float = option(1.0, "objective", "time shift of the training noise levels (as the sampler's)")
    cond_dropout: float = option(0.1, "objective", "probability of the empty prompt (for guidance)")
    foreground_weight: float = option(1.0, "objective", "loss weight of the latent pixels that hold an object "
                                      "(needs a latent cache with foreground flags, as `encode-latents` makes for "
                                      "the synthetic worlds); 1: plain flow matching")
    foreground_max_t: float = option(1.0, "objective", "the highest noise level (per frame) at which the foreground "
                                     "weight applies; below 1, the frames noisier than this are learned unweighted, "
                                     "so where objects go is not tilted towards more of them")
    checkpoint_every: int = option(1000, "checkpoints and logging", "steps between checkpoints")
    keep_checkpoints: int = option(3, "checkpoints and logging", "checkpoints kept (the oldest are pruned)")
    seed: int = option(0, "optimisation", "random seed (data, noise, initial weights)")
    log_every: int = option(10, "checkpoints and logging", "steps between log.jsonl records")
    num_workers: int = option(2, "checkpoints and logging", "data loading processes per rank")

    def __post_init__(self) -> None:
        if self.mixed_precision not in ("no", "bf16"):
            raise ValueError(f"mixed_precision must be 'no' or 'bf16', got {self.mixed_precision!r}")
        if self.foreground_weight <= 0:
            raise ValueError(f"foreground_weight must be > 0, got {self.foreground_weight}")
        if not 0.0 < self.foreground_max_t <= 1.0:
            raise ValueError(f"foreground_max_t must be in (0, 1], got {self.foreground_max_t}")
        if self.compile and self.fsdp:
            raise ValueError("compile and fsdp cannot be combined: compiling sharded forward passes is not supported")
        if not 0.0 <= self.cond_dropout <= 1.0:
            raise ValueError(f"cond_dropout must be in [0, 1], got {self.cond_dropout}")
        for name in ("steps", "batch_size", "checkpoint_every", "keep_checkpoints", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        longest_cooldown = max(self.steps - self.warmup_steps, 0)
        if not 0 <= self.cooldown_steps <= longest_cooldown:
            raise ValueError(f"cooldown_steps must be in [0, steps - warmup_steps] = [0, {longest_cooldown}], "
                             f"got {self.cooldown_steps}")

    def lr_scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
        """Linear warmup, then constant, then (if ``cooldown_steps``) a linear decay to zero at ``steps``."""
        if not self.cooldown_steps:
            return get_constant_schedule_with_warmup(optimizer, self.warmup_steps)
        return get_wsd_schedule(optimizer, self.warmup_steps, self.cooldown_steps, num_training_steps=self.steps,
                                decay_type="linear")


def make_accelerator(config: TrainConfig, cpu: bool = False) -> Accelerator:
    """The one place the Accelerator is built: DDP under torchrun (FSDP is applied by the Trainer)."""
    return Accelerator(mixed_precision=config.mixed_precision, cpu=cpu)


class _SeededStream(IterableDataset):
    """``fn(seed)`` as a dataset; each DataLoader worker gets its own seed."""

    def __init__(self, fn: Callable[[int], Iterable[Sample]], seed: int) -> None:
        self.fn, self.seed = fn, seed

    def __iter__(self) -> Iterator[Sample]:
        info = get_worker_info()
        seed = self.seed if info is None else np.random.SeedSequence([self.seed, info.id]).generate_state(1)[0]
        return iter(self.fn(int(seed)))


@dataclass
class _Progress:
    """Checkpointed training position (registered with the accelerator next to scheduler and EMA)."""

    step: int = 0

    def state_dict(self) -> dict:
        return {"step": self.step}

    def load_state_dict(self, state: dict) -> None:
        self.step = int(state["step"])


def weights_digest(model: torch.nn.Module) -> int:
    """A 63-bit hash of a model's full parameters (bit-exact comparison across ranks; FSDP shards are
    gathered, so every rank must call it)."""
    return state_digest({name: full_tensor(p.detach()) for name, p in model.state_dict().items()})


def state_digest(state: dict[str, torch.Tensor]) -> int:
    """A 63-bit hash of named tensors' names and float32 values."""
    h = hashlib.sha256()
    for name, p in sorted(state.items()):
        h.update(name.encode())
        h.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return int.from_bytes(h.digest()[:8], "little") >> 1


def checkpoints(out_dir: str | Path) -> list[Path]:
    """Checkpoint directories under ``OUT/checkpoints``, oldest step first."""
    found = (Path(out_dir) / "checkpoints").glob(f"{CHECKPOINT_PREFIX}*")
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX):]))


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The checkpoint directory with the highest step, if any."""
    found = checkpoints(out_dir)
    return found[-1] if found else None


class Trainer:
    """Mixed-scheme flow-matching training with AdamW, warmup, EMA, clipping, checkpoints and resume.

    ``data``: an iterable of ``(uint8 video (T, H, W, 3), caption)`` with ``T = buffer_frames *
    temporal_compression`` and ``H, W`` the model's pixel size, or of ``(latents (C, T, h, w), caption)``
    already encoded by this autoencoder (:mod:`streamdit.training.latent_cache`); or a function ``seed -> iterable`` that
    the trainer calls with a seed depending on the rank and on the step it starts (or resumes) from, so
    ranks draw different data and a resumed run does not replay what it has seen (the function is then
    run in ``config.num_workers`` DataLoader workers, each with its own seed). The autoencoder and
    text encoder must accept inputs on ``accelerator.device``.
    """

    def __init__(self, model: StreamDiT, autoencoder: Autoencoder, text_encoder: TextEncoder,
                 data: Iterable[Sample] | Callable[[int], Iterable[Sample]], config: TrainConfig,
                 out_dir: str | Path, accelerator: Accelerator | None = None) -> None:
        mc = model.config
        check_compatible(mc, autoencoder, text_encoder)
        self.config, self.out_dir = config, Path(out_dir)
        self.accelerator = acc = accelerator or make_accelerator(config)
        self.autoencoder, self.text_encoder, self.data = autoencoder, text_encoder, data
        self.clip_shape = (mc.buffer_frames * autoencoder.temporal_compression,
                           mc.latent_height * autoencoder.spatial_compression,
                           mc.latent_width * autoencoder.spatial_compression, 3)
        self.latent_shape = (mc.in_channels, mc.buffer_frames, mc.latent_height, mc.latent_width)
        chunk_sizes = config.chunk_sizes or [c for c in range(1, mc.buffer_frames + 1) if mc.buffer_frames % c == 0]
        self.time_sampler = MixedSchemeSampler(mc.buffer_frames, chunk_sizes, config.chunk_weights, config.shift)

        model = model.to(acc.device).train()
        if config.gradient_checkpointing:
            model.enable_gradient_checkpointing()
        if config.compile:
            model.compile()  # nn.Module.compile: in place, so state-dict names (checkpoints, EMA) are unchanged
        self.sharded = config.fsdp
        if self.sharded:
            self._template = empty_copy(model)  # what the gathered EMA weights are loaded into
            model = shard_model(model, acc.device, config.mixed_precision)
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=tuple(config.betas),
                                      weight_decay=config.weight_decay)
        self.scheduler = config.lr_scheduler(optimizer)
        # FSDP already synchronises gradients and casts to bf16: accelerate must not add DDP or autocast
        self.model, self.optimizer = (model, optimizer) if self.sharded else acc.prepare(model, optimizer)
        # after DDP's broadcast; under FSDP each rank keeps the EMA of its own shard
        self.ema = EMAModel(self.unwrapped.parameters(), decay=config.ema_decay, foreach=True)
        self.progress = _Progress()
        # accelerate saves registered objects from rank 0 only: sharded state goes through save_sharded
        acc.register_for_checkpointing(self.scheduler, self.progress, *(() if self.sharded else (self.ema,)))
        self.null_text = text_encoder.encode([""]).to(acc.device)
        set_seed(config.seed, device_specific=True)  # every rank draws its own noise, times and dropout

    @property
    def unwrapped(self) -> StreamDiT:
        return self.accelerator.unwrap_model(self.model)

    @property
    def step(self) -> int:
        return self.progress.step

    # -- one step ------------------------------------------------------------------------------------

    def compute_loss(self, latents: torch.Tensor, text: TextEmbedding,
                     foreground: torch.Tensor | None = None) -> torch.Tensor:
        """The objective on clean latents and their captions: mixed-scheme flow matching with text dropout,
        object-weighted (``config.foreground_weight``) where ``foreground`` flags are given."""
        text = drop_text(text, self.null_text, self.config.cond_dropout)
        _, t = self.time_sampler.sample(latents.shape[0])
        factor = self.config.foreground_weight
        t = t.to(latents.device)
        weight = None if factor == 1 else \
            foreground_loss_weights(foreground.to(latents.device), factor, t, self.config.foreground_max_t)
        return flow_matching_loss(self.model, latents, text, t, weight=weight)

    def train_step(self, videos: torch.Tensor, captions: Sequence[str],
                   foreground: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimiser step on uint8 videos ``(N, T, H, W, 3)``, or on their latents ``(N, C, T, h, w)`` from a
        latent cache (with its foreground flags ``(N, 1, T, h, w)`` if it has them); returns ``(loss, grad_norm)``."""
        acc, cfg = self.accelerator, self.config
        # the frozen encoder in bf16 too under --mixed-precision bf16 (as diffusers' training scripts cast their
        # VAE): at 256x256 it costs as much as the DiT's step in fp32 on a CPU
        with torch.no_grad(), torch.autocast(acc.device.type, torch.bfloat16, enabled=cfg.mixed_precision == "bf16"):
            if videos.dtype == torch.uint8:
                latents = self.autoencoder.encode(video_to_tensor(videos.to(acc.device)))
            else:
                latents = videos.to(acc.device)
            latents = latents.float().contiguous()  # randn_like keeps strides: the noise must not depend on them
            text = self.text_encoder.encode(list(captions)).to(acc.device)
        loss = self.compute_loss(latents, text, foreground)
        acc.backward(loss)
        grad_norm = full_tensor(acc.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm))
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.ema.step(self.unwrapped.parameters())
        self.progress.step += 1
        return loss.detach(), grad_norm

    # -- the loop ------------------------------------------------------------------------------------

    def train(self, resume: bool = False) -> StreamDiT | None:
        """Train up to ``config.steps`` (continuing from the latest checkpoint if ``resume``); returns the
        EMA model, also written to ``OUT/final`` (under FSDP on rank 0 only, None on the others)."""
        acc, cfg = self.accelerator, self.config
        self._prepare_out_dir(resume)
        batches = self._batches()
        bar = tqdm(total=cfg.steps, initial=self.step, desc="training", dynamic_ncols=True,
                   disable=not acc.is_main_process)
        loss_sum, start, start_step = 0.0, time.perf_counter(), self.step
        while self.step < cfg.steps:
            loss, grad_norm = self.train_step(*next(batches))
            loss_sum += float(loss)
            bar.update(1)
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                record = {"step": self.step, "loss": acc.reduce(loss, "mean").item(),
                          "lr": self.scheduler.get_last_lr()[0], "grad_norm": float(grad_norm),
                          "steps_per_s": (self.step - start_step) / (time.perf_counter() - start)}
                if acc.device.type == "cuda":
                    record["peak_memory_gib"] = torch.cuda.max_memory_allocated(acc.device) / 2**30
                bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{record['lr']:.2e}")
                self._log(record)
            if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                self.save_checkpoint()
        bar.close()
        self._write_summary(loss_sum / max(self.step - start_step, 1))
        return self.save_final()

    def _batches(self) -> Iterator[tuple[torch.Tensor, list[str], torch.Tensor | None]]:
        cfg = self.config
        if callable(self.data):
            acc = self.accelerator
            seed = np.random.SeedSequence([cfg.seed, acc.process_index, self.step]).generate_state(1)[0]
            batches = iter(DataLoader(_SeededStream(self.data, int(seed)), batch_size=cfg.batch_size,
                                      num_workers=cfg.num_workers))
        else:
            samples = iter(self.data)
            batches = (default_collate(chunk) for chunk in iter(lambda: list(itertools.islice(samples, cfg.batch_size)), [])
                       if len(chunk) == cfg.batch_size)
        for videos, captions, *foreground in batches:
            foreground = foreground[0] if foreground else None
            if foreground is None and cfg.foreground_weight != 1:
                raise ValueError(f"foreground_weight {cfg.foreground_weight} needs foreground flags in the data: "
                                 "a latent cache made by `streamdit encode-latents` from a synthetic world")
            videos = torch.as_tensor(videos)
            is_video = videos.dtype == torch.uint8 and tuple(videos.shape[1:]) == self.clip_shape
            is_latent = videos.is_floating_point() and tuple(videos.shape[1:]) == self.latent_shape
            if not (is_video or is_latent):
                raise ValueError(f"expected uint8 videos of shape {self.clip_shape} (frames, height, width, 3) or "
                                 f"float latents of shape {self.latent_shape}, got {videos.dtype} {tuple(videos.shape[1:])}")
            yield videos, list(captions), foreground
        raise RuntimeError(f"the training data ran out after step {self.step}; give an endless stream")

    # -- files ---------------------------------------------------------------------------------------

    def _prepare_out_dir(self, resume: bool) -> None:
        acc = self.accelerator
        config_file = self.out_dir / "train_config.json"
        record = {"model": self.unwrapped.config.to_dict(), "train": asdict(self.config)}
        checkpoint = latest_checkpoint(self.out_dir)
        if checkpoint is not None and not resume:
            raise FileExistsError(f"{self.out_dir} already holds checkpoints; resume from them or choose a new directory")
        if checkpoint is not None:
            saved = json.loads(config_file.read_text())["model"] if config_file.is_file() else record["model"]
            if saved != json.loads(json.dumps(record["model"])):
                raise ValueError(f"the model in {config_file} differs from the one given; cannot resume {checkpoint}")
            acc.load_state(str(checkpoint))
            if self.sharded:
                load_sharded(checkpoint / SHARDED_STATE, self.model, self.optimizer, self.ema)
            self.ema.to(acc.device)
            acc.print(f"resumed from {checkpoint} at step {self.step}")
        if acc.is_main_process:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            config_file.write_text(json.dumps(record, indent=2) + "\n")
        acc.wait_for_everyone()

    def _log(self, record: dict) -> None:
        if self.accelerator.is_main_process:
            with (self.out_dir / "log.jsonl").open("a") as f:
                f.write(json.dumps(record) + "\n")

    def save_checkpoint(self) -> Path:
        """Save the full training state to ``OUT/checkpoints/step-XXXXXX`` and prune old checkpoints."""
        acc = self.accelerator
        path = self.out_dir / "checkpoints" / f"{CHECKPOINT_PREFIX}{self.step:06d}"
        # written under another name and renamed once complete: a run killed while saving (a session's end)
        # leaves a partial folder that resuming ignores, not a broken latest checkpoint
        partial = path.with_name(f"{PARTIAL_PREFIX}{path.name}")
        if acc.is_main_process and partial.exists():
            shutil.rmtree(partial)
        acc.wait_for_everyone()
        acc.save_state(str(partial))
        if self.sharded:
            save_sharded(partial / SHARDED_STATE, self.model, self.optimizer, self.ema)
        acc.wait_for_everyone()
        if acc.is_main_process:
            partial.rename(path)  # no step-N yet: a resumed run goes on from the latest one, past it
            for old in checkpoints(self.out_dir)[:-self.config.keep_checkpoints]:
                shutil.rmtree(old)
        acc.wait_for_everyone()
        return path

    def ema_model(self) -> StreamDiT | None:
        """An unsharded copy of the model holding the EMA weights (under FSDP: on rank 0 only, on the
        CPU; the other ranks get None)."""
        if not self.sharded:
            model = copy.deepcopy(self.unwrapped)
            self.ema.copy_to(model.parameters())
            return model.eval()
        shadows = dict(zip((name for name, _ in self.model.named_parameters()), self.ema.shadow_params))
        main, state = self.accelerator.is_main_process, {}
        for name, value in self.model.state_dict().items():  # parameters (as their EMA) and buffers
            value = full_tensor(shadows.get(name, value))  # a collective: every rank gathers, rank 0 keeps
            if main:
                state[name] = value.cpu()
        if not main:
            return None
        model = copy.deepcopy(self._template)
        model.load_state_dict(state, assign=True)
        return model.cpu().eval()  # the buffers were still on the training device

    def save_final(self) -> StreamDiT | None:
        """Write the EMA weights to ``OUT/final`` (rank 0) and return them as a model (None on the other
        ranks under FSDP)."""
        model = self.ema_model()
        if self.accelerator.is_main_process:
            model.save_pretrained(self.out_dir / "final")
        self.accelerator.wait_for_everyone()
        return model

    def _write_summary(self, mean_loss: float) -> None:
        """Gather every rank's weight digest and mean loss: ranks must end with identical (full) weights."""
        acc = self.accelerator
        digest = torch.tensor([weights_digest(self.unwrapped)], dtype=torch.int64, device=acc.device)
        mean = torch.tensor([mean_loss], dtype=torch.float64, device=acc.device)
        digests, means = acc.gather(digest).tolist(), acc.gather(mean).tolist()
        if acc.is_main_process:
            summary = {"step": self.step, "world_size": acc.num_processes, "rank_weight_digests": digests,
                       "rank_mean_losses": means, "ranks_in_sync": len(set(digests)) == 1}
            (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            if not summary["ranks_in_sync"]:
                acc.print(f"warning: ranks ended with different weights {digests}")


