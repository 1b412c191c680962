"""FSDP2 for training: shard a model block by block and save/load sharded training state.

accelerate's FSDP integration only runs on GPUs; torch's ``fully_shard`` also runs on CPU over gloo, so
the trainer applies it directly and the same code is tested on CPU and used on GPUs (nccl). Each rank
holds 1/N of every parameter, gradient, optimizer moment and EMA weight; a block's parameters are
all-gathered just before it runs and freed after. Checkpoints are written with
``torch.distributed.checkpoint``: every rank writes its own shard (``__<rank>_0.distcp``). (That format
can be loaded by another number of ranks; the trainer's resume also reads accelerate's per-rank RNG
state, so it resumes with the same number.)
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from diffusers.training_utils import EMAModel
from torch import nn
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor

SHARDED_STATE = "sharded"  # folder inside a checkpoint: model, optimizer and EMA shards


def full_tensor(t: torch.Tensor) -> torch.Tensor:
    """``t`` itself, or the whole tensor gathered from the ranks if it is a shard (a collective)."""
    return t.full_tensor() if isinstance(t, DTensor) else t


def empty_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with its parameters on the meta device (no memory) and real buffers, to load
    gathered weights into with ``load_state_dict(..., assign=True)``."""
    memo = {id(p): nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
            for p in model.parameters()}
    return copy.deepcopy(model, memo)  # deepcopy takes memo entries as already copied


def shard_model(model: nn.Module, device: torch.device, mixed_precision: str = "no") -> nn.Module:
    """Apply FSDP2 in place: one unit per block (classes named in ``model._no_split_modules``), then the
    rest at the root. ``mixed_precision="bf16"`` computes in bf16 with fp32 weights and gradient reduction."""
    if not dist.is_initialized():
        raise RuntimeError("FSDP needs a process group: launch with torchrun (any number of processes)")
    block_names = set(getattr(model, "_no_split_modules", ()))
    blocks = [m for m in model.modules() if type(m).__name__ in block_names]
    if not blocks:
        raise ValueError(f"{type(model).__name__} names no blocks to shard (_no_split_modules)")
    mesh = init_device_mesh(device.type, (dist.get_world_size(),))
    policy = (MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
              if mixed_precision == "bf16" else MixedPrecisionPolicy())
    for block in blocks:
        fully_shard(block, mesh=mesh, mp_policy=policy)
    fully_shard(model, mesh=mesh, mp_policy=policy)
    return model


def save_sharded(directory: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, ema: EMAModel) -> None:
    """Every rank writes its shards of the model, optimizer state and EMA weights (a collective)."""
    model_state, optimizer_state = get_state_dict(model, optimizer)
    dcp.save({"model": model_state, "optimizer": optimizer_state, "ema": ema.state_dict()},
             checkpoint_id=Path(directory))


def load_sharded(directory: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer, ema: EMAModel) -> None:
    """Load what :func:`save_sharded` wrote into the sharded model, optimizer and EMA (a collective)."""
    model_state, optimizer_state = get_state_dict(model, optimizer)
    state = {"model": model_state, "optimizer": optimizer_state, "ema": ema.state_dict()}
    dcp.load(state, checkpoint_id=Path(directory))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optimizer"])
    ema.load_state_dict(state["ema"])
